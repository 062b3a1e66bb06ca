"""Fixtures shared by every test package: the app on each database, its client and CLI runner.

Storage tests run on SQLite and, when ``TEST_DATABASE_URL`` names a PostgreSQL server, on PostgreSQL too:
each test gets its own schema there, so tests stay independent (and can run in parallel).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from server import create_app
from server.auth import mint_token
from server.settings import settings
from server.storage import database
from tests.support import postgres_schema

# Browser and live-server fixtures, for every test package.
pytest_plugins = ("tests.browser",)

DATABASES = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])

#: The emulator's state file for each PostgreSQL test database: the default, the instance folder, would
#: be shared by every test (beside a SQLite database the emulator's state is the test's own already).
_EMULATOR_STATES: dict[str, str] = {}


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL schema dropped afterwards (with the
    emulator's state in the test's own directory, see ``make_app``)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    with postgres_schema(os.environ["TEST_DATABASE_URL"]) as url:
        _EMULATOR_STATES[url] = str(tmp_path / "emulator.sqlite3")
        try:
            yield url
        finally:
            del _EMULATOR_STATES[url]


def make_app(database_url: str, **config: Any) -> Flask:
    """An app in emulator mode (no Belvo credentials) with migrations applied, whatever the environment
    the tests run in: ``config`` is all it is given."""
    state = (
        {"EMULATOR_STATE_PATH": _EMULATOR_STATES[database_url]} if database_url in _EMULATOR_STATES else {}
    )
    return create_app(
        {"TESTING": True, "DATABASE_URL": database_url, "AUTO_MIGRATE": True, **state, **config}, environ={}
    )


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = make_app(database_url)
    yield app
    database(app).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def bearer(app: Flask, user_id: str) -> dict[str, str]:
    """Headers authenticating ``user_id`` to ``app``."""
    token = mint_token(user_id, settings(app).app_jwt_secret, timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}
