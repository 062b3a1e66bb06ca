"""The session service's storage rules, on every database: one external id per user, even under a race."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from server.models import AppUser
from server.services.sessions import external_id_for
from server.storage import Database, make_engine, upgrade


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield Database(engine)
    engine.dispose()


def test_a_users_external_id_is_drawn_once_and_kept(db: Database) -> None:
    with db.session() as first:
        external_id = external_id_for(first, "alice@example.com")
    with db.session() as second:
        assert external_id_for(second, "alice@example.com") == external_id
        assert external_id_for(second, "bob") != external_id
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", external_id)
    assert "alice" not in external_id.lower()


def test_concurrent_first_sessions_of_one_user_agree_on_one_external_id(db: Database) -> None:
    """Two requests of a new user race: the second insert waits for the first and then keeps its row."""
    first = db.sessionmaker()
    mine = external_id_for(first, "carol")  # inserted, not committed yet
    theirs: list[str] = []

    def other_request() -> None:
        with db.sessionmaker() as second:
            theirs.append(external_id_for(second, "carol"))
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
