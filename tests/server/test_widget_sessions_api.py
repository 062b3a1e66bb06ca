"""`POST /v1/widget-sessions` and reading sessions back, as a mobile app sees them, with Belvo recorded."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import qrcode
import qrcode.image.svg
import responses
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from server.models import AppUser, WidgetSession
from server.observability import JsonFormatter
from server.storage import database
from tests.conftest import bearer
from tests.server.conftest import (
    BELVO,
    CPF,
    NAME,
    SECRET_ID,
    SECRET_PASSWORD,
    TOKEN_URL,
    belvo_errors,
    real_app,
    session_body,
    token_reply,
)
from tests.support import Clock, assert_error

GOLDEN = Path(__file__).parent / "golden"
SESSIONS = "/v1/widget-sessions"
CONTRACT_KEYS = {"id", "status", "widget_url", "expires_at", "external_id", "callback_urls"}


def golden(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


def stored(app: Flask) -> tuple[int, int]:
    """How many sessions and app users the database holds."""
    with database(app).session() as db:
        sessions = db.scalar(select(func.count()).select_from(WidgetSession))
        users = db.scalar(select(func.count()).select_from(AppUser))
    return sessions or 0, users or 0


def query_of(url: str) -> dict[str, str]:
    pairs = parse_qsl(urlsplit(url).query, strict_parsing=True)
    assert len(pairs) == len(dict(pairs)), "a parameter appears twice"
    return dict(pairs)


@pytest.fixture
def app(app_real: Flask) -> Flask:
    return app_real


@pytest.fixture
def client(client_real: FlaskClient) -> FlaskClient:
    return client_real


def create(client: FlaskClient, app: Flask, user: str = "alice", **extra: Any) -> Any:
    return client.post(SESSIONS, json=session_body(**extra), headers=bearer(app, user))


# -- the happy path --------------------------------------------------------------------------------------


def test_a_session_sends_the_golden_payload_and_returns_the_widget_url(
    app: Flask, client: FlaskClient, belvo: responses.RequestsMock, minted: dict[str, str], clock: Clock
) -> None:
    response = create(client, app)

    assert response.status_code == 201, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == CONTRACT_KEYS
    assert json.loads(belvo.calls[0].request.body) == golden("token_request_minimal.json")

    assert re.fullmatch(r"ws_[A-Za-z0-9_-]{32}", body["id"])
    assert body["status"] == "pending"
    assert body["expires_at"] == "2026-11-21T12:20:00Z"  # the token's exp, not a constant
    assert re.fullmatch(r"[A-Za-z0-9_-]{3,}", body["external_id"])
    assert "alice" not in body["external_id"]
    assert body["callback_urls"] == {
        "success": "ofdaapp://belvo/success",
        "exit": "ofdaapp://belvo/exit",
        "event": "ofdaapp://belvo/event",
    }
    assert body["widget_url"].startswith("https://widget.belvo.io/?")
    assert query_of(body["widget_url"]) == {
        "access_token": minted["access"],
        "locale": "pt",
        "mode": "webapp",
        "integration_type": "openfinance",
        "country_codes": "BR",
        "external_id": body["external_id"],
        "access_mode": "recurrent",
    }
    assert minted["refresh"] not in response.get_data(as_text=True)

    with database(app).session() as db:
        row = db.get(WidgetSession, body["id"])
        assert row is not None
        assert (row.user_id, row.widget_url, row.external_id) == (
            "alice",
            body["widget_url"],
            body["external_id"],
        )
    # Personal data went to Belvo, and nowhere into our tables.
    assert CPF not in json.dumps([row.options, row.callback_urls])
    assert NAME not in str(row.options)


def test_every_option_reaches_belvo_or_the_widget_url(
    database_url: str, clock: Clock, belvo: responses.RequestsMock, minted: dict[str, str]
) -> None:
    app = real_app(
        database_url,
        clock,
        CALLBACK_URL_SUCCESS="https://links.acme.example/belvo/success",
        CALLBACK_URL_EXIT="https://links.acme.example/belvo/exit",
        CALLBACK_URL_EVENT="https://links.acme.example/belvo/event",
        BRANDING_JSON=json.dumps(golden("token_request_full.json")["widget"]["branding"]),
        THEME_JSON=json.dumps(golden("token_request_full.json")["widget"]["theme"]),
        COLOR_SCHEME="DARK",
        DEFAULT_CONSENT_DURATION_DAYS="183",
        STALE_IN="365d",
        WIDGET_SHOW_CLOSE_DIALOG="false",
        WIDGET_SHOW_ABANDON_SURVEY="true",
    )
    request = {
        "identification_info": [
            {"type": "CPF", "number": "761.092.776-73", "name": " Ralph Bragg "},
            {"type": "CNPJ", "number": "11.222.333/0001-81", "name": "Bragg Mechanics"},
        ],
        "access_mode": "single",
        "institutions": ["ofmockbank_br_business", "ofitau_br_business"],
        "institution_types": ["business"],
        "resources": ["ACCOUNTS", "OWNERS"],
        "fetch_resources": ["ACCOUNTS", "OWNERS", "BILLS"],
        "stale_in": "90d",
        "purpose": "Análise de crédito para a sua empresa.",
        "locale": "pt",
    }
    listed = [{"name": code} for code in request["institutions"]]
    belvo.get(
        f"{BELVO}/api/institutions/", json={"count": 2, "next": None, "previous": None, "results": listed}
    )
    response = app.test_client().post(SESSIONS, json=request, headers=bearer(app, "bob"))

    assert response.status_code == 201, response.get_json()
    (token_call,) = [call for call in belvo.calls if call.request.url == TOKEN_URL]
    assert json.loads(token_call.request.body or b"") == golden("token_request_full.json")
    url = response.get_json()["widget_url"]
    assert "institutions=ofmockbank_br_business,ofitau_br_business&" in url
    assert query_of(url) == {
        "access_token": minted["access"],
        "locale": "pt",
        "mode": "webapp",
        "integration_type": "openfinance",
        "country_codes": "BR",
        "external_id": response.get_json()["external_id"],
        "access_mode": "single",
        "institutions": "ofmockbank_br_business,ofitau_br_business",
        "institution_types": "business",
        "resources": "ACCOUNTS,OWNERS",
        "show_close_dialog": "false",
        "show_abandon_survey": "true",
    }
    database(app).dispose()


def test_each_user_keeps_one_opaque_external_id(
    app: Flask, client: FlaskClient, minted: dict[str, str]
) -> None:
    first, again = create(client, app, "alice").get_json(), create(client, app, "alice").get_json()
    other = create(client, app, "a").get_json()
    assert first["external_id"] == again["external_id"] != other["external_id"]
    assert first["id"] != again["id"]
    assert "a" not in other["external_id"].lower()
    assert stored(app) == (3, 2)


def test_after_a_session_its_pooled_connection_writes_all_or_nothing_again(
    app: Flask, client: FlaskClient, minted: dict[str, str]
) -> None:
    """A session is stored with one autocommitted INSERT; the connection must not stay in autocommit
    for the next request that borrows it, or a failed multi-statement write would be half-stored."""
    assert create(client, app).status_code == 201
    engine = database(app).engine
    assert engine.pool.checkedin() == 1  # the one connection the request used, back in the pool

    def write_then_fail() -> None:
        with database(app).session() as db:
            db.add(AppUser(user_id="bob", external_id="an-external-id-of-bob"))
            db.flush()
            raise RuntimeError("the second statement of this write fails")

    with pytest.raises(RuntimeError, match="second statement"):
        write_then_fail()
    assert stored(app) == (1, 1)


# -- what is refused, and then nothing is stored and Belvo is not called ---------------------------------


def doc(kind: str = "CPF", number: str = CPF, **fields: str) -> dict[str, str]:
    return {"type": kind, "number": number, "name": NAME, **fields}


def ids(*docs: dict[str, str]) -> dict[str, Any]:
    return {"identification_info": list(docs)}


FULLWIDTH_CPF = "".join(chr(0xFF10 + int(d)) for d in CPF)
CNPJ = "11222333000181"

BAD_BODIES = [
    (ids(doc(number="76109277674")), "invalid_document", "identification_info.0.number"),
    (ids(doc(number=FULLWIDTH_CPF)), "invalid_document", "identification_info.0.number"),
    (ids(doc(), doc("CNPJ", "11222333000182")), "invalid_document", "identification_info.1.number"),
    (ids(doc("CNPJ", CNPJ)), "validation_error", "identification_info"),
    (ids(doc(), doc()), "validation_error", "identification_info"),
    (ids(doc(), doc("CNPJ", CNPJ), doc("CNPJ", CNPJ)), "validation_error", "identification_info"),
    (ids(), "validation_error", "identification_info"),
    (ids(doc("RG")), "validation_error", "identification_info.0.type"),
    (ids(doc(name="Ralph\u202eggarB")), "validation_error", "identification_info.0.name"),
    (ids({"type": "CPF", "number": CPF}), "validation_error", "identification_info.0.name"),
    ({}, "validation_error", "identification_info"),
    (session_body(purpose="x" * 601), "validation_error", "purpose"),
    (session_body(purpose="ok\u202e"), "validation_error", "purpose"),
    (session_body(locale="es"), "validation_error", "locale"),
    (session_body(stale_in="300"), "validation_error", "stale_in"),
    (session_body(stale_in="366d"), "validation_error", "stale_in"),
    (session_body(access_mode="sometimes"), "validation_error", "access_mode"),
    (session_body(fetch_resources=[]), "validation_error", "fetch_resources"),
    (session_body(fetch_resources=["ACCOUNTS", "ACCOUNTS"]), "validation_error", "fetch_resources"),
    (session_body(resources=["EMPLOYMENTS"]), "validation_error", "resources.0"),
    (session_body(institutions=["Bad Bank"]), "validation_error", "institutions.0"),
    (session_body(institution_types="retail"), "validation_error", "institution_types"),
    # Server-owned values: a client may not pick them (docs/security.md B1).
    (session_body(callback_urls={"success": "https://evil.example/cb"}), "validation_error", "callback_urls"),
    (session_body(branding={"company_name": "Evil"}), "validation_error", "branding"),
    (session_body(scopes="read_institutions"), "validation_error", "scopes"),
    (session_body(permissions=["REGISTER"]), "validation_error", "permissions"),
]


@pytest.mark.parametrize(("body", "code", "field"), BAD_BODIES)
def test_invalid_bodies_are_refused_with_the_field(
    app: Flask, client: FlaskClient, belvo: responses.RequestsMock, body: Any, code: str, field: str
) -> None:
    response = client.post(SESSIONS, json=body, headers=bearer(app, "alice"))
    assert_error(response, 422, code, field)
    assert len(belvo.calls) == 0
    assert stored(app) == (0, 0)


def test_the_contracts_document_error_message(app: Flask, client: FlaskClient) -> None:
    body = session_body(identification_info=[{"type": "CPF", "number": "76109277674", "name": NAME}])
    error = client.post(SESSIONS, json=body, headers=bearer(app, "alice")).get_json()["errors"][0]
    assert error["message"] == "CPF check digits do not match"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({}, 400, "invalid_request"),
        ({"data": "{not json", "content_type": "application/json"}, 400, "invalid_request"),
        ({"data": "identification_info=x", "content_type": "application/x-www-form-urlencoded"},
         415, "unsupported_media_type"),
        ({"json": [session_body()]}, 422, "validation_error"),
        ({"json": "a string"}, 422, "validation_error"),
    ],
)  # fmt: skip
def test_malformed_requests(
    app: Flask,
    client: FlaskClient,
    belvo: responses.RequestsMock,
    kwargs: dict[str, Any],
    status: int,
    code: str,
) -> None:
    response = client.post(SESSIONS, headers=bearer(app, "alice"), **kwargs)
    assert_error(response, status, code)
    assert len(belvo.calls) == 0
    assert stored(app) == (0, 0)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic YTpi"}],
)
def test_without_a_valid_token_nothing_happens(
    app: Flask, client: FlaskClient, belvo: responses.RequestsMock, headers: dict[str, str]
) -> None:
    assert_error(client.post(SESSIONS, json=session_body(), headers=headers), 401, "unauthenticated")
    assert len(belvo.calls) == 0
    assert stored(app) == (0, 0)


def test_an_expired_app_token_is_refused(
    app: Flask, client: FlaskClient, belvo: responses.RequestsMock
) -> None:
    from server.auth import mint_token
    from server.settings import settings

    token = mint_token("alice", settings(app).app_jwt_secret, timedelta(seconds=-1))
    response = client.post(SESSIONS, json=session_body(), headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 401, "unauthenticated")
    assert len(belvo.calls) == 0


# -- Belvo failing -----------------------------------------------------------------------------------


def test_belvo_down_is_503_with_retry_after_and_nothing_stored(
    app: Flask, client: FlaskClient, belvo: responses.RequestsMock
) -> None:
    belvo.post(TOKEN_URL, status=503, json=belvo_errors("service_unavailable"))
    response = create(client, app)
    assert_error(response, 503, "upstream_unavailable")
    assert int(response.headers["Retry-After"]) >= 1
    assert len(belvo.calls) == 6  # the first try and five retries (the test schedule waits 0 s)
    assert stored(app)[0] == 0  # no session (the user's opaque external id is kept: it held their lock)


def test_belvo_refusing_is_502_with_its_request_id(
    app: Flask, client: FlaskClient, belvo: responses.RequestsMock
) -> None:
    belvo.post(TOKEN_URL, status=400, json=belvo_errors("invalid", request_id="f" * 32))
    body = assert_error(create(client, app), 502, "upstream_error")
    assert "f" * 32 in body["errors"][0]["message"]
    assert len(belvo.calls) == 1
    assert stored(app)[0] == 0


def test_a_failed_token_call_gives_its_slot_back(
    database_url: str, clock: Clock, belvo: responses.RequestsMock
) -> None:
    app = real_app(database_url, clock, SESSION_RATE_LIMIT_PER_MINUTE="1")
    client = app.test_client()
    belvo.post(TOKEN_URL, status=400, json=belvo_errors("invalid"))
    belvo.post(TOKEN_URL, json=token_reply(clock))
    assert_error(create(client, app), 502, "upstream_error")
    assert create(client, app).status_code == 201  # the one session a minute is still there to take
    assert_error(create(client, app), 429, "rate_limited")
    database(app).dispose()


def test_too_many_sessions_is_retried_then_succeeds(
    app: Flask, client: FlaskClient, belvo: responses.RequestsMock, clock: Clock
) -> None:
    belvo.post(TOKEN_URL, status=400, json=belvo_errors("too_many_sessions"))
    belvo.post(TOKEN_URL, json=token_reply(clock))
    assert create(client, app).status_code == 201
    assert len(belvo.calls) == 2


def test_wrong_secret_keys_are_503_not_401(
    app: Flask, client: FlaskClient, belvo: responses.RequestsMock
) -> None:
    belvo.post(TOKEN_URL, status=401, json=belvo_errors("authentication_failed"))
    assert_error(create(client, app), 503, "upstream_unavailable")


# -- the rate limit (docs/security.md C1) ------------------------------------------------------------------


def test_sessions_per_user_per_minute_are_limited(
    database_url: str, clock: Clock, belvo: responses.RequestsMock, minted: dict[str, str]
) -> None:
    app = real_app(database_url, clock, SESSION_RATE_LIMIT_PER_MINUTE="2")
    client = app.test_client()
    assert [create(client, app).status_code for _ in range(2)] == [201, 201]
    clock.advance(seconds=20)

    limited = create(client, app)
    assert_error(limited, 429, "rate_limited")
    assert limited.headers["Retry-After"] == "40"
    assert len(belvo.calls) == 2  # no upstream call for the refused one
    assert create(client, app, "bob").status_code == 201  # per user

    clock.advance(seconds=41)
    assert create(client, app).status_code == 201
    database(app).dispose()


@pytest.fixture
def ten_minute_tokens(belvo: responses.RequestsMock, clock: Clock) -> responses.RequestsMock:
    """Belvo's tokens live 10 minutes from when each is minted."""
    belvo.add_callback(
        responses.POST, TOKEN_URL, lambda _: (200, {}, json.dumps(token_reply(clock, timedelta(minutes=10))))
    )
    return belvo


