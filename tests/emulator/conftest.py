"""Fixtures for the emulator's tests (browser and live-server fixtures: ``tests/browser.py``).

* ``clock``, ``emu_app``, ``emu``, ``emu_client``: an emulator app whose time the test moves, its
  :class:`~emulator.Emulator` (state, webhooks, faults) and a Flask test client;
  ``make_emu_app(**config)`` for other settings (request builders: ``tests/emulator/builders.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from emulator import Emulator, create_app, emulator_of
from tests.emulator.builders import HOOK, Receiver
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


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def hooked(make_emu_app: Callable[..., Flask], receiver: Receiver) -> Iterator[Callable[..., Flask]]:
    """Emulator apps that deliver webhooks to ``receiver`` with ``Authorization: Bearer hook-secret``."""
    session = requests.Session()
    session.mount(HOOK, receiver)

    def make(**config: Any) -> Flask:
        return make_emu_app(
            EMULATOR_WEBHOOK_URL=HOOK,
            EMULATOR_WEBHOOK_AUTH="Bearer hook-secret",
            EMULATOR_WEBHOOK_SESSION=session,
            **config,
        )

    yield make
    session.close()
