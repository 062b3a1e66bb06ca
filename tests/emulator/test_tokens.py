"""``POST /api/token/``: Belvo's rules for the widget token request and the HS512 JWTs it answers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from emulator import DEFAULT_SECRET_ID, DEFAULT_SECRET_PASSWORD, Emulator
from tests.emulator.builders import (
    CNPJ,
    CPF,
    OFDA_SCOPES,
    Widget,
    basic,
    sdk_token_request,
    token_request,
)

# The emulator's clock (tests.emulator.conftest.Clock) is not the wall clock.
NO_TIME_CHECKS = {"verify_exp": False, "verify_iat": False}


def _decode(emu: Emulator, token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token, emu.config.signing_key, algorithms=["HS512"], options=NO_TIME_CHECKS
    )
    return claims


def test_ofda_request_answers_an_hs512_access_and_refresh_pair(
    emu_client: FlaskClient, emu: Emulator
) -> None:
    response = emu_client.post("/api/token/", json=token_request())

    assert response.status_code == 200
    assert list(response.json) == ["refresh", "access"]
    assert jwt.get_unverified_header(response.json["access"])["alg"] == "HS512"
    access = _decode(emu, response.json["access"])
    assert access["token_type"] == "access"
    assert access["exp"] - access["iat"] == 600
    assert re.fullmatch(r"[0-9a-f]{32}", access["jti"])
    assert access["scopes"] == OFDA_SCOPES.split(",")
    assert (access["environment"], access["iss"]) == ("sandbox", "sandbox.belvo.com")
    assert access["user_id"] == emu.state.belvo_user_id
    refresh = _decode(emu, response.json["refresh"])
    assert refresh["token_type"] == "refresh"
    assert refresh["jti"] != access["jti"]


def test_access_lifetime_follows_the_configured_ttl(make_emu_app: Callable[..., Flask]) -> None:
    app = make_emu_app(EMULATOR_ACCESS_TTL_SECONDS=60, EMULATOR_SIGNING_KEY="k" * 64)
    response = app.test_client().post("/api/token/", json=token_request())

    claims = jwt.decode(response.json["access"], "k" * 64, algorithms=["HS512"], options=NO_TIME_CHECKS)
    assert claims["exp"] - claims["iat"] == 60


def test_wrong_secret_keys_are_refused_with_belvos_error_array(emu_client: FlaskClient) -> None:
    body = token_request()
    body["password"] = "not-the-password"

    response = emu_client.post("/api/token/", json=body)

    assert response.status_code == 401
    [error] = response.json
    assert (error["code"], error["message"]) == ("authentication_failed", "Invalid Secret Keys")
    assert re.fullmatch(r"[0-9a-f]{32}", error["request_id"])


def test_keys_sent_only_as_basic_auth_are_accepted_as_the_sdks_send_them(emu_client: FlaskClient) -> None:
    body = sdk_token_request()
    del body["id"], body["password"]

    assert emu_client.post("/api/token/", json=body, headers=basic()).status_code == 200
    assert emu_client.post("/api/token/", json=body).status_code == 401


def test_the_sdks_default_request_gets_a_token(emu_client: FlaskClient, emu: Emulator) -> None:
    response = emu_client.post("/api/token/", json=sdk_token_request())

    assert response.status_code == 200
    assert _decode(emu, response.json["access"])["scopes"] == ["read_institutions", "write_links"]


CONSENT = ("widget", "consent")


def test_access_tokens_carry_belvos_claims(emu_client: FlaskClient, emu: Emulator) -> None:
    body = {**token_request(), "stale_in": "90d", "credentials_storage": "30d"}
    access = _decode(emu, emu_client.post("/api/token/", json=body).json["access"])

    # The claims of the decoded token in Belvo's API reference, in its order.
    assert list(access) == [
        "token_type", "exp", "iat", "jti", "user_id", "organization_name", "organization_id", "scopes",
        "environment", "api_url", "credentials_storage", "stale_in", "fetch_resources", "iss",
    ]  # fmt: skip
    assert access["organization_id"] == access["user_id"] == emu.state.belvo_user_id
    assert (access["stale_in"], access["credentials_storage"]) == ("90d", "30d")
    assert access["fetch_resources"] == body["fetch_resources"]
    assert access["api_url"] == "localhost"


# Belvo's own token examples: each must be accepted as Belvo accepts it.
BELVO_EXAMPLES = {
    # The branding page's full example: SDK scopes, no fetch_resources, an "event" URL named error.
    "branding page": lambda b: _with(
        _with(_without(b, "fetch_resources"), "read_institutions,write_links", "scopes"),
        "your-url-here://error",
        "widget",
        "callback_urls",
        "event",
    ),
    # The API reference's example sends the CPF as a JSON number.
    "API reference": lambda b: _with(
        b, [{"type": "CPF", "number": 76109277673, "name": "Ralph Bragg"}], *CONSENT, "identification_info"
    ),
    "OFDA guide, with a theme left empty": lambda b: _with(b, [], "widget", "theme"),
}


_CONSENT = {
    "terms_and_conditions_url": "https://www.your_terms_and_conditions.com",
    "permissions": ["REGISTER", "ACCOUNTS", "CREDIT_CARDS", "CREDIT_OPERATIONS"],
    "identification_info": [{"type": "CPF", "number": "76109277673", "name": "Ralph Bragg"}],
}
_PURPOSE = (
    "Soluções financeiras personalizadas oferecidas por meio de recomendações sob medida, visando melhores "
    "ofertas de produtos financeiros e de crédito."
)
# Belvo's published token requests, as published (the secret keys aside).
PUBLISHED = {
    # https://developers.belvo.com/docs/hosted-widget-ofda, "Generate an access token"
    "hosted widget guide": {
        "scopes": OFDA_SCOPES,
        "stale_in": "300d",
        "fetch_resources": ["ACCOUNTS", "TRANSACTIONS", "OWNERS"],
        "widget": {
            "purpose": _PURPOSE,
            "openfinance_feature": "consent_link_creation",
            "callback_urls": {
                "success": "your_deeplink_here://success",
                "exit": "your_deeplink_here://exit",
                "event": "your_deeplink_here://event",
            },
            "consent": _CONSENT,
        },
    },
    # The example request of POST /api/token/ in Belvo's API reference.
    "API reference": {
        "scopes": OFDA_SCOPES,
        "stale_in": "42d",
        "fetch_resources": ["ACCOUNTS", "TRANSACTIONS", "OWNERS", "BILLS"],
        "widget": {
            "purpose": _PURPOSE,
            "openfinance_feature": "consent_link_creation",
            "callback_urls": {
                "success": "your_deeplink_here://success",
                "exit": "your_deeplink_here://exit",
                "event": "your_deeplink_here://error",
            },
            "branding": {
                "company_icon": "https://mysite.com/icon.svg",
                "company_logo": "https://mysite.com/logo.svg",
                "company_name": "ACME",
                "company_terms_url": "https://belvo.com/terms-service/",
                "overlay_background_color": "#F0F2F4",
                "social_proof": True,
            },
            "theme": [{"css_key": "--color-primary-base", "value": "#907AD6"}],
            "consent": {
                **_CONSENT,
                "identification_info": [{"type": "CPF", "number": 76109277673, "name": "Ralph Bragg"}],
            },
        },
    },
}


@pytest.mark.parametrize("example", PUBLISHED, ids=list(PUBLISHED))
def test_belvos_published_requests_get_a_token(emu_client: FlaskClient, emu: Emulator, example: str) -> None:
    body = {"id": DEFAULT_SECRET_ID, "password": DEFAULT_SECRET_PASSWORD, **PUBLISHED[example]}

    response = emu_client.post("/api/token/", json=body)

    assert response.status_code == 200, response.json
    assert _decode(emu, response.json["access"])["fetch_resources"] == body["fetch_resources"]
    widget = Widget(emu_client)
    widget.open(response.json["access"])
    widget.connect()
    assert widget.callback().startswith("your_deeplink_here://success?link=")


@pytest.mark.parametrize("example", BELVO_EXAMPLES, ids=list(BELVO_EXAMPLES))
def test_belvos_own_examples_get_a_token(emu_client: FlaskClient, emu: Emulator, example: str) -> None:
    response = emu_client.post("/api/token/", json=BELVO_EXAMPLES[example](token_request()))

    assert response.status_code == 200, response.json
    claims = _decode(emu, response.json["access"])
    assert claims["fetch_resources"], "a link made with it fetches some resources"


def test_without_fetch_resources_the_link_fetches_what_belvo_pulls_after_creation(
    emu_client: FlaskClient, emu: Emulator
) -> None:
    access = emu_client.post("/api/token/", json=_without(token_request(), "fetch_resources")).json["access"]

    assert _decode(emu, access)["fetch_resources"] == [
        "OWNERS",
        "ACCOUNTS",
        "TRANSACTIONS",
        "BILLS",
        "INVESTMENTS",
    ]


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


def _with(body: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


BROKEN_REQUESTS = {
    "fetch_resources as a comma string": (
        lambda b: _with(b, "ACCOUNTS,OWNERS", "fetch_resources"),
        "fetch_resources",
        "not_a_list",
    ),
    "unknown resource": (
        lambda b: _with(b, ["ACCOUNTS", "BALANCES"], "fetch_resources"),
        "fetch_resources",
        "invalid",
    ),
    "OFDA request that may not write links": (
        lambda b: _with(b, "read_institutions", "scopes"),
        "scopes",
        "invalid",
    ),
    "unknown scope": (lambda b: _with(b, OFDA_SCOPES + ",admin", "scopes"), "scopes", "invalid"),
    "permissions not Belvo's four": (
        lambda b: _with(b, ["ACCOUNTS"], *CONSENT, "permissions"),
        "widget.consent.permissions",
        "invalid",
    ),
    "CPF check digits": (
        lambda b: _with(
            b, [{"type": "CPF", "number": "76109277674", "name": "R"}], *CONSENT, "identification_info"
        ),
        "widget.consent.identification_info.0.number",
        "invalid",
    ),
    "masked CPF": (
        lambda b: _with(
            b, [{"type": "CPF", "number": "761.092.776-73", "name": "R"}], *CONSENT, "identification_info"
        ),
        "widget.consent.identification_info.0.number",
        "invalid",
    ),
    "CNPJ without a CPF": (
        lambda b: _with(
            b, [{"type": "CNPJ", "number": CNPJ, "name": "Bragg Ltda"}], *CONSENT, "identification_info"
        ),
        "widget.consent.identification_info",
        "invalid",
    ),
    "purpose over 600 characters": (
        lambda b: _with(b, "x" * 601, "widget", "purpose"),
        "widget.purpose",
        "max_length",
    ),
    "callback_urls without success": (
        lambda b: _with(b, {"exit": "a://e", "event": "a://v"}, "widget", "callback_urls"),
        "widget.callback_urls",
        "invalid",
    ),
    "callback_urls with an unknown key": (
        lambda b: _with(b, {"success": "a://s", "warning": "a://w"}, "widget", "callback_urls"),
        "widget.callback_urls",
        "invalid",
    ),
    "application_link on a custom scheme": (
        lambda b: _with(b, "a://back", "widget", "callback_urls", "application_link"),
        "widget.callback_urls.application_link",
        "invalid",
    ),
    "javascript callback": (
        lambda b: _with(b, "javascript:alert(1)", "widget", "callback_urls", "success"),
        "widget.callback_urls.success",
        "invalid",
    ),
    "http branding logo": (
        lambda b: _with(b, "http://acme.example/logo.svg", "widget", "branding", "company_logo"),
        "widget.branding.company_logo",
        "invalid",
    ),
    "theme value escaping its declaration": (
        lambda b: _with(
            b, [{"css_key": "--color-primary-base", "value": "red;} body{display:none"}], "widget", "theme"
        ),
        "widget.theme.0.value",
        "invalid",
    ),
    "unknown theme key": (
        lambda b: _with(b, [{"css_key": "--font-family", "value": "serif"}], "widget", "theme"),
        "widget.theme.0.css_key",
        "invalid",
    ),
    "unknown feature": (
        lambda b: _with(b, "payment_initiation", "widget", "openfinance_feature"),
        "widget.openfinance_feature",
        "invalid_choice",
    ),
    "update mode": (
        lambda b: _with(b, "9f3c2a5e-0000-4000-8000-000000000000", "link_id"),
        "link_id",
        "unsupported_operation",
    ),
}


@pytest.mark.parametrize("case", BROKEN_REQUESTS, ids=list(BROKEN_REQUESTS))
def test_broken_requests_are_refused_naming_the_field(emu_client: FlaskClient, case: str) -> None:
    change, field, code = BROKEN_REQUESTS[case]

    response = emu_client.post("/api/token/", json=change(token_request()))

    assert response.status_code == 400
    assert {(e["field"], e["code"]) for e in response.json} == {(field, code)}
    assert CPF not in response.text  # a document number never comes back in an error


def test_every_broken_rule_is_reported_at_once_under_one_request_id(emu_client: FlaskClient) -> None:
    body = _with(token_request(), "ACCOUNTS", "fetch_resources")
    _with(body, "x" * 601, "widget", "purpose")

    response = emu_client.post("/api/token/", json=body)

    assert {e["field"] for e in response.json} == {"fetch_resources", "widget.purpose"}
    assert len({e["request_id"] for e in response.json}) == 1


def test_a_business_sends_a_cpf_and_a_cnpj(emu_client: FlaskClient) -> None:
    people = [
        {"type": "CPF", "number": CPF, "name": "Ralph Bragg"},
        {"type": "CNPJ", "number": CNPJ, "name": "Bragg"},
    ]
    body = _with(token_request(), people, *CONSENT, "identification_info")

    assert emu_client.post("/api/token/", json=body).status_code == 200


def test_a_body_that_is_not_a_json_object_is_a_parse_error(emu_client: FlaskClient) -> None:
    for body in ("{not json", "[1, 2]"):
        response = emu_client.post("/api/token/", data=body, content_type="application/json")

        assert response.status_code == 400
        assert response.json[0]["code"] == "parse_error"


def test_a_form_encoded_sdk_request_is_understood(emu_client: FlaskClient) -> None:
    response = emu_client.post("/api/token/", data=sdk_token_request())

    assert response.status_code == 200