def test_sessions_per_user_per_day_are_limited_even_when_spread_out(
    database_url: str, clock: Clock, ten_minute_tokens: responses.RequestsMock
) -> None:
    app = real_app(database_url, clock, SESSION_RATE_LIMIT_PER_DAY="3")
    client = app.test_client()
    for _ in range(3):  # well under the per-minute limit, and each expired before the next
        assert create(client, app).status_code == 201
        clock.advance(hours=6)

    refused = create(client, app)
    assert_error(refused, 429, "rate_limited")
    assert "per day" in refused.get_json()["errors"][0]["message"]
    assert refused.headers["Retry-After"] == str(6 * 3600)  # the first one turns a day old in 6 hours
    assert len(ten_minute_tokens.calls) == 3  # no token minted, no CPF sent, for the refused one
    assert create(client, app, "bob").status_code == 201  # per user

    clock.advance(hours=6, seconds=1)
    assert create(client, app).status_code == 201
    database(app).dispose()


def test_when_several_limits_are_reached_retry_after_is_the_longest_wait(
    database_url: str, clock: Clock, minted: dict[str, str]
) -> None:
    app = real_app(database_url, clock, SESSION_RATE_LIMIT_PER_MINUTE="2", SESSION_RATE_LIMIT_PER_DAY="2")
    client = app.test_client()
    assert [create(client, app).status_code for _ in range(2)] == [201, 201]

    refused = create(client, app)
    assert_error(refused, 429, "rate_limited")
    # Trying again after the minute would only be refused again: the day's limit says when it is worth it.
    assert refused.headers["Retry-After"] == str(24 * 3600)
    database(app).dispose()


