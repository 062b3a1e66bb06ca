"""The session service's storage rules, on every database: one external id per user, even under a race,
and one admission at a time per user."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server.belvo import BelvoUnavailable, WidgetToken
from server.config import Settings, load_settings
from server.errors import Conflict, UpstreamUnavailable
from server.models import AppUser, WidgetSession
from server.schemas import WidgetSessionRequestSchema
from server.services.sessions import Idempotency, create_session, created_view, lock_user, reserve
from server.storage import Database, upgrade
from tests.server.conftest import REAL_BELVO, session_body

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database.at(database_url)
    upgrade(database.engine)
    yield database
    database.dispose()


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


# -- reserving before Belvo is called: retries with one Idempotency-Key, a failed call, a dead request --


class GatedBelvo:
    """A Belvo client whose token calls, counted, wait until the test opens the gate, then answer a
    token (or fail, as Belvo down would)."""

    def __init__(self, *, failures: int = 0) -> None:
        self.calls = 0
        self.failures = failures
        self.entered = threading.Semaphore(0)
        self.gate = threading.Event()
        self._lock = threading.Lock()

    def create_widget_token(self, payload: Mapping[str, Any]) -> WidgetToken:
        with self._lock:
            self.calls += 1
            fail = self.calls <= self.failures
        self.entered.release()
        assert self.gate.wait(timeout=30)
        if fail:
            raise BelvoUnavailable("Belvo is unavailable", retry_after=30)
        expires_at = NOW + timedelta(minutes=10)
        return WidgetToken(access="access-token", refresh="refresh-token", expires_at=expires_at)


def settings_for(database_url: str, **overrides: str) -> Settings:
    return load_settings({**REAL_BELVO, "DATABASE_URL": database_url, **overrides}, environ={})


REQUEST = WidgetSessionRequestSchema().load(session_body())
KEY = Idempotency("double-tap", "a-keyed-hash-of-the-request")


def create_in_thread(
    db: Database, belvo: GatedBelvo, config: Settings, idempotency: Idempotency | None = KEY
) -> Future[WidgetSession]:
    def create() -> WidgetSession:
        with db.sessionmaker() as session:
            created = create_session(  # type: ignore[arg-type]
                lambda: session,
                db,
                belvo,
                config,
                user_id="alice",
                request=REQUEST,
                now=NOW,
                idempotency=idempotency,
            )
            session.expunge_all()
            return created

    return ThreadPoolExecutor(max_workers=1).submit(create)


def rows(db: Database) -> list[tuple[str, str]]:
    with db.session() as session:
        return [(row.id, row.status) for row in session.scalars(select(WidgetSession))]


def test_a_retry_sent_while_the_first_request_waits_on_belvo_gets_the_same_session(
    db: Database, database_url: str
) -> None:
    belvo, config = GatedBelvo(), settings_for(database_url)
    first = create_in_thread(db, belvo, config)
    assert belvo.entered.acquire(timeout=30)  # the first request is waiting on Belvo
    retry = create_in_thread(db, belvo, config)
    time.sleep(0.3)
    assert not retry.done()  # waiting for the first

    belvo.gate.set()

    assert retry.result(timeout=30).id == first.result(timeout=30).id
    assert belvo.calls == 1
    assert rows(db) == [(first.result().id, "pending")]


def test_a_retry_still_waiting_at_the_belvo_deadline_is_409_idempotency_key_in_use(
    db: Database, database_url: str
) -> None:
    belvo, config = GatedBelvo(), settings_for(database_url, BELVO_DEADLINE_SECONDS="0.5")
    first = create_in_thread(db, belvo, config)
    assert belvo.entered.acquire(timeout=30)

    with pytest.raises(Conflict) as refused:
        create_in_thread(db, belvo, config).result(timeout=30)

    assert (refused.value.code, refused.value.retry_after) == ("idempotency_key_in_use", 1)
    belvo.gate.set()
    assert first.result(timeout=30).status == "pending"
    assert belvo.calls == 1


def test_when_the_first_request_gets_no_token_a_waiting_retry_asks_belvo_itself(
    db: Database, database_url: str
) -> None:
    belvo, config = GatedBelvo(failures=1), settings_for(database_url)
    first = create_in_thread(db, belvo, config)
    assert belvo.entered.acquire(timeout=30)
    retry = create_in_thread(db, belvo, config)
    time.sleep(0.3)

    belvo.gate.set()

    with pytest.raises(UpstreamUnavailable):
        first.result(timeout=30)
    session = retry.result(timeout=30)
    assert belvo.calls == 2
    assert rows(db) == [(session.id, "pending")]  # the failed one's reservation is gone


def test_a_request_superseded_while_belvo_answered_is_told_its_session_is_cancelled(
    db: Database, database_url: str
) -> None:
    belvo, config = GatedBelvo(), settings_for(database_url, SESSION_MAX_PENDING="1")
    first = create_in_thread(db, belvo, config, idempotency=None)
    assert belvo.entered.acquire(timeout=30)
    second = create_in_thread(db, belvo, config, idempotency=None)
    assert belvo.entered.acquire(timeout=30)  # admitted while the first waits: it replaced the first

    belvo.gate.set()

    replaced, replacing = first.result(timeout=30), second.result(timeout=30)
    assert created_view(replaced, NOW)["status"] == "cancelled"
    assert created_view(replaced, NOW)["widget_url"] is None
    assert created_view(replacing, NOW)["status"] == "pending"
    assert sorted(rows(db)) == sorted([(replaced.id, "cancelled"), (replacing.id, "pending")])


def test_a_reservation_whose_request_died_lapses_and_frees_its_key_and_slot(
    db: Database, database_url: str
) -> None:
    config = settings_for(database_url, SESSION_MAX_PENDING="1")
    row = {
        "id": "ws_left-by-a-killed-process",
        "user_id": "alice",
        "callback_urls": {},
        "options": {},
        "created_at": NOW,
        "idempotency_key": KEY.key,
        "request_hmac": KEY.request_hmac,
        "client_key": None,
    }
    with db.sessionmaker() as session:
        reserve(
            lambda: session,
            db,
            row,
            NOW,
            limits=config.session_limits,
            hold=timedelta(seconds=70),
            idempotency=KEY,
        )

    belvo = GatedBelvo()
    belvo.gate.set()
    later = NOW + timedelta(seconds=71)
    with db.sessionmaker() as session:
        created = create_session(  # type: ignore[arg-type]
            lambda: session, db, belvo, config, user_id="alice", request=REQUEST, now=later, idempotency=KEY
        )

    assert created.id != row["id"]
    assert rows(db) == [(created.id, "pending")]
