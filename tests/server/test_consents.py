"""Consents (docs/contract.md section 7): every consent webhook keeps the link's ``consent`` current, My Belvo
Portal URLs for the user (``POST /v1/consent-portal``) and for renewing a link's consent
(``POST /v1/links/{id}/consent-renewal``), against the emulator's portal."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.server.lifecycle import CPF, Flow, success
from tests.support import assert_error

IDENTIFICATION = [{"type": "CPF", "number": CPF, "name": "Ralph Bragg"}]
CONSENT_ID = "9e763d19-2e0c-4d6b-9d36-7d0ef0d3b0c1"
DATA = {
    "consent_id": CONSENT_ID,
    "consent_due_date": "2026-12-26T10:45:58.000Z",
    "action": "renew",
    "institution": "ofmockbank_br_retail",
    "institution_display_name": "OF Mockbank",
    "institution_icon_logo": "https://logo.example/ofmockbank.svg",
}


@pytest.fixture
def flow(database_url: str) -> Iterator[Flow]:
    with Flow.start(database_url) as flow:
        yield flow


def recurrent_link(flow: Flow, user: str = "alice") -> dict[str, Any]:
    session = flow.create_session(user, access_mode="recurrent")
    link = flow.belvo_link(
        session["external_id"], access_mode="recurrent", identification_info=IDENTIFICATION
    )
    assert flow.post_event(user, session["id"], success(session, link)).status_code == 200
    return link


def consent_of(flow: Flow, link_id: str, user: str = "alice") -> dict[str, Any] | None:
    consent: dict[str, Any] | None = flow.get(user, f"/v1/links/{link_id}").get_json()["consent"]
    return consent


def send(flow: Flow, link_id: str, code: str, **data: Any) -> None:
    flow.belvo_webhook(link_id, "CONSENT", code, **data)
    flow.drain()


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("openfinance_consent_about_to_expire", "about_to_expire"),
        ("openfinance_consent_expired", "expired"),
        ("consent_expired", "expired"),
        ("openfinance_consent_expiration_changed", "active"),
        ("openfinance_consent_revoked", "revoked"),
    ],
)
def test_each_consent_webhook_sets_the_links_consent_in_the_contracts_shape(
    flow: Flow, code: str, status: str
) -> None:
    link = recurrent_link(flow)
    assert consent_of(flow, link["id"]) is None

    send(flow, link["id"], code, **DATA, document_number=CPF)

    assert consent_of(flow, link["id"]) == {
        "status": status,
        "consent_id": CONSENT_ID,
        "due_date": DATA["consent_due_date"],
        "institution": "ofmockbank_br_retail",
        "institution_display_name": "OF Mockbank",
        "institution_icon_logo": DATA["institution_icon_logo"],
        "resources_issue": None,
        "updated_at": flow.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def test_an_expiry_keeps_the_due_date_the_warning_gave_and_a_renewal_moves_it(flow: Flow) -> None:
    link = recurrent_link(flow)
    send(flow, link["id"], "openfinance_consent_about_to_expire", **DATA)
    expired = {key: value for key, value in DATA.items() if key != "consent_due_date"}
    send(flow, link["id"], "openfinance_consent_expired", **expired)
    assert consent_of(flow, link["id"])["due_date"] == DATA["consent_due_date"]  # type: ignore[index]

    send(
        flow,
        link["id"],
        "openfinance_consent_expiration_changed",
        **{**DATA, "consent_due_date": "2027-12-01"},
    )

    consent = consent_of(flow, link["id"])
    assert consent is not None
    assert (consent["status"], consent["due_date"]) == ("active", "2027-12-01")


@pytest.mark.parametrize(
    ("code", "issue"),
    [
        ("openfinance_consent_with_unrecoverable_resources", "unrecoverable"),
        ("openfinance_consent_with_temporarily_unavailable_resources", "temporarily_unavailable"),
    ],
)
def test_resource_problems_are_shown_beside_the_status(flow: Flow, code: str, issue: str) -> None:
    link = recurrent_link(flow)
    send(flow, link["id"], "openfinance_consent_about_to_expire", **DATA)

    send(flow, link["id"], code, consent_id=CONSENT_ID)

    consent = consent_of(flow, link["id"])
    assert consent is not None
    assert (consent["status"], consent["resources_issue"]) == ("about_to_expire", issue)


def test_the_portal_url_lists_the_users_consents_in_the_emulated_portal(flow: Flow) -> None:
    link = recurrent_link(flow)

    response = flow.client.post(
        "/v1/consent-portal", json={"identification_info": IDENTIFICATION}, headers=flow.headers("alice")
    )

    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"portal_url", "expires_at"}
    url = urlsplit(body["portal_url"])
    assert url.path == "/sandbox/portal/"
    assert set(parse_qs(url.query)) == {"access_token"}
    page = flow.client.get(f"{url.path}?{url.query}")
    assert f'data-link="{link["id"]}"' in page.text


def test_a_bad_cpf_is_refused_before_belvo_is_asked(flow: Flow) -> None:
    response = flow.client.post(
        "/v1/consent-portal",
        json={"identification_info": [{"type": "CPF", "number": "76109277674", "name": "Ralph Bragg"}]},
        headers=flow.headers("alice"),
    )

    assert_error(response, 422, "invalid_document", "identification_info.0.number")


def test_renewal_needs_a_consent_belvo_reported(flow: Flow) -> None:
    link = recurrent_link(flow)

    response = flow.client.post(
        f"/v1/links/{link['id']}/consent-renewal",
        json={"identification_info": IDENTIFICATION},
        headers=flow.headers("alice"),
    )

    assert_error(response, 409, "consent_not_renewable")


def test_another_users_link_cannot_be_renewed(flow: Flow) -> None:
    link = recurrent_link(flow)
    send(flow, link["id"], "openfinance_consent_expired", **DATA)

    response = flow.client.post(
        f"/v1/links/{link['id']}/consent-renewal",
        json={"identification_info": IDENTIFICATION},
        headers=flow.headers("mallory"),
    )

    assert_error(response, 404, "not_found")


def test_the_renew_url_carries_what_belvos_webhook_gave_and_renews_in_the_portal(
    flow: Flow, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    link = recurrent_link(flow)
    moved = flow.client.post(
        "/sandbox/_control/consents", json={"link_id": link["id"], "state": "expired"}
    ).get_json()
    flow.drain()
    assert consent_of(flow, link["id"])["status"] == "expired"  # type: ignore[index]

    response = flow.client.post(
        f"/v1/links/{link['id']}/consent-renewal",
        json={"identification_info": IDENTIFICATION},
        headers=flow.headers("alice"),
    )

    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    url = urlsplit(response.get_json()["renew_url"])
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert query == {
        "access_token": query["access_token"],
        "link_id": link["id"],
        "consent_id": moved["webhook"]["data"]["consent_id"],
        "institution": "ofmockbank_br_retail",
        "institution_display_name": moved["webhook"]["data"]["institution_display_name"],
        "institution_icon_logo": moved["webhook"]["data"]["institution_icon_logo"],
        "action": "renew",
    }
    flow.client.post(
        "/sandbox/portal/renew", data={"access_token": query["access_token"], "link_id": link["id"]}
    )
    flow.drain()
    assert consent_of(flow, link["id"])["status"] == "active"  # type: ignore[index]
    logged = "\n".join(record.getMessage() + repr(record.__dict__) for record in caplog.records)
    assert query["access_token"] not in logged
