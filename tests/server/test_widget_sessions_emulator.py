"""Widget sessions against the in-process emulator (emulator mode, as ``scripts/run`` starts it): the
payload we build is accepted by an independent implementation of Belvo's token rules, the URL opens the
emulator's widget, and Belvo's faults reach the app as the contract's errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.storage import database
from tests.conftest import bearer, make_app
from tests.server.conftest import Clock, session_body
from tests.support import assert_error

SESSIONS = "/v1/widget-sessions"


@pytest.fixture
def emulated(database_url: str, clock: Clock) -> Iterator[Flask]:
    """Emulator mode, one clock for both sides, Belvo's retry schedule without the waiting."""
    app = make_app(database_url, CLOCK=clock, BELVO_RETRY_SCHEDULE="0,0,0,0,0")
    yield app
    database(app).dispose()


@pytest.fixture
def client(emulated: Flask) -> FlaskClient:
    return emulated.test_client()


def fault(client: FlaskClient, **rule: object) -> None:
    response = client.post("/sandbox/_control/faults", json={"match": "/api/token/", "delay_ms": 0, **rule})
    assert response.status_code == 201, response.get_json()


def test_the_seed_cpf_gets_a_url_that_opens_the_emulated_widget(
    emulated: Flask, client: FlaskClient, clock: Clock
) -> None:
    response = client.post(SESSIONS, json=session_body(), headers=bearer(emulated, "alice"))

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    url = urlsplit(body["widget_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == "http://127.0.0.1:8000/sandbox/widget/"
    params = dict(parse_qsl(url.query))
    exp = jwt.decode(params["access_token"], options={"verify_signature": False})["exp"]
    assert body["expires_at"] == datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert datetime.fromtimestamp(exp, UTC) > clock()

    page = client.get(f"{url.path}?{url.query}", follow_redirects=True)
    assert page.status_code == 200
    assert 'data-institution="ofmockbank_br_retail"' in page.get_data(as_text=True)


def test_a_business_session_with_every_option_is_accepted_by_the_emulator(
    database_url: str, clock: Clock
) -> None:
    app = make_app(
        database_url,
        CLOCK=clock,
        BRANDING_JSON=json.dumps({"company_name": "ACME", "company_icon": "https://acme.example/i.svg"}),
        THEME_JSON=json.dumps([{"css_key": "--color-primary-base-dark", "value": "rgba(6, 99, 249, 0.9)"}]),
        COLOR_SCHEME="DARK",
        DEFAULT_CONSENT_DURATION_DAYS="92",
        STALE_IN="300d",
    )
    body = session_body(
        identification_info=[
            {"type": "CPF", "number": "761.092.776-73", "name": "Ralph Bragg"},
            {"type": "CNPJ", "number": "12.ABC.345/01DE-35", "name": "Bragg Mechanics"},
        ],
        access_mode="single",
        institutions=["ofmockbank_br_business"],
        institution_types=["business"],
        fetch_resources=["ACCOUNTS", "OWNERS", "TRANSACTIONS", "BILLS"],
        purpose="Análise de crédito.",
        locale="pt",
    )
    response = app.test_client().post(SESSIONS, json=body, headers=bearer(app, "bob"))
    assert response.status_code == 201, response.get_json()
    database(app).dispose()


def test_belvo_failing_twice_then_answering_is_retried_to_a_201(emulated: Flask, client: FlaskClient) -> None:
    fault(client, status=503, times=2)
    assert client.post(SESSIONS, json=session_body(), headers=bearer(emulated, "alice")).status_code == 201


def test_belvo_down_is_503_with_retry_after_and_nothing_stored(emulated: Flask, client: FlaskClient) -> None:
    fault(client, status=503, times=-1)
    response = client.post(SESSIONS, json=session_body(), headers=bearer(emulated, "alice"))
    assert_error(response, 503, "upstream_unavailable")
    assert int(response.headers["Retry-After"]) >= 1
    sessions = client.get(f"{SESSIONS}/ws_none", headers=bearer(emulated, "alice"))
    assert_error(sessions, 404, "not_found")


def test_wrong_secret_keys_are_503(database_url: str, clock: Clock) -> None:
    app = make_app(database_url, CLOCK=clock, EMULATOR_SECRET_PASSWORD="rotated-at-belvo")
    response = app.test_client().post(SESSIONS, json=session_body(), headers=bearer(app, "alice"))
    assert_error(response, 503, "upstream_unavailable")
    database(app).dispose()
