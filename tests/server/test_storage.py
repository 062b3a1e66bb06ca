"""The request path's statements on PostgreSQL (``server.storage``, straight on libpq): the lock taken by
``write_under_lock``'s first statement is held until the transaction ends, after the write, so a
reservation's admission reads every reservation committed before it, whatever the instance; a failure
undoes both statements and leaves the connection usable; statements are prepared on a connection and
planned once, and prepared again when something drops them. The exchanges a process asks for while one
is on its way go together in the next round trip, each committed or failed alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from server.models import AppUser
from server.services.sessions import _EXTERNAL_ID, _LOCK_USER  # the reservation's lock and its read
from server.storage import database, read_value, write, write_under_lock
from tests.support import NEW_USER, Callers, new_user


@pytest.fixture(autouse=True)
def _postgresql_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("on SQLite the request path's writes take the database's one write lock instead")


def _try_lock(app: Flask, user_id: str) -> bool:
    """Whether another connection gets the user's row lock without waiting."""
    url = database(app).autocommit.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as other:
        try:
            other.execute(
                "SELECT user_id FROM app_users WHERE user_id = %s FOR NO KEY UPDATE NOWAIT", (user_id,)
            )
        except psycopg.errors.LockNotAvailable:
            return False
        return True


def test_the_lock_is_held_across_the_write_until_the_transaction_ends(app: Flask) -> None:
    with database(app).session() as db:
        db.execute(
            insert(AppUser).values(user_id="alice", external_id="x" * 24, created_at=datetime.now(UTC))
        )
    slow_write = select(func.pg_sleep(bindparam("seconds")))
    writing = threading.Thread(
        target=write_under_lock,
        args=(database(app).autocommit, _LOCK_USER, {"owner": "alice"}, slow_write, {"seconds": 1.0}),
    )
    writing.start()
    time.sleep(0.3)  # the lock is taken, the "write" under way
    try:
        assert not _try_lock(app, "alice")
    finally:
        writing.join()
    assert _try_lock(app, "alice")  # the transaction ended with the write


def _users(app: Flask) -> set[str]:
    with database(app).session() as db:
        return set(db.scalars(select(AppUser.user_id)))


def test_when_the_second_statement_fails_the_first_is_undone_and_the_connection_still_works(
    app: Flask,
) -> None:
    engine = database(app).autocommit
    assert write(engine, NEW_USER, new_user("alice")) == 1

    with pytest.raises(IntegrityError) as failed:
        write_under_lock(engine, NEW_USER, new_user("bob"), NEW_USER, new_user("alice"))
    assert "[parameters:" not in str(failed.value)  # the values a statement was sent may hold a widget URL

    assert _users(app) == {"alice"}  # bob's row went with the failed transaction
    assert write_under_lock(engine, NEW_USER, new_user("bob"), NEW_USER, new_user("carol")) == 1
    assert _users(app) == {"alice", "bob", "carol"}


def test_a_value_the_driver_cannot_send_fails_that_write_only(app: Flask) -> None:
    engine = database(app).autocommit
    with pytest.raises(ProgrammingError):
        write(engine, NEW_USER, {**new_user("alice"), "external_id": object()})

    with engine.connect() as connection:  # the pool's most recently used: the failed write's
        assert connection.execute(text("SELECT 1")).scalar() == 1  # left as it was
    assert write(engine, NEW_USER, new_user("bob")) == 1
    assert _users(app) == {"bob"}


def test_a_read_answers_the_first_value_or_none(app: Flask) -> None:
    engine = database(app).autocommit
    write(engine, NEW_USER, new_user("alice"))

    assert read_value(engine, _EXTERNAL_ID, {"owner": "alice"}) == "alicealicealice"
    assert read_value(engine, _EXTERNAL_ID, {"owner": "nobody"}) is None


