"""The Belvo client: Belvo's retry policy cut short by a deadline, typed errors, credentials, timeouts."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import responses

from server.belvo import (
    BelvoAPIError,
    BelvoBadResponse,
    BelvoClient,
    BelvoNotFound,
    BelvoUnavailable,
    as_api_error,
)
from server.config import RetryPolicy, Secret
from server.transport import HttpTransport
from tests.server.conftest import BELVO, SECRET_ID, SECRET_PASSWORD, access_token, belvo_errors
from tests.support import recorded_belvo

TOKEN_URL = f"{BELVO}/api/token/"
LINK_ID = "cb65f82c-dc93-4d3e-8270-9a27528397f5"
LINK_URL = f"{BELVO}/api/links/{LINK_ID}/"
EXP = datetime(2026, 11, 21, 12, 20, tzinfo=UTC)


@dataclass
class FakeTime:
    """``sleep`` and a monotonic ``clock`` that only move when the client sleeps (or a call "takes"
    ``call_cost`` seconds), recording every wait."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def belvo() -> Iterator[responses.RequestsMock]:
    with recorded_belvo() as recorded:
        yield recorded


def make_client(
    fake_time: FakeTime,
    schedule: tuple[float, ...] = (3, 6, 12, 24, 48),
    deadline: float = 100.0,
    timeouts: tuple[float, float] = (3.05, 10.0),
) -> BelvoClient:
    return BelvoClient(
        HttpTransport(BELVO, {}),
        Secret(SECRET_ID),
        Secret(SECRET_PASSWORD),
        RetryPolicy(
            connect_timeout=timeouts[0], read_timeout=timeouts[1], schedule=schedule, deadline=deadline
        ),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )


def token_ok() -> dict[str, str]:
    return {"access": access_token(EXP), "refresh": "r"}


def test_token_request_carries_the_keys_in_the_body_and_reads_exp(
    belvo: responses.RequestsMock, fake_time: FakeTime
) -> None:
    belvo.post(TOKEN_URL, json=token_ok())
    token = make_client(fake_time).create_widget_token({"scopes": "x", "widget": {"purpose": "p"}})

    sent = belvo.calls[0].request
    assert json.loads(sent.body or b"") == {
        "id": SECRET_ID,
        "password": SECRET_PASSWORD,
        "scopes": "x",
        "widget": {"purpose": "p"},
    }
    assert "Authorization" not in sent.headers
    assert token.expires_at == EXP
    assert SECRET_PASSWORD not in repr(make_client(fake_time))
    assert token.access not in repr(token)


def test_data_calls_use_basic_auth_with_the_secret_keys(
    belvo: responses.RequestsMock, fake_time: FakeTime
) -> None:
    belvo.get(LINK_URL, json={"id": LINK_ID})
    assert make_client(fake_time).get_link(LINK_ID) == {"id": LINK_ID}
    expected = base64.b64encode(f"{SECRET_ID}:{SECRET_PASSWORD}".encode()).decode()
    assert belvo.calls[0].request.headers["Authorization"] == f"Basic {expected}"


def test_list_page_sends_the_filters_and_returns_the_envelope(
    belvo: responses.RequestsMock, fake_time: FakeTime
) -> None:
    page = {"count": 1, "next": None, "previous": None, "results": [{"id": "a"}]}
    belvo.get(
        f"{BELVO}/api/transactions/",
        json=page,
        match=[responses.matchers.query_param_matcher({"link": LINK_ID, "page": "2", "page_size": "50"})],
    )
    result = make_client(fake_time).list_page(
        "transactions", {"link": LINK_ID, "page": "2", "page_size": "50"}
    )
    assert result == page


def test_delete_link_and_a_missing_link(belvo: responses.RequestsMock, fake_time: FakeTime) -> None:
    belvo.delete(LINK_URL, status=204)
    make_client(fake_time).delete_link(LINK_ID)
    belvo.get(LINK_URL, status=404, json=belvo_errors("not_found"))
    with pytest.raises(BelvoNotFound) as caught:
        make_client(fake_time).get_link(LINK_ID)
    assert caught.value.request_id == "a6e1c493d7a29d91aed4338e6fcf077d"


