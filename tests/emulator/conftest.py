"""Fixtures for the emulator's tests (browser and live-server fixtures: ``tests/browser.py``).

* ``clock``, ``emu_app``, ``emu``, ``emu_client``: an emulator app whose time the test moves, its
  :class:`~emulator.Emulator` (state, webhooks, faults) and a Flask test client;
  ``make_emu_app(**config)`` for other settings (request builders: ``tests/emulator/builders.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from emulator import Emulator, create_app, emulator_of
from tests.support import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_emu_app(clock: Clock) -> Iterator[Callable[..., Flask]]:
    """Build emulator apps on ``clock`` with instant webhook retries; ``config`` overrides."""
    apps: list[Flask] = []

    def make(**config: Any) -> Flask:
        app = create_app({"EMULATOR_NOW": clock, "EMULATOR_WEBHOOK_RETRY_SCHEDULE": [0, 0], **config})
        apps.append(app)
        return app

    yield make
    for app in apps:
        emulator_of(app).webhooks.close()


@pytest.fixture
def emu_app(make_emu_app: Callable[..., Flask]) -> Flask:
    return make_emu_app()


@pytest.fixture
def emu(emu_app: Flask) -> Emulator:
    return emulator_of(emu_app)


@pytest.fixture
def emu_client(emu_app: Flask) -> FlaskClient:
    return emu_app.test_client()