def from_address(client: FlaskClient, app: Flask, user: str, address: str, **headers: str) -> Any:
    return client.post(
        SESSIONS,
        json=session_body(),
        headers={**bearer(app, user), **headers},
        environ_base={"REMOTE_ADDR": address},
    )


def test_an_address_creating_sessions_for_many_users_is_limited_when_configured(
    database_url: str, clock: Clock, belvo: responses.RequestsMock, minted: dict[str, str]
) -> None:
    app = real_app(database_url, clock, SESSION_RATE_LIMIT_PER_IP_PER_MINUTE="2")
    client = app.test_client()
    assert [from_address(client, app, user, "203.0.113.7").status_code for user in ("u1", "u2")] == [201, 201]
    clock.advance(seconds=15)

    refused = from_address(client, app, "u3", "203.0.113.7")
    assert_error(refused, 429, "rate_limited")
    assert "from one address" in refused.get_json()["errors"][0]["message"]
    assert refused.headers["Retry-After"] == "45"
    assert len(belvo.calls) == 2  # no token minted, no CPF sent, for the refused one
    assert from_address(client, app, "u3", "198.51.100.1").status_code == 201  # per address

    clock.advance(seconds=46)
    assert from_address(client, app, "u4", "203.0.113.7").status_code == 201
    with database(app).session() as db:
        keys = set(db.scalars(select(WidgetSession.client_key)))
    # One keyed hash per address, never the address itself (an IP address is personal data).
    assert len(keys) == 2
    assert not any("203.0.113.7" in key or "198.51.100.1" in key for key in keys)
    database(app).dispose()


