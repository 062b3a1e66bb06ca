"""The request path's locked write on PostgreSQL (``server.storage.write_under_lock``): the lock taken
by its first statement is held until the transaction ends, after the write, so a reservation's admission
reads every reservation committed before it, whatever the instance."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest
from flask import Flask
from sqlalchemy import bindparam, func, insert, select

from server.models import AppUser
from server.services.sessions import _LOCK_USER  # the lock the reservation takes
from server.storage import database, write_under_lock


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
