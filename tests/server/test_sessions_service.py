"""The session service's storage rules, on every database: one external id per user, even under a race,
and one admission at a time per user."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from server.models import AppUser
from server.services.sessions import lock_user
from server.storage import Database, make_engine, upgrade

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield Database(engine)
    engine.dispose()


def test_a_users_external_id_is_drawn_once_and_kept(db: Database) -> None:
    with db.session() as first:
        external_id = lock_user(first, "alice@example.com", NOW)
    with db.session() as second:
        assert lock_user(second, "alice@example.com", NOW) == external_id
        assert lock_user(second, "bob", NOW) != external_id
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", external_id)
    assert "alice" not in external_id.lower()


def test_concurrent_first_sessions_of_one_user_agree_on_one_external_id(db: Database) -> None:
    """Two requests of a new user race: the second insert waits for the first and then keeps its row."""
    first = db.sessionmaker()
    mine = lock_user(first, "carol", NOW)  # inserted, not committed yet
    theirs: list[str] = []

    def other_request() -> None:
        with db.sessionmaker() as second:
            theirs.append(lock_user(second, "carol", NOW))
            second.commit()

    racer = threading.Thread(target=other_request)
    racer.start()
    time.sleep(0.3)  # the other request is now waiting on our uncommitted row
    first.commit()
    first.close()
    racer.join(timeout=30)

    assert theirs == [mine]
    with db.session() as check:
        assert check.scalar(select(func.count()).select_from(AppUser)) == 1


def test_a_users_lock_holds_their_next_admission_until_the_first_ends_and_leaves_others_alone(
    db: Database,
) -> None:
    with db.session() as setup:
        lock_user(setup, "dave", NOW)
    first = db.sessionmaker()
    lock_user(first, "dave", NOW)
    taken: list[float] = []

    def other_request() -> None:
        with db.sessionmaker() as second:
            lock_user(second, "dave", NOW)
            taken.append(time.monotonic())
            second.commit()

    racer = threading.Thread(target=other_request)
    racer.start()
    time.sleep(0.3)
    assert taken == []  # still waiting on our lock
    if db.engine.dialect.name == "postgresql":  # SQLite has one writer at a time, whoever the user
        with db.session() as erin:
            lock_user(erin, "erin", NOW)  # another user's admission does not wait
    released = time.monotonic()
    first.commit()
    first.close()
    racer.join(timeout=30)
    assert len(taken) == 1
    assert taken[0] >= released
