"""The time, as the app sees it (``create_app({"CLOCK": callable})`` lets tests move it), and how the API
writes it."""

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


def isoformat_z(moment: datetime) -> str:
    """The contract's timestamps: UTC, whole seconds, ``Z``.

    >>> isoformat_z(datetime(2026, 11, 21, 12, 10, 0, 123, tzinfo=UTC))
    '2026-11-21T12:10:00Z'
    """
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
