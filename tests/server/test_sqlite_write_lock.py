"""SQLite has one write lock for the whole database: a widget session asked for while another connection
holds it waits its turn (tried again every few milliseconds at most, not after SQLite's own growing
waits), is stored once the lock is free, and nothing is written when it never comes free."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from server import storage
from server.models import WidgetSession
from server.storage import database
from tests.conftest import bearer
from tests.server.conftest import session_body

SESSIONS = "/v1/widget-sessions"


@pytest.fixture(autouse=True)
def _sqlite_only(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL locks rows, not the whole database")


@contextmanager
def write_lock_held(app: Flask, seconds: float) -> Iterator[None]:
    """A connection of its own (as another process's would) takes SQLite's write lock, and lets go of it
    ``seconds`` later."""
    path = database(app).engine.url.database
    assert path
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(seconds, lambda: other.execute("COMMIT"))
    release.start()
    try:
        yield
    finally:
        release.join()
        other.close()


def sessions_stored(app: Flask) -> int:
    with database(app).session() as db:
        return int(db.scalar(select(func.count()).select_from(WidgetSession)) or 0)


def test_a_session_asked_for_while_the_database_is_locked_is_stored_once_it_is_free(
    app_real: Flask, client_real: FlaskClient, minted: dict[str, str], belvo: responses.RequestsMock
) -> None:
    headers = bearer(app_real, "alice")
    assert client_real.post(SESSIONS, json=session_body(), headers=headers).status_code == 201

    started = time.monotonic()
    with write_lock_held(app_real, 0.3):
        response = client_real.post(SESSIONS, json=session_body(), headers=headers)
    waited = time.monotonic() - started

    assert response.status_code == 201, response.json
    assert waited >= 0.3  # it did wait for the lock, and got it
    assert sessions_stored(app_real) == 2
    assert client_real.get(f"{SESSIONS}/{response.json['id']}", headers=headers).json["status"] == "pending"


def test_a_write_that_never_gets_the_lock_fails_and_writes_nothing(
    app_real: Flask, client_real: FlaskClient, minted: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        client_real.post(SESSIONS, json=session_body(), headers=bearer(app_real, "alice")).status_code == 201
    )
    monkeypatch.setattr(storage, "SQLITE_BUSY_TIMEOUT", 0.1)
    with write_lock_held(app_real, 0.5), pytest.raises(OperationalError, match="locked"):
        storage.write(database(app_real).autocommit, WidgetSession.__table__.delete(), {})
    assert sessions_stored(app_real) == 1


def test_other_driver_errors_are_not_retried(app_real: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(storage.time, "sleep", pauses.append)

    with pytest.raises(OperationalError, match="no such table"):
        storage.write(database(app_real).autocommit, text("DELETE FROM no_such_table"), {})
    assert pauses == []