def test_link_ids_cannot_escape_their_path(belvo: responses.RequestsMock, fake_time: FakeTime) -> None:
    belvo.get(f"{BELVO}/api/links/..%2Fowners%2F/", json={"id": "x"})
    make_client(fake_time).get_link("../owners/")
    assert belvo.calls[0].request.url == f"{BELVO}/api/links/..%2Fowners%2F/"


def test_503_is_retried_on_belvos_schedule(belvo: responses.RequestsMock, fake_time: FakeTime) -> None:
    belvo.post(TOKEN_URL, status=503, json=belvo_errors("service_unavailable"))
    with pytest.raises(BelvoUnavailable) as caught:
        make_client(fake_time).create_widget_token({})
    assert fake_time.sleeps == [3, 6, 12, 24, 48]
    assert len(belvo.calls) == 6
    assert caught.value.retry_after == 48


def test_a_retry_that_succeeds_returns_the_answer(belvo: responses.RequestsMock, fake_time: FakeTime) -> None:
    belvo.post(TOKEN_URL, status=502, body="<html>bad gateway</html>")
    belvo.post(TOKEN_URL, json=token_ok())
    assert make_client(fake_time).create_widget_token({}).expires_at == EXP
    assert fake_time.sleeps == [3]


def test_the_deadline_cuts_the_schedule_short(belvo: responses.RequestsMock, fake_time: FakeTime) -> None:
    belvo.post(TOKEN_URL, status=503, json=belvo_errors("service_unavailable"))
    with pytest.raises(BelvoUnavailable) as caught:
        make_client(fake_time, deadline=10).create_widget_token({})
    # 3 + 6 = 9 s of waiting fits in 10 s; the next wait (12 s) would not: stop and say when to retry.
    assert fake_time.sleeps == [3, 6]
    assert len(belvo.calls) == 3
    assert caught.value.retry_after == 12


def test_each_attempt_gets_only_the_time_left_before_the_deadline(
    belvo: responses.RequestsMock, fake_time: FakeTime
) -> None:
    belvo.post(TOKEN_URL, status=503)
    belvo.post(TOKEN_URL, json=token_ok())
    make_client(fake_time, schedule=(7,), deadline=10, timeouts=(3.05, 10)).create_widget_token({})
    first, second = (call.request.req_kwargs["timeout"] for call in belvo.calls)
    assert first == (3.05, 10)
    assert second == (3, 3)


@pytest.mark.parametrize("status", [400, 403, 405, 409, 428])
def test_other_4xx_are_never_retried(belvo: responses.RequestsMock, fake_time: FakeTime, status: int) -> None:
    belvo.post(TOKEN_URL, status=status, json=belvo_errors("invalid"))
    with pytest.raises(BelvoAPIError) as caught:
        make_client(fake_time).create_widget_token({})
    assert len(belvo.calls) == 1
    assert fake_time.sleeps == []
    assert (caught.value.status, caught.value.code) == (status, "invalid")
    assert caught.value.request_id == "a6e1c493d7a29d91aed4338e6fcf077d"


def test_too_many_sessions_is_retried(belvo: responses.RequestsMock, fake_time: FakeTime) -> None:
    belvo.post(TOKEN_URL, status=400, json=belvo_errors("too_many_sessions"))
    belvo.post(TOKEN_URL, status=400, json=belvo_errors("too_many_sessions"))
    belvo.post(TOKEN_URL, json=token_ok())
    assert make_client(fake_time).create_widget_token({}).expires_at == EXP
    assert fake_time.sleeps == [3, 6]


def test_unexpected_error_is_retried_at_most_three_times(
    belvo: responses.RequestsMock, fake_time: FakeTime
) -> None:
    belvo.post(TOKEN_URL, status=500, json=belvo_errors("unexpected_error"))
    with pytest.raises(BelvoUnavailable):
        make_client(fake_time).create_widget_token({})
    assert len(belvo.calls) == 4
    assert fake_time.sleeps == [3, 6, 12]