def test_behind_a_trusted_proxy_the_limit_counts_the_forwarded_address_that_proxy_saw(
    database_url: str, clock: Clock, minted: dict[str, str]
) -> None:
    app = real_app(database_url, clock, SESSION_RATE_LIMIT_PER_IP_PER_MINUTE="1", TRUSTED_PROXY_HOPS="1")
    client = app.test_client()
    router = "10.0.0.1"  # every request reaches the app from the platform's router
    assert from_address(client, app, "u1", router, **{"X-Forwarded-For": "203.0.113.7"}).status_code == 201
    assert from_address(client, app, "u2", router, **{"X-Forwarded-For": "198.51.100.1"}).status_code == 201
    # A client cannot pose as a fresh address: the router appends the address it saw, and only that
    # last hop is trusted.
    forged = from_address(client, app, "u3", router, **{"X-Forwarded-For": "192.0.2.99, 203.0.113.7"})
    assert_error(forged, 429, "rate_limited")
    database(app).dispose()


def test_without_the_address_limit_no_address_is_kept_and_one_address_serves_many_users(
    database_url: str, clock: Clock, minted: dict[str, str]
) -> None:
    app = real_app(database_url, clock)  # a carrier's NAT puts many phones behind one address
    client = app.test_client()
    assert {from_address(client, app, f"u{i}", "203.0.113.7").status_code for i in range(12)} == {201}
    with database(app).session() as db:
        assert set(db.scalars(select(WidgetSession.client_key))) == {None}
    database(app).dispose()


