"""SQLite has one write lock for the whole database: a widget session asked for while another connection
holds it waits its turn (tried again every few milliseconds at most, not after SQLite's own growing
waits), is stored once the lock is free, and nothing is written when it never comes free. A process's
writes go one after the other on one connection: those asked for while one waits for the lock queue
behind it instead of trying for the lock themselves, and each is committed or fails alone. Every wait for
the lock is a pause in Python: under gevent, a transaction waiting for it lets the one holding it (another
request of the worker) commit; a transaction whose snapshot went stale fails at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from server import storage
from server.models import AppUser, WidgetSession
from server.storage import database
from tests.conftest import bearer
from tests.server.conftest import session_body
from tests.support import NEW_USER, Callers, new_user

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


def test_writes_asked_for_while_one_waits_for_the_lock_follow_it_on_its_connection_each_alone(
    app: Flask,
) -> None:
    engine = database(app).autocommit
    storage.write(engine, NEW_USER, new_user("alice"))
    with write_lock_held(app, 0.6), Callers(engine) as callers:
        callers.start("bob", lambda: storage.write(engine, NEW_USER, new_user("bob")))
        time.sleep(0.2)  # bob's write waits for the lock: the others queue behind it
        callers.start("alice again", lambda: storage.write(engine, NEW_USER, new_user("alice")))
        callers.start("carol", lambda: storage.write(engine, NEW_USER, new_user("carol")))

    assert callers.results["bob"] == 1
    assert callers.results["carol"] == 1
    assert isinstance(callers.results["alice again"], IntegrityError)
    with database(app).session() as db:
        assert set(db.scalars(select(AppUser.user_id))) == {"alice", "bob", "carol"}
    assert callers.checkouts == 2  # bob's, then one connection for the two that queued


def test_a_write_queued_behind_another_gives_up_as_long_after_it_was_asked_for_as_alone(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "SQLITE_BUSY_TIMEOUT", 0.5)
    engine = database(app).autocommit
    waited: dict[str, float] = {}

    def write(owner: str) -> None:
        asked = time.monotonic()
        with pytest.raises(OperationalError, match="locked"):
            storage.write(engine, NEW_USER, new_user(owner))
        waited[owner] = time.monotonic() - asked

    with write_lock_held(app, 2.0):
        first = threading.Thread(target=write, args=("alice",))
        first.start()
        time.sleep(0.1)  # alice's write waits for the lock: bob's queues behind it
        write("bob")
        first.join()
    # Not 0.5 s more for alice's wait before it (bob's would then give up 0.9 s after it was asked for).
    assert waited["bob"] < 0.8, waited


def test_under_gevent_a_transaction_waiting_for_the_lock_lets_the_one_holding_it_commit(app: Flask) -> None:
    """In a gevent worker every request of the worker runs on one thread: a transaction that waits for the
    lock while another request of the worker holds it (waiting on Belvo, say, in its transaction) must let
    that one go on to its commit. SQLite's own busy handler waited in C, on that thread: for the whole
    timeout, then failed (run here with a timeout of 2 s)."""
    script = textwrap.dedent(
        """
        from gevent import monkey

        monkey.patch_all()
        import sys

        import gevent

        from server import storage
        from tests.support import NEW_USER, new_user

        storage.SQLITE_BUSY_TIMEOUT = 2.0
        database = storage.Database.at(sys.argv[1])

        def holding() -> None:
            with database.session() as db:
                db.execute(NEW_USER, new_user("ana"))  # takes the write lock
                gevent.sleep(0.3)  # waits on something else, its transaction open

        def waiting() -> None:
            with database.session() as db:
                db.execute(NEW_USER, new_user("bia"))

        first = gevent.spawn(holding)
        gevent.sleep(0.05)
        second = gevent.spawn(waiting)
        gevent.joinall([first, second], timeout=20)
        print(first.successful(), second.successful(), type(second.exception).__name__)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, database(app).engine.url.render_as_string(hide_password=False)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == ["True", "True", "NoneType"], done.stderr
    with database(app).session() as db:
        assert set(db.scalars(select(AppUser.user_id))) == {"ana", "bia"}


def test_a_write_in_a_transaction_that_read_an_older_snapshot_fails_at_once(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trying again cannot help a transaction whose snapshot another connection's commit made stale: it
    fails at once (SQLITE_BUSY_SNAPSHOT), as SQLite's own busy handler would let it, and its caller starts
    over, instead of waiting out ``SQLITE_BUSY_TIMEOUT``."""
    pauses: list[float] = []
    monkeypatch.setattr(storage.time, "sleep", pauses.append)
    monkeypatch.setattr(storage, "SQLITE_BUSY_TIMEOUT", 0.2)
    engine = database(app).engine
    storage.write(database(app).autocommit, NEW_USER, new_user("alice"))
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("BEGIN")
        cursor.execute("SELECT count(*) FROM app_users").fetchall()  # the transaction's snapshot
        storage.write(database(app).autocommit, NEW_USER, new_user("bob"))  # another connection commits
        with pytest.raises(sqlite3.OperationalError) as failed:
            cursor.execute("DELETE FROM app_users")
        assert failed.value.sqlite_errorcode == sqlite3.SQLITE_BUSY_SNAPSHOT
    finally:
        connection.rollback()
        connection.close()
    assert pauses == []
    with database(app).session() as db:
        assert set(db.scalars(select(AppUser.user_id))) == {"alice", "bob"}
