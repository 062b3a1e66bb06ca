"""`Idempotency-Key` on `POST /v1/widget-sessions`: a phone that lost the answer and retries gets the session
it already created, and Belvo is not asked for a second token (docs/security.md F6)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import responses
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from server.models import WidgetSession
from server.storage import database
from tests.conftest import bearer
from tests.server.conftest import TOKEN_URL, real_app, session_body
from tests.server.test_widget_sessions_api import SESSIONS
from tests.support import Clock, assert_error


def create(client: FlaskClient, app: Flask, key: str | None, user: str = "alice", **body: Any) -> Any:
    headers = bearer(app, user) | ({} if key is None else {"Idempotency-Key": key})
    return client.post(SESSIONS, json=session_body(**body), headers=headers)


def sessions_stored(app: Flask) -> int:
    with database(app).session() as db:
        return db.scalar(select(func.count()).select_from(WidgetSession)) or 0


def token_calls(belvo: responses.RequestsMock) -> int:
    return sum(call.request.url == TOKEN_URL for call in belvo.calls)


def test_a_retry_with_the_same_key_returns_the_same_session_without_asking_belvo(
    app_real: Flask, client_real: FlaskClient, belvo: responses.RequestsMock, minted: dict[str, str]
) -> None:
    first = create(client_real, app_real, "retry-1")
    again = create(client_real, app_real, "retry-1")

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert token_calls(belvo) == 1
    assert sessions_stored(app_real) == 1


def test_without_a_key_or_with_a_new_key_each_request_is_a_new_session(
    database_url: str, clock: Clock, belvo: responses.RequestsMock, minted: dict[str, str]
) -> None:
    app = real_app(database_url, clock, SESSION_MAX_PENDING="4")
    ids = {create(app.test_client(), app, key).get_json()["id"] for key in (None, None, "a", "b")}
    assert len(ids) == 4
    assert token_calls(belvo) == 4
    database(app).dispose()


def test_the_same_key_with_another_body_is_refused_and_stores_nothing(
    app_real: Flask, client_real: FlaskClient, belvo: responses.RequestsMock, minted: dict[str, str]
) -> None:
    create(client_real, app_real, "k")
    other = create(client_real, app_real, "k", access_mode="single")

    assert_error(other, 422, "idempotency_key_reused", "Idempotency-Key")
    assert sessions_stored(app_real) == 1
    assert token_calls(belvo) == 1


def test_keys_belong_to_their_user(
    app_real: Flask, client_real: FlaskClient, belvo: responses.RequestsMock, minted: dict[str, str]
) -> None:
    alice = create(client_real, app_real, "shared", user="alice").get_json()
    bob = create(client_real, app_real, "shared", user="bob").get_json()
    assert alice["id"] != bob["id"]


def test_a_malformed_key_is_a_400(
    app_real: Flask, client_real: FlaskClient, belvo: responses.RequestsMock, minted: dict[str, str]
) -> None:
    for key in ("", "has space", "x" * 256, "ação"):
        assert_error(create(client_real, app_real, key), 400, "invalid_request", "Idempotency-Key")
    assert token_calls(belvo) == 0


def test_concurrent_retries_store_one_session(
    app_real: Flask, belvo: responses.RequestsMock, minted: dict[str, str]
) -> None:
    def post(_: int) -> Any:
        response = create(app_real.test_client(), app_real, "burst")
        return response.status_code, response.get_json()["id"]

    with ThreadPoolExecutor(max_workers=5) as pool:
        answers = list(pool.map(post, range(5)))

    assert {status for status, _ in answers} == {201}
    assert len({session_id for _, session_id in answers}) == 1
    assert sessions_stored(app_real) == 1