def test_a_session_beyond_the_open_cap_cancels_the_users_oldest_open_one(
    database_url: str, clock: Clock, ten_minute_tokens: responses.RequestsMock
) -> None:
    app = real_app(database_url, clock, SESSION_MAX_PENDING="2")
    client = app.test_client()
    bobs = create(client, app, "bob").get_json()
    oldest = create(client, app).get_json()  # open until 12:10
    clock.advance(minutes=2)
    newer = create(client, app).get_json()  # open until 12:12
    clock.advance(minutes=1)

    newest = create(client, app)  # a webview lost, the app tries again: not refused

    assert newest.status_code == 201
    assert newest.get_json()["status"] == "pending"
    assert len(ten_minute_tokens.calls) == 4

    def read(session_id: str, user: str = "alice") -> Any:
        return client.get(f"{SESSIONS}/{session_id}", headers=bearer(app, user)).get_json()

    assert (read(oldest["id"])["status"], read(oldest["id"])["widget_url"]) == ("cancelled", None)
    assert read(newer["id"])["status"] == "pending"
    assert read(bobs["id"], "bob")["status"] == "pending"  # per user

    # An expired session holds no slot: once the newer one expires, nothing more is cancelled.
    clock.advance(minutes=9, seconds=30)  # 12:12:30
    latest = create(client, app).get_json()
    assert read(newest.get_json()["id"])["status"] == "pending"
    assert read(latest["id"])["status"] == "pending"
    assert read(newer["id"])["status"] == "expired"
    database(app).dispose()


