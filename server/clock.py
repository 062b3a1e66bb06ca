"""The time, as the app sees it: ``create_app({"CLOCK": callable})`` lets tests move it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import current_app

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def now() -> datetime:
    clock: Clock = current_app.extensions.get("ofda.clock", system_clock)
    return clock()
