"""The per-user limits and the Idempotency-Key hold under concurrency: many requests of one user at once,
over real HTTP to two instances of the backend (two apps, each with its own engine and pool, on one
database; each served by a threaded server), with the standalone emulator (also over HTTP, answering
tokens slowly so that the requests overlap) as Belvo."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from emulator.app import create_app as create_emulator
from server.models import WidgetSession
from server.storage import database
from tests.browser import serve
from tests.conftest import bearer, make_app
from tests.server.conftest import REAL_BELVO, SECRET_ID, SECRET_PASSWORD, session_body

SESSIONS = "/v1/widget-sessions"
#: How long the emulator takes to mint a token: long enough for every request of a burst to arrive
#: while the first ones still wait on Belvo.
TOKEN_DELAY_MS = 300


@dataclass
class TokenCounter:
    """WSGI middleware counting the token requests that reach the emulator."""

    app: Any
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/api/token/":
            with self._lock:
                self.calls += 1
        result: Iterable[bytes] = self.app(environ, start_response)
        return result


@dataclass(frozen=True)
class Deployment:
    backend: Flask
    urls: tuple[str, str]  # two instances
    belvo: TokenCounter

    def burst(self, count: int, headers: dict[str, str]) -> list[requests.Response]:
        """``count`` session requests sent at the same instant, each on its own connection and thread."""
        start = threading.Barrier(count)

        def post(n: int) -> requests.Response:
            url = self.urls[n % 2]
            start.wait()
            return requests.post(f"{url}{SESSIONS}", json=session_body(), headers=headers, timeout=60)

        with ThreadPoolExecutor(max_workers=count) as pool:
            return list(pool.map(post, range(count)))

    def stored(self) -> list[WidgetSession]:
        with database(self.backend).session() as db:
            return list(db.scalars(select(WidgetSession)))


@pytest.fixture
def deployment(database_url: str) -> Iterator[Deployment]:
    emulator = create_emulator({"EMULATOR_SECRET_ID": SECRET_ID, "EMULATOR_SECRET_PASSWORD": SECRET_PASSWORD})
    slow_tokens = {"match": "/api/token/", "status": None, "times": -1, "delay_ms": TOKEN_DELAY_MS}
    faults = emulator.test_client().post("/_control/faults", json=slow_tokens)
    assert faults.status_code == 201, faults.get_json()
    counter = TokenCounter(emulator)
    with serve(counter) as belvo:
        config = {**REAL_BELVO, "BELVO_API_URL": belvo.url}
        backends = [make_app(database_url, **config), make_app(database_url, **config)]
        try:
            with serve(backends[0]) as one, serve(backends[1]) as two:
                yield Deployment(backends[0], (one.url, two.url), counter)
        finally:
            for backend in backends:
                database(backend).dispose()


def test_a_burst_of_one_users_requests_creates_exactly_the_per_minute_limit(deployment: Deployment) -> None:
    headers = bearer(deployment.backend, "alice")

    answers = deployment.burst(30, headers)

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * 10 + [429] * 20  # SESSION_RATE_LIMIT_PER_MINUTE's default
    for refused in (answer for answer in answers if answer.status_code == 429):
        assert refused.json()["errors"][0]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1
    assert deployment.belvo.calls == 10  # no CPF sent to Belvo for a refused request
    stored = deployment.stored()
    assert len(stored) == 10
    # At most SESSION_MAX_PENDING (3) open at once: each session beyond replaced the oldest open one.
    assert sorted(session.status for session in stored) == ["cancelled"] * 7 + ["pending"] * 3
    assert all(session.widget_url is None for session in stored if session.status == "cancelled")


def test_a_returning_users_burst_stops_exactly_at_the_per_minute_limit(deployment: Deployment) -> None:
    """A user both instances already know takes the one-statement reservation (on PostgreSQL the row lock
    and the insert in one pipeline, one transaction): a burst still admits exactly what the limit leaves."""
    headers = bearer(deployment.backend, "alice")
    for url in deployment.urls:  # one session through each instance: both now remember the user
        first = requests.post(f"{url}{SESSIONS}", json=session_body(), headers=headers, timeout=60)
        assert first.status_code == 201, first.text

    answers = deployment.burst(30, headers)

    assert sorted(answer.status_code for answer in answers) == [201] * 8 + [429] * 22
    assert deployment.belvo.calls == 10
    assert len(deployment.stored()) == 10


def test_one_idempotency_key_sent_ten_times_at_once_makes_one_token_call(deployment: Deployment) -> None:
    headers = {**bearer(deployment.backend, "alice"), "Idempotency-Key": "double-tap-1"}

    answers = deployment.burst(10, headers)

    assert [answer.status_code for answer in answers] == [201] * 10
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert len({answer.json()["widget_url"] for answer in answers}) == 1
    assert deployment.belvo.calls == 1
    assert len(deployment.stored()) == 1


def test_bursts_of_two_users_do_not_share_limits(deployment: Deployment) -> None:
    """The lock is per user: another user's burst is admitted on its own count."""
    alice, bob = bearer(deployment.backend, "alice"), bearer(deployment.backend, "bob")
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = [*pool.map(lambda headers: deployment.burst(12, headers), (alice, bob))]

    assert [sorted(a.status_code for a in burst) for burst in answers] == [[201] * 10 + [429] * 2] * 2
    assert deployment.belvo.calls == 20