# -- reading a session back ------------------------------------------------------------------------------


def test_the_owner_reads_the_session(app: Flask, client: FlaskClient, minted: dict[str, str]) -> None:
    created = create(client, app).get_json()
    response = client.get(f"{SESSIONS}/{created['id']}", headers=bearer(app, "alice"))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {
        **created,
        "created_at": "2026-11-21T12:00:00Z",
        "link_id": None,
        "institution": None,
        "events": [],
    }


def test_another_users_session_is_not_found(app: Flask, client: FlaskClient, minted: dict[str, str]) -> None:
    session_id = create(client, app).get_json()["id"]
    for path in ("", "/qr.svg", "/qr.png"):
        assert_error(
            client.get(f"{SESSIONS}/{session_id}{path}", headers=bearer(app, "mallory")), 404, "not_found"
        )
    assert_error(client.get(f"{SESSIONS}/ws_missing", headers=bearer(app, "alice")), 404, "not_found")


def test_past_expires_at_the_session_is_expired_and_hides_its_url(
    app: Flask, client: FlaskClient, minted: dict[str, str], clock: Clock
) -> None:
    session_id = create(client, app).get_json()["id"]
    clock.advance(minutes=20)
    view = client.get(f"{SESSIONS}/{session_id}", headers=bearer(app, "alice")).get_json()
    assert (view["status"], view["widget_url"]) == ("expired", None)


# -- QR codes ---------------------------------------------------------------------------------------


def test_qr_codes_encode_the_widget_url(app: Flask, client: FlaskClient, minted: dict[str, str]) -> None:
    created = create(client, app).get_json()
    svg = client.get(f"{SESSIONS}/{created['id']}/qr.svg", headers=bearer(app, "alice"))
    png = client.get(f"{SESSIONS}/{created['id']}/qr.png", headers=bearer(app, "alice"))

    assert (svg.status_code, svg.mimetype, svg.headers["Cache-Control"]) == (200, "image/svg+xml", "no-store")
    assert (png.status_code, png.mimetype, png.headers["Cache-Control"]) == (200, "image/png", "no-store")
    assert png.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in svg.data
    # The same matrix as a QR code of the widget URL (qrcode is deterministic for the same input).
    expected = qrcode.QRCode()
    expected.add_data(created["widget_url"])
    expected.make(fit=True)
    assert f'viewBox="0 0 {(expected.modules_count + 8)}' in svg.get_data(as_text=True).replace("mm", "")


