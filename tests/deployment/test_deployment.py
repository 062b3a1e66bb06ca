"""The Procfile's deployment under load and failure: two web instances and the worker on one PostgreSQL
database, the standalone emulator as Belvo (see :mod:`tests.deployment.stack`).

Webhook deliveries arrive over both instances, as behind a load balancer, while the worker and one web
instance are killed with SIGKILL and restarted; every delivery an instance acknowledged must be applied
exactly once, within a minute, with nobody running anything by hand.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, create_engine, text

from server.auth import mint_token
from server.config import Secret
from server.storage import normalise_url
from tests.deployment.stack import APP_JWT_SECRET, WEBHOOK_AUTH, Stack, deployment, wait_until_up
from tests.support import postgres_schema

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL"),
]

CPF = "76109277673"
INSTITUTION = "ofmockbank_br_retail"
DELIVERIES = 2000
USERS = 6
ORPHANS = 30
#: Counts every time a webhook's row is finished (processed_at set): applying twice would show twice.
AUDIT = """
CREATE TABLE applied_audit (webhook_id text NOT NULL, status text NOT NULL);
CREATE FUNCTION audit_applied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO applied_audit VALUES (NEW.webhook_id, NEW.status);
    RETURN NEW;
END $$;
CREATE TRIGGER audit_applied AFTER UPDATE ON webhook_events FOR EACH ROW
    WHEN (NEW.processed_at IS DISTINCT FROM OLD.processed_at) EXECUTE FUNCTION audit_applied();
