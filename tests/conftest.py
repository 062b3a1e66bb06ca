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

# Environment variables that would point tests at real services or change their meaning.
_ISOLATED_ENV = (
    "BELVO_SECRET_ID", "BELVO_SECRET_PASSWORD", "BELVO_API_URL", "BELVO_WIDGET_URL", "BELVO_WEBHOOK_AUTH",
    "BELVO_WEBHOOK_AUTH_PREVIOUS", "DATABASE_URL", "APP_JWT_SECRET", "PUBLIC_BASE_URL", "CALLBACK_SCHEME",
    "CALLBACK_URL_SUCCESS", "CALLBACK_URL_EXIT", "CALLBACK_URL_EVENT", "QA_PAGE", "AUTO_MIGRATE",
    "TERMS_URL", "BRANDING_JSON", "THEME_JSON", "COLOR_SCHEME", "DEFAULT_CONSENT_DURATION_DAYS",
    "WIDGET_PURPOSE", "FETCH_RESOURCES", "STALE_IN", "DEFAULT_ACCESS_MODE", "WIDGET_SHOW_CLOSE_DIALOG",
    "WIDGET_SHOW_ABANDON_SURVEY", "BELVO_SCOPES", "BELVO_CONSENT_PERMISSIONS", "BELVO_CONNECT_TIMEOUT",
    "BELVO_READ_TIMEOUT", "BELVO_RETRY_SCHEDULE", "BELVO_DEADLINE_SECONDS", "SESSION_RATE_LIMIT_PER_MINUTE",
    "SESSION_RATE_LIMIT_PER_DAY", "SESSION_MAX_PENDING", "LOG_LEVEL", "IOS_APP_IDS", "ANDROID_PACKAGE",
    "ANDROID_CERT_SHA256", "APP_LINK_PATHS", "MAX_CONTENT_LENGTH", "BELVO_BREAKER_FAILURES",
    "BELVO_BREAKER_PAUSE_SECONDS", "SESSION_RATE_LIMIT_PER_IP_PER_MINUTE", "TRUSTED_PROXY_HOPS",
    "BELVO_BREAKER_PROBE_SECONDS", "PORTAL_URL", "DUPLICATE_LINKS", "APPLICATION_LINK", "EMULATOR_STATE_PATH",
    "RECONCILE_EVERY_SECONDS", "RECONCILE_AFTER_SECONDS",
)  # fmt: skip

# Browser and live-server fixtures, for every test package.
pytest_plugins = ("tests.browser",)

DATABASES = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ISOLATED_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=DATABASES)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL schema dropped afterwards.

    The emulator's state goes beside a SQLite file; with PostgreSQL, to the test's own directory (the
    default, the instance folder, would be shared by every test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    monkeypatch.setenv("EMULATOR_STATE_PATH", str(tmp_path / "emulator.sqlite3"))
    with postgres_schema(os.environ["TEST_DATABASE_URL"]) as url:
        yield url


def make_app(database_url: str, **config: Any) -> Flask:
    """An app in emulator mode (no Belvo credentials) with migrations applied; ``config`` overrides."""
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "AUTO_MIGRATE": True, **config})


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = make_app(database_url)
    yield app
    database(app).engine.dispose()


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
