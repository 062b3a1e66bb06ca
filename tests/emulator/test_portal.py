"""My Belvo Portal in the emulator: ``consent_management`` tokens, the person's consents, renew and revoke
with the consent webhooks they send, and ``/_control/consents`` to move a consent through its life."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient

from emulator import Emulator, emulator_of
from tests.emulator.builders import CPF, NAME, basic, create_link, mint, token_request

OTHER_CPF = "52998224725"
HOOK = "http://backend.test/v1/webhooks/belvo"


def portal_request(cpf: str = CPF) -> dict[str, Any]:
    """The ``consent_management`` token request Belvo's My Belvo Portal page shows."""
    body = token_request()
    return {
        "id": body["id"],
        "password": body["password"],
        "scopes": "read_consents,write_consents,write_consent_callback",
        "widget": {
            "openfinance_feature": "consent_management",
            "consent": {
                "terms_and_conditions_url": "https://example.com/terms",
                "permissions": ["REGISTER", "ACCOUNTS", "CREDIT_CARDS", "CREDIT_OPERATIONS"],
                "identification_info": [{"type": "CPF", "number": cpf, "name": NAME}],
            },
        },
    }


def consents_on(page: str) -> dict[str, str]:
    """Link id to consent state, as the portal page shows them."""
    return dict(re.findall(r'data-test="portal-consent" data-link="([^"]+)" data-state="([^"]+)"', page))


@pytest.fixture
def hooked(make_emu_app: Callable[..., Flask]) -> Flask:
    """An emulator that sends webhooks to a recorded backend."""
    return make_emu_app(EMULATOR_WEBHOOK_URL=HOOK, EMULATOR_WEBHOOK_AUTH="Bearer s3cret")


def test_the_portal_lists_the_consents_of_the_tokens_person_only(emu_client: FlaskClient) -> None:
    mine = create_link(emu_client, access_mode="recurrent")
    create_link(
        emu_client, identification_info=[{"type": "CPF", "number": OTHER_CPF, "name": "Outra Pessoa"}]
    )
    token = mint(emu_client, portal_request())

    page = emu_client.get(f"/portal/?{urlencode({'access_token': token})}")

    assert page.status_code == 200
    assert consents_on(page.text) == {mine["id"]: "active"}
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_a_widget_token_does_not_open_the_portal_and_a_portal_token_not_the_widget(
    emu_client: FlaskClient,
) -> None:
    widget_token = mint(emu_client)
    portal_token = mint(emu_client, portal_request())

    assert emu_client.get(f"/portal/?access_token={widget_token}").status_code == 401
    widget = emu_client.get(f"/widget/?access_token={portal_token}&locale=pt")
    assert widget.status_code == 401


def test_portal_tokens_need_belvos_scopes_exactly(emu_client: FlaskClient) -> None:
    body = portal_request()
    body["scopes"] = "read_institutions,write_links"

    response = emu_client.post("/api/token/", json=body)

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json] == [("scopes", "invalid")]


def test_the_landing_page_asks_for_a_cpf_and_then_lists_its_consents(emu_client: FlaskClient) -> None:
    link = create_link(emu_client)

    landing = emu_client.get("/portal/?mode=landing")
    assert 'data-test="portal-login"' in landing.text
    listed = emu_client.get("/portal/?document=761.092.776-73")
    assert consents_on(listed.text) == {link["id"]: "active"}
    assert emu_client.get("/portal/?document=76109277674").status_code == 400


@responses.activate
def test_control_moves_a_recurrent_consent_and_sends_belvos_webhook(hooked: Flask) -> None:
    responses.post(HOOK, status=200)
    client = hooked.test_client()
    link = create_link(client, access_mode="recurrent")

    soon = client.post("/_control/consents", json={"link_id": link["id"], "state": "about_to_expire"})
    gone = client.post("/_control/consents", json={"link_id": link["id"], "state": "expired"})

    assert soon.status_code == gone.status_code == 200
    about, expired = soon.json["webhook"], gone.json["webhook"]
    assert (about["webhook_type"], about["webhook_code"]) == (
        "CONSENT",
        "openfinance_consent_about_to_expire",
    )
    assert set(about["data"]) == {
        "consent_id",
        "consent_due_date",
        "action",
        "institution",
        "institution_display_name",
        "institution_icon_logo",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", about["data"]["consent_due_date"])
    assert expired["webhook_code"] == "openfinance_consent_expired"
    assert "consent_due_date" not in expired["data"]
    assert soon.json["delivered"]
    assert gone.json["delivered"]
    consent = client.get(f"/api/consents/{about['data']['consent_id']}/", headers=basic()).json
    assert consent["status"] == "EXPIRED"


def test_control_refuses_single_links_as_belvo_sends_no_consent_webhooks_for_them(
    emu_client: FlaskClient,
) -> None:
    link = create_link(emu_client, access_mode="single")

    response = emu_client.post("/_control/consents", json={"link_id": link["id"], "state": "expired"})

    assert response.status_code == 400
    assert response.json[0]["field"] == "link_id"


def _deliveries(emu: Emulator) -> list[dict[str, Any]]:
    assert emu.webhooks.drain()
    return [json.loads(call.request.body or b"{}") for call in responses.calls]


@responses.activate
def test_renew_and_revoke_in_the_portal_change_the_consent_and_tell_the_backend(hooked: Flask) -> None:
    responses.post(HOOK, status=200)
    client = hooked.test_client()
    link = create_link(client, access_mode="recurrent")
    client.post("/_control/consents", json={"link_id": link["id"], "state": "expired"})
    token = mint(client, portal_request())
    renew_page = client.get(
        f"/portal/?{urlencode({'access_token': token, 'link_id': link['id'], 'action': 'renew'})}"
    )
    assert consents_on(renew_page.text) == {link["id"]: "expired"}

    renewed = client.post(
        "/portal/renew", data={"access_token": token, "link_id": link["id"], "consent_duration": "183"}
    )
    assert consents_on(renewed.text) == {link["id"]: "active"}
    revoked = client.post("/portal/revoke", data={"access_token": token, "link_id": link["id"]})
    assert consents_on(revoked.text) == {link["id"]: "revoked"}

    codes = [hook["webhook_code"] for hook in _deliveries(emulator_of(hooked))]
    assert codes[-2:] == ["openfinance_consent_expiration_changed", "openfinance_consent_revoked"]
    assert client.get(f"/api/links/{link['id']}/", headers=basic()).json["status"] == "invalid"


def test_the_portal_cannot_touch_another_persons_consent(emu_client: FlaskClient) -> None:
    theirs = create_link(
        emu_client,
        access_mode="recurrent",
        identification_info=[{"type": "CPF", "number": OTHER_CPF, "name": "Outra Pessoa"}],
    )
    token = mint(emu_client, portal_request())

    response = emu_client.post("/portal/revoke", data={"access_token": token, "link_id": theirs["id"]})

    assert response.status_code == 404
    assert emu_client.get(f"/api/links/{theirs['id']}/", headers=basic()).json["status"] == "valid"