"""


def headers(user: str) -> dict[str, str]:
    token = mint_token(user, Secret(APP_JWT_SECRET), timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


def session_body() -> dict[str, Any]:
    return {"identification_info": [{"type": "CPF", "number": CPF, "name": "Ralph Bragg"}]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("deployment")
    with postgres_schema(os.environ["TEST_DATABASE_URL"]) as url, deployment(url, log_dir) as running:
        yield running


@pytest.fixture(scope="module")
def engine(stack: Stack) -> Iterator[Engine]:
    engine = create_engine(normalise_url(stack.env["DATABASE_URL"]))
    yield engine
    engine.dispose()


def linked_user(stack: Stack, user: str, web: str) -> tuple[str, str]:
    """A session of ``user`` completed with a verified link: (external_id, link_id)."""
    session = requests.post(
        f"{web}/v1/widget-sessions", json=session_body(), headers=headers(user), timeout=10
    )
    assert session.status_code == 201, session.text
    created = session.json()
    link_id = belvo_link(stack, created["external_id"])
    success = f"{created['callback_urls']['success']}?link={link_id}&institution={INSTITUTION}"
    posted = requests.post(
        f"{web}/v1/widget-sessions/{created['id']}/events",
        json={"url": success},
        headers=headers(user),
        timeout=10,
    )
    assert posted.status_code == 200, posted.text
    return created["external_id"], link_id


def belvo_link(stack: Stack, external_id: str) -> str:
    """A link at "Belvo" only (the app never reported it)."""
    body = {"external_id": external_id, "institution": INSTITUTION}
    response = requests.post(f"{stack.emulator_url}/_control/links", json=body, timeout=10)
    assert response.status_code == 201, response.text
    link_id: str = response.json()["id"]
    return link_id


def webhook(link_id: str, webhook_type: str, webhook_code: str, external_id: str) -> dict[str, Any]:
    return {
        "webhook_id": uuid.uuid4().hex,
        "webhook_type": webhook_type,
        "webhook_code": webhook_code,
        "link_id": link_id,
        "external_id": external_id,
        "process_type": "historical_update",
        "data": {},
    }


class Belvo:
    """Delivers webhooks as Belvo does through a load balancer: at least once, again on another
    instance when one does not answer 2xx."""

    def __init__(self, urls: list[str]) -> None:
        self._urls = urls
        self._local = threading.local()
        self.sent = 0
        self._lock = threading.Lock()

    def deliver(self, index: int, payload: dict[str, Any]) -> str:
        session: requests.Session = getattr(self._local, "session", None) or requests.Session()
        self._local.session = session
        for attempt in range(200):
            url = self._urls[(index + attempt) % len(self._urls)]
            try:
                response = session.post(
                    f"{url}/v1/webhooks/belvo",
                    json=payload,
                    headers={"Authorization": WEBHOOK_AUTH},
                    timeout=5,
                )
            except requests.RequestException:
                session = self._local.session = requests.Session()
            else:
                if response.status_code == 200:
                    with self._lock:
                        self.sent += 1
                    status: str = response.json()["status"]
                    return status
            time.sleep(0.05)
        raise AssertionError(f"webhook {payload['webhook_id']} was never acknowledged")


def test_every_acknowledged_webhook_is_applied_once_while_processes_are_killed(
    stack: Stack, engine: Engine
) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(AUDIT)
    webs = stack.web_urls
    users = [linked_user(stack, f"user-{n}", webs[n % 2]) for n in range(USERS)]
    orphans = [belvo_link(stack, users[0][0]) for _ in range(ORPHANS)]
    # Belvo fails while the first recoveries ask for their links: those jobs must succeed on a retry.
    fault = {"match": "/api/links/", "status": 503, "times": 4}
    assert requests.post(f"{stack.emulator_url}/_control/faults", json=fault, timeout=5).status_code == 201

    kinds = itertools.cycle(
        [
            ("ACCOUNTS", "historical_update"),
            ("OWNERS", "historical_update"),
            ("TRANSACTIONS", "historical_update"),
            ("TRANSACTIONS", "new_transactions_available"),
        ]
    )
    unique: list[dict[str, Any]] = []
    orphan_ids = iter(orphans)
    for n in range(DELIVERIES - DELIVERIES // 10):
        orphan = next(orphan_ids, None) if n % 50 == 0 else None
        if orphan is not None:
            unique.append(webhook(orphan, "ACCOUNTS", "historical_update", users[0][0]))
        else:
            external_id, link_id = users[n % USERS]
            unique.append(webhook(link_id, *next(kinds), external_id))
    deliveries = unique + random.sample(unique, DELIVERIES // 10)
    random.shuffle(deliveries)

    belvo = Belvo(webs)

    def chaos() -> None:
        for at, name in [(400, "worker"), (900, "web-1"), (1400, "worker")]:
            while belvo.sent < at:
                time.sleep(0.02)
            stack.kill(name)
            time.sleep(0.5)
            stack.restart(name)
        wait_until_up(f"{webs[1]}/healthz", stack.processes["web-1"])

    killer = threading.Thread(target=chaos, name="chaos")
    killer.start()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(belvo.deliver, range(len(deliveries)), deliveries))
    killer.join()
    acknowledged = time.monotonic()

    assert answers.count("received") + answers.count("duplicate") == DELIVERIES
    # Not exactly len(unique) "received": an instance killed between its commit and its answer makes
    # Belvo deliver again, and the second answer is "duplicate". Each is stored once all the same.
    assert len(unique) - 10 <= answers.count("received") <= len(unique)

    pending = len(unique)
    while pending and time.monotonic() - acknowledged < 60:
        time.sleep(0.5)
        with engine.connect() as connection:
            pending = connection.scalar(
                text("SELECT count(*) FROM webhook_events WHERE processed_at IS NULL")
            )
    assert pending == 0, f"{pending} acknowledged webhooks still unapplied a minute later\n{stack.logs()}"

    with engine.connect() as connection:
        applied = dict(
            connection.execute(
                text("SELECT webhook_id, count(*) FROM applied_audit GROUP BY webhook_id")
            ).all()
        )
        statuses = dict(
            connection.execute(text("SELECT status, count(*) FROM webhook_events GROUP BY status")).all()
        )
        attached = connection.scalar(
            text("SELECT count(*) FROM links WHERE id = ANY(:ids)"), {"ids": orphans}
        )
    assert sorted(applied) == sorted(p["webhook_id"] for p in unique)  # stored and applied: all, once
    assert set(applied.values()) == {1}, "some webhook was applied more than once"
    assert statuses == {"processed": len(unique)}
    assert attached == ORPHANS  # every orphan link recovered, the ones Belvo first failed for included
    for n, (_, link_id) in enumerate(users):
        view = requests.get(f"{webs[0]}/v1/links/{link_id}", headers=headers(f"user-{n}"), timeout=5).json()
        assert {view["resources"][r]["status"] for r in ("ACCOUNTS", "OWNERS", "TRANSACTIONS")} == {"ready"}


def test_30_concurrent_session_requests_over_both_instances_create_exactly_the_per_minute_limit(
    stack: Stack, engine: Engine
) -> None:
    def create(index: int) -> int:
        url = stack.web_urls[index % 2]
        response = requests.post(
            f"{url}/v1/widget-sessions", json=session_body(), headers=headers("burst-user"), timeout=30
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(create, range(30)))

    assert statuses.count(201) == 10, statuses  # SESSION_RATE_LIMIT_PER_MINUTE's default
    assert set(statuses) == {201, 429}, statuses
    with engine.connect() as connection:
        stored = connection.scalar(text("SELECT count(*) FROM widget_sessions WHERE user_id = 'burst-user'"))
    assert stored == 10  # beyond the open cap each replaced the oldest open one, none more


def test_one_idempotency_key_sent_to_both_instances_at_once_creates_one_session(
    stack: Stack, engine: Engine
) -> None:
    key = uuid.uuid4().hex
    start = threading.Barrier(2)

    def create(url: str) -> requests.Response:
        start.wait()
        return requests.post(
            f"{url}/v1/widget-sessions",
            json=session_body(),
            headers={**headers("retrying-user"), "Idempotency-Key": key},
            timeout=30,
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(create, stack.web_urls))

    assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    with engine.connect() as connection:
        stored = connection.scalar(
            text("SELECT count(*) FROM widget_sessions WHERE user_id = 'retrying-user'")
        )
    assert stored == 1
