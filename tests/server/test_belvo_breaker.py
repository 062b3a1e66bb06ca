"""The circuit breaker in front of Belvo (docs/security.md F5): after repeated outages the app gets its 503 at
once, Belvo is not called, and the first call after the pause decides whether calls resume."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.conftest import bearer
from tests.server.conftest import session_body
from tests.server.lifecycle import Flow
from tests.support import assert_error


def create(flow: Flow) -> Any:
    return flow.client.post("/v1/widget-sessions", json=session_body(), headers=bearer(flow.app, "alice"))


def token_faults_left(flow: Flow) -> int:
    [rule] = [rule for rule in flow.faults() if rule["match"] == "/api/token/"]
    times: int = rule["times"]
    return times


def test_repeated_outages_open_the_breaker_and_belvo_is_left_alone(database_url: str) -> None:
    with Flow.start(database_url, BELVO_BREAKER_FAILURES=3, BELVO_BREAKER_PAUSE_SECONDS=30) as flow:
        flow.fault("/api/token/", 503, times=100)
        for _ in range(3):
            assert_error(create(flow), 503, "upstream_unavailable")
        calls_so_far = token_faults_left(flow)

        refused = create(flow)

        assert_error(refused, 503, "upstream_unavailable")
        assert 1 <= int(refused.headers["Retry-After"]) <= 30
        assert token_faults_left(flow) == calls_so_far  # Belvo was not called


def test_the_breaker_off_keeps_calling_belvo(database_url: str) -> None:
    with Flow.start(database_url, BELVO_BREAKER_FAILURES=0) as flow:
        flow.fault("/api/token/", 503, times=100)
        for _ in range(4):
            before = token_faults_left(flow)
            assert_error(create(flow), 503, "upstream_unavailable")
            assert token_faults_left(flow) < before


def test_refusals_from_belvo_do_not_open_the_breaker(database_url: str) -> None:
    with Flow.start(database_url, BELVO_BREAKER_FAILURES=2) as flow:
        flow.fault("/api/token/", 400, times=100)
        for _ in range(4):
            assert_error(create(flow), 502, "upstream_error")  # Belvo answered each time: it is up


def open_breaker(flow: Flow) -> None:
    flow.fault("/api/token/", 503, times=100)
    for _ in range(3):
        assert_error(create(flow), 503, "upstream_unavailable")
    assert_error(create(flow), 503, "upstream_unavailable")  # refused without calling Belvo


@contextmanager
def probing(database_url: str) -> Iterator[Flow]:
    """A backend whose breaker opens after 3 failures and lets a probe through after 1 s."""
    with Flow.start(
        database_url,
        BELVO_BREAKER_FAILURES=3,
        BELVO_BREAKER_PAUSE_SECONDS=30,
        BELVO_BREAKER_PROBE_SECONDS=1,
    ) as flow:
        yield flow


def test_calls_resume_one_probe_after_belvo_recovers(database_url: str) -> None:
    with probing(database_url) as flow:
        open_breaker(flow)
        flow.clear_faults()  # Belvo is back
        time.sleep(1.1)

        assert create(flow).status_code == 201  # the probe
        assert create(flow).status_code == 201  # and calls after it


def test_a_failing_probe_is_one_call_then_belvo_is_left_alone_longer(database_url: str) -> None:
    with probing(database_url) as flow:
        open_breaker(flow)
        time.sleep(1.1)
        before = token_faults_left(flow)

        assert_error(create(flow), 503, "upstream_unavailable")  # the probe: Belvo is still down
        assert token_faults_left(flow) == before - 1  # one attempt, not Belvo's retry schedule

        time.sleep(1.1)  # past the first wait (1 s), not the doubled one (2 s)
        refused = create(flow)
        assert_error(refused, 503, "upstream_unavailable")
        assert int(refused.headers["Retry-After"]) <= 2
        assert token_faults_left(flow) == before - 1