def test_statements_dropped_from_the_connection_are_prepared_again(app: Flask) -> None:
    """A pooler's ``DISCARD ALL`` or an operator's ``DEALLOCATE ALL`` drops the statements a connection
    prepared: the next write still succeeds."""
    engine = database(app).autocommit
    write(engine, NEW_USER, new_user("alice"))
    with engine.connect() as connection:  # the pool's most recently used connection: the write's
        prepared = connection.execute(
            text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO app_users%'")
        ).scalar()
        assert prepared == 1  # parsed once by the server, not at every write
        connection.execute(text("DEALLOCATE ALL"))

    assert write(engine, NEW_USER, new_user("bob")) == 1
    assert _users(app) == {"alice", "bob"}


def test_the_request_paths_statements_are_planned_once_per_connection(app: Flask) -> None:
    engine = database(app).autocommit
    for owner in ("alice", "bob", "carol", "dave", "erin", "frank", "grace"):
        write(engine, NEW_USER, new_user(owner))

    with engine.connect() as connection:  # the pool's most recently used connection: the writes'
        generic, custom = connection.execute(
            text(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE 'INSERT INTO app_users%'"
            )
        ).one()
    assert (generic, custom) == (7, 0)


def test_exchanges_asked_for_during_a_round_trip_share_the_next_each_committed_or_failed_alone(
    app: Flask,
) -> None:
    engine = database(app).autocommit
    write(engine, NEW_USER, new_user("alice"))
    slow = select(func.pg_backend_pid()).select_from(func.pg_sleep(bindparam("seconds")))
    with Callers(engine) as callers:
        callers.start("slow", lambda: read_value(engine, slow, {"seconds": 1.0}))
        time.sleep(0.3)  # the slow one on its way: the others wait for it
        callers.start("bob", lambda: write(engine, NEW_USER, new_user("bob")))
        callers.start("alice again", lambda: write(engine, NEW_USER, new_user("alice")))
        callers.start(
            "unsendable", lambda: write(engine, NEW_USER, {**new_user("dave"), "external_id": object()})
        )
        callers.start(
            "carol",
            lambda: write_under_lock(engine, _LOCK_USER, {"owner": "alice"}, NEW_USER, new_user("carol")),
        )
        callers.start("pid", lambda: read_value(engine, select(func.pg_backend_pid()), {}))

    results = callers.results
    assert results["bob"] == 1
    assert results["carol"] == 1
    assert isinstance(results["alice again"], IntegrityError)
    assert isinstance(results["unsendable"], ProgrammingError)
    assert results["pid"] == results["slow"]  # one connection
    assert _users(app) == {"alice", "bob", "carol"}
    assert callers.checkouts == 2  # the slow one's round trip, then one for the five that waited


def test_a_caller_interrupted_while_its_exchange_waits_sends_nothing_and_the_next_still_go(
    app: Flask, database_url: str
) -> None:
    """Under gevent's workers a request can be interrupted while its exchange waits for the round trip
    under way (a timeout, the worker stopping): its statements are not sent, and those after it go."""
    script = textwrap.dedent(
        """
        from gevent import monkey

        monkey.patch_all()
        import sys

        import gevent
        from sqlalchemy import bindparam, func, select

        from server.storage import Database, read_value, write
        from tests.support import NEW_USER, new_user

        engine = Database.at(sys.argv[1]).autocommit
        slow = gevent.spawn(read_value, engine, select(func.pg_sleep(bindparam("s"))), {"s": 0.5})
        gevent.sleep(0.1)

        def interrupted() -> None:
            with gevent.Timeout(0.1):
                write(engine, NEW_USER, new_user("bob"))

        waiting = gevent.spawn(interrupted)
        later = gevent.spawn(write, engine, NEW_USER, new_user("carol"))
        gevent.joinall([slow, waiting, later], timeout=10)
        print(type(waiting.exception).__name__, later.value)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, database_url],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == ["Timeout", "1"]
    assert _users(app) == {"carol"}