@pytest.fixture
def session_id(app: Flask, client: FlaskClient, minted: dict[str, str]) -> str:
    session_id: str = create(client, app).get_json()["id"]
    return session_id


def test_an_expired_sessions_qr_is_gone(
    app: Flask, client: FlaskClient, session_id: str, clock: Clock
) -> None:
    clock.advance(minutes=21)
    assert_error(
        client.get(f"{SESSIONS}/{session_id}/qr.png", headers=bearer(app, "alice")), 410, "session_expired"
    )


def test_a_completed_sessions_qr_is_a_conflict(app: Flask, client: FlaskClient, session_id: str) -> None:
    with database(app).session() as db:
        db.execute(update(WidgetSession).where(WidgetSession.id == session_id).values(status="succeeded"))
    response = client.get(f"{SESSIONS}/{session_id}/qr.svg", headers=bearer(app, "alice"))
    assert_error(response, 409, "session_already_completed")


# -- logs (docs/security.md C7) ------------------------------------------------------------------------------


def test_no_log_record_carries_secrets_tokens_documents_or_names(
    app: Flask,
    client: FlaskClient,
    belvo: responses.RequestsMock,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    reply = token_reply(clock)
    belvo.post(TOKEN_URL, status=503, json=belvo_errors("service_unavailable"))
    belvo.post(TOKEN_URL, json=reply)
    formatted_cpf = "761.092.776-73"
    body = session_body(identification_info=[{"type": "CPF", "number": formatted_cpf, "name": NAME}])
    created = client.post(SESSIONS, json=body, headers=bearer(app, "alice"))
    assert created.status_code == 201
    session_id = created.get_json()["id"]
    client.get(f"{SESSIONS}/{session_id}", headers=bearer(app, "alice"))
    client.get(f"{SESSIONS}/{session_id}/qr.png", headers=bearer(app, "alice"))
    bad = session_body(identification_info=[{"type": "CPF", "number": "76109277674", "name": NAME}])
    client.post(SESSIONS, json=bad, headers=bearer(app, "alice"))

    formatter = JsonFormatter()
    lines = [record.getMessage() for record in caplog.records]
    lines += [formatter.format(record) for record in caplog.records]
    assert any("widget session created" in line for line in lines)
    assert any("belvo call failed" in line for line in lines)
    app_token = bearer(app, "alice")["Authorization"].removeprefix("Bearer ")
    widget = created.get_json()["widget_url"]
    forbidden = [SECRET_ID, SECRET_PASSWORD, reply["access"], reply["refresh"], app_token, widget]
    forbidden += [CPF, formatted_cpf, "76109277674", NAME]
    leaks = [(secret, line) for line in lines for secret in forbidden if secret in line]
    assert leaks == []


# -- documentation ------------------------------------------------------------------------------------


def test_the_openapi_document_describes_the_request_and_the_answers(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    post = spec["paths"]["/v1/widget-sessions"]["post"]
    assert post["security"] == [{"bearerAuth": []}]
    assert "201" in post["responses"]
    request_schema = spec["components"]["schemas"]["WidgetSessionRequest"]
    assert request_schema["required"] == ["identification_info"]
    assert {"identification_info", "access_mode", "institutions", "purpose", "locale"} <= set(
        request_schema["properties"]
    )
    assert request_schema["properties"]["purpose"]["maxLength"] == 600
    assert set(spec["components"]["schemas"]["WidgetSessionCreated"]["properties"]) == CONTRACT_KEYS
    assert {"/v1/widget-sessions/{session_id}/qr.svg", "/v1/widget-sessions/{session_id}/qr.png"} <= set(
        spec["paths"]
    )
    assert "/v1/widget-sessions" in client.get("/docs").get_data(as_text=True)