def test_connection_errors_and_timeouts_are_retried(
    belvo: responses.RequestsMock, fake_time: FakeTime
) -> None:
    belvo.post(TOKEN_URL, body=requests.ConnectionError("refused"))
    belvo.post(TOKEN_URL, body=requests.ReadTimeout("slow"))
    belvo.post(TOKEN_URL, json=token_ok())
    assert make_client(fake_time).create_widget_token({}).expires_at == EXP
    assert fake_time.sleeps == [3, 6]


def test_a_401_means_our_keys_are_wrong_unavailable_without_retry(
    belvo: responses.RequestsMock, fake_time: FakeTime
) -> None:
    belvo.post(TOKEN_URL, status=401, json=belvo_errors("authentication_failed"))
    with pytest.raises(BelvoUnavailable) as caught:
        make_client(fake_time).create_widget_token({})
    assert len(belvo.calls) == 1
    # The app user gets 503, never 401 (which an app reads as "sign the user out"): docs/security.md F8.
    assert as_api_error(caught.value).status == 503


def test_the_firewalls_429_is_unavailable_with_its_retry_after(
    belvo: responses.RequestsMock, fake_time: FakeTime
) -> None:
    belvo.post(TOKEN_URL, status=429, body="Too Many Requests", headers={"Retry-After": "30"})
    with pytest.raises(BelvoUnavailable) as caught:
        make_client(fake_time).create_widget_token({})
    assert caught.value.retry_after == 30
    assert len(belvo.calls) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"access": "not-a-jwt", "refresh": "r"},
        {"access": "a.b", "refresh": "r"},
        {"access": "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.sig", "refresh": "r"},  # the claims are not JSON
        {"access": "eyJhbGciOiJIUzI1NiJ9.WzFd.sig", "refresh": "r"},  # the claims are a list
        {"refresh": "r"},
        {"access": access_token(EXP, exp="soon"), "refresh": "r"},
        ["access"],
    ],
)
def test_an_unusable_token_answer_is_a_bad_response(
    belvo: responses.RequestsMock, fake_time: FakeTime, body: Any
) -> None:
    belvo.post(TOKEN_URL, json=body)
    with pytest.raises(BelvoBadResponse):
        make_client(fake_time).create_widget_token({})
    assert as_api_error(BelvoBadResponse("x")).status == 502


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_with_the_keys(
    belvo: responses.RequestsMock, fake_time: FakeTime, status: int
) -> None:
    elsewhere = "https://collector.example/api/token/"
    belvo.post(TOKEN_URL, status=status, headers={"Location": elsewhere})
    belvo.post(elsewhere, json=token_ok())
    with pytest.raises(BelvoBadResponse):
        make_client(fake_time).create_widget_token({})
    assert [call.request.url for call in belvo.calls] == [TOKEN_URL]


def test_failures_are_logged_with_belvos_request_id_and_no_body(
    belvo: responses.RequestsMock, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    belvo.post(TOKEN_URL, status=503, json=belvo_errors("service_unavailable"))
    belvo.post(TOKEN_URL, status=400, json=belvo_errors("invalid"))
    with pytest.raises(BelvoAPIError):
        make_client(fake_time).create_widget_token({"widget": {"consent": {"name": "Ralph Bragg"}}})

    failures = [r for r in caplog.records if r.getMessage() == "belvo call failed"]
    assert [(r.method, r.path, r.status, r.attempt, r.belvo_request_id) for r in failures] == [  # type: ignore[attr-defined]
        ("POST", "/api/token/", 503, 1, "a6e1c493d7a29d91aed4338e6fcf077d"),
        ("POST", "/api/token/", 400, 2, "a6e1c493d7a29d91aed4338e6fcf077d"),
    ]
    everything = " ".join(str(r.__dict__) for r in caplog.records)
    assert SECRET_PASSWORD not in everything
    assert "Ralph Bragg" not in everything
