"""POST and PATCH /_control/links: links without a browser, and their status, for the backend's tests."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.emulator.builders import CPF, basic, create_link


def test_a_control_link_is_a_link_like_any_other(emu_client: FlaskClient) -> None:
    link = create_link(
        emu_client, external_id="user-1", access_mode="single", fetch_resources=["ACCOUNTS"], stale_in="90d"
    )

    assert emu_client.get(f"/api/links/{link['id']}/", headers=basic()).json == link
    assert (link["access_mode"], link["fetch_resources"], link["stale_in"]) == ("single", ["ACCOUNTS"], "90d")
    assert emu_client.get(f"/api/accounts/?link={link['id']}", headers=basic()).json["count"] > 0
    assert emu_client.get(f"/api/consents/?user_document={CPF}", headers=basic()).json["count"] == 1


def test_without_identification_the_link_gets_a_generated_holder(emu_client: FlaskClient) -> None:
    response = emu_client.post("/_control/links", json={"institution": "ofnubank_br_retail"})

    owners = emu_client.get(f"/api/owners/?link={response.json['id']}", headers=basic()).json["results"]
    assert response.status_code == 201
    assert response.json["external_id"] is None
    assert owners[0]["document_id"]["document_type"] == "CPF"


def test_control_links_are_checked(emu_client: FlaskClient) -> None:
    response = emu_client.post(
        "/_control/links",
        json={"institution": "narnia_br_retail", "access_mode": "weekly", "fetch_resources": "ACCOUNTS"},
    )
    bad_document = emu_client.post(
        "/_control/links",
        json={
            "institution": "ofmockbank_br_retail",
            "identification_info": [{"type": "CPF", "number": "12345678900", "name": "X"}],
        },
    )

    assert response.status_code == 400
    assert {e["field"] for e in response.json} == {"institution", "access_mode", "fetch_resources"}
    assert [e["field"] for e in bad_document.json] == ["identification_info.0.number"]


def test_a_links_status_changes_without_a_webhook(emu_client: FlaskClient) -> None:
    link = create_link(emu_client, external_id="user-1")

    changed = emu_client.patch(f"/_control/links/{link['id']}", json={"status": "token_required"})
    refused = emu_client.patch(f"/_control/links/{link['id']}", json={"status": "broken"})
    unknown = emu_client.patch(
        "/_control/links/0c1d2e3f-0000-4000-8000-000000000000", json={"status": "valid"}
    )

    assert (changed.status_code, changed.json["status"]) == (200, "token_required")
    assert emu_client.get("/api/links/?status=token_required", headers=basic()).json["count"] == 1
    assert (refused.status_code, refused.json[0]["field"]) == (400, "status")
    assert unknown.status_code == 404
    assert emu_client.get("/_control/webhooks").json == []
