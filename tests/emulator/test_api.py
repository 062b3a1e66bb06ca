"""Belvo's API as the emulator answers it: secret keys, links, data, consents, institutions, pages."""

from __future__ import annotations

import re
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client
from werkzeug.wrappers import Response

from tests.emulator.builders import CPF, NAME, basic, create_link

OFDA_CATEGORIES = {
    "ADVANCE_DEPOSIT_ACCOUNT", "CHECKING_ACCOUNT", "CREDIT_CARD", "FINANCING_ACCOUNT", "INVESTMENT_ACCOUNT",
    "INVOICE_FINANCING_ACCOUNT", "LOAN_ACCOUNT", "PENSION_FUND_ACCOUNT", "SAVINGS_ACCOUNT", "UNCATEGORIZED",
}  # fmt: skip


def test_login_check_takes_the_secret_keys_as_basic_auth(emu_client: FlaskClient) -> None:
    assert emu_client.get("/api/", headers=basic()).status_code == 200
    refused = emu_client.get("/api/", headers=basic(password="wrong"))
    assert refused.status_code == 401
    assert refused.json[0]["code"] == "authentication_failed"
    assert emu_client.get("/api/links/").status_code == 401


def test_links_list_filters_and_detail(emu_client: FlaskClient) -> None:
    mine = create_link(emu_client, external_id="user-a")
    create_link(emu_client, external_id="user-b", institution="ofitau_br_retail")

    listed = emu_client.get("/api/links/?external_id=user-a", headers=basic()).json
    by_institution = emu_client.get("/api/links/?institution=ofitau_br_retail", headers=basic()).json
    detail = emu_client.get(f"/api/links/{mine['id']}/", headers=basic()).json

    assert [link["id"] for link in listed["results"]] == [mine["id"]]
    assert [link["external_id"] for link in by_institution["results"]] == ["user-b"]
    assert emu_client.get("/api/links/?status=invalid", headers=basic()).json["count"] == 0
    assert detail == mine
    assert set(detail) >= {
        "id", "institution", "access_mode", "last_accessed_at", "created_at", "external_id",
        "institution_user_id", "status", "created_by", "refresh_rate", "credentials_storage", "stale_in",
        "fetch_resources",
    }  # fmt: skip


def test_deleting_a_link_removes_it_and_its_consent(emu_client: FlaskClient) -> None:
    link = create_link(emu_client)

    assert emu_client.delete(f"/api/links/{link['id']}/", headers=basic()).status_code == 204

    assert emu_client.get(f"/api/links/{link['id']}/", headers=basic()).status_code == 404
    assert emu_client.get(f"/api/consents/?user_document={CPF}", headers=basic()).json["count"] == 0
    assert emu_client.delete(f"/api/links/{link['id']}/", headers=basic()).status_code == 404


def test_unknown_objects_and_methods_answer_belvos_error_array(emu_client: FlaskClient) -> None:
    missing = emu_client.get("/api/links/0b6c6a37-7a40-4b8e-8d27-3d0f3c1f0a11/", headers=basic())
    wrong_method = emu_client.put("/api/links/", headers=basic())

    assert (missing.status_code, missing.json[0]["code"]) == (404, "not_found")
    assert (wrong_method.status_code, wrong_method.json[0]["code"]) == (405, "method_not_allowed")
    assert re.fullmatch(r"[0-9a-f]{32}", missing.json[0]["request_id"])


def test_data_is_brazilian_and_of_the_ofda_schema(emu_client: FlaskClient) -> None:
    link = create_link(emu_client)
    query = f"?link={link['id']}&page_size=1000"

    owners = emu_client.get(f"/api/owners/{query}", headers=basic()).json["results"]
    accounts = emu_client.get(f"/api/accounts/{query}", headers=basic()).json["results"]
    transactions = emu_client.get(f"/api/transactions/{query}", headers=basic()).json["results"]

    assert [(o["display_name"], o["document_id"]["document_number"]) for o in owners] == [(NAME, CPF)]
    assert {a["currency"] for a in accounts} == {"BRL"}
    assert {a["category"] for a in accounts} <= OFDA_CATEGORIES
    checking = next(a for a in accounts if a["category"] == "CHECKING_ACCOUNT")
    assert (checking["type"], checking["subtype"]) == ("CONTA_DEPOSITO_A_VISTA", "INDIVIDUAL")
    assert checking["public_identification_value"] == f"{checking['agency']}/{checking['number']}"
    assert len(transactions) > 100
    assert all(t["amount"] > 0 and t["type"] in ("INFLOW", "OUTFLOW") for t in transactions)
    assert {t["account"]["id"] for t in transactions} == {a["id"] for a in accounts}
    assert any(t["description"].startswith("PIX ") for t in transactions)
    created = date.fromisoformat(link["created_at"][:10])
    assert all(0 <= (created - date.fromisoformat(t["value_date"])).days <= 366 for t in transactions)


def test_data_is_the_same_on_every_read_and_differs_between_links(emu_client: FlaskClient) -> None:
    first, second = create_link(emu_client), create_link(emu_client)

    def accounts(link_id: str) -> list[dict[str, object]]:
        return emu_client.get(f"/api/accounts/?link={link_id}", headers=basic()).json["results"]

    assert accounts(first["id"]) == accounts(first["id"])
    assert accounts(first["id"]) != accounts(second["id"])


def test_transactions_need_a_link_and_filter_by_value_date(emu_client: FlaskClient) -> None:
    link = create_link(emu_client)

    missing = emu_client.get("/api/transactions/", headers=basic())
    window = emu_client.get(
        f"/api/transactions/?link={link['id']}&value_date__gte=2026-10-01&value_date__lte=2026-10-31&page_size=1000",
        headers=basic(),
    ).json
    bad_date = emu_client.get(
        f"/api/transactions/?link={link['id']}&value_date__gte=01/10/2026", headers=basic()
    )

    assert (missing.status_code, missing.json[0]["field"], missing.json[0]["code"]) == (
        400,
        "link",
        "required",
    )
    assert window["count"] > 0
    assert all(t["value_date"].startswith("2026-10-") for t in window["results"])
    assert (bad_date.status_code, bad_date.json[0]["field"]) == (400, "value_date__gte")


def test_pages_link_to_each_other_with_absolute_urls(emu_client: FlaskClient) -> None:
    link = create_link(emu_client)
    first = emu_client.get(f"/api/transactions/?link={link['id']}&page_size=50", headers=basic()).json

    second = emu_client.get(first["next"], headers=basic()).json

    assert first["next"] == f"http://localhost/api/transactions/?link={link['id']}&page_size=50&page=2"
    assert first["previous"] is None
    assert second["previous"] == f"http://localhost/api/transactions/?link={link['id']}&page_size=50"
    assert len({t["id"] for t in first["results"] + second["results"]}) == 100
    assert emu_client.get(f"/api/transactions/?link={link['id']}&page=99", headers=basic()).status_code == 404


def test_fields_and_omit_shape_the_results(emu_client: FlaskClient) -> None:
    link = create_link(emu_client)

    only = emu_client.get(f"/api/accounts/?link={link['id']}&fields=id,category", headers=basic()).json
    without = emu_client.get(f"/api/accounts/?link={link['id']}&omit=credit_data", headers=basic()).json

    assert {tuple(a) for a in only["results"]} == {("id", "category")}
    assert all("credit_data" not in a for a in without["results"])


def test_consents_are_found_by_the_users_document(emu_client: FlaskClient) -> None:
    link = create_link(emu_client)

    found = emu_client.get(f"/api/consents/?user_document={CPF}", headers=basic()).json
    other = emu_client.get("/api/consents/?user_document=12345678909", headers=basic()).json
    missing = emu_client.get("/api/consents/", headers=basic())

    [consent] = found["results"]
    assert (consent["belvo_institution_name"], consent["document_number"]) == (link["institution"], CPF)
    assert (consent["status"], consent["expired_at"], consent["undefined_consent_expiration"]) == (
        "AUTHORISED", None, True,
    )  # fmt: skip
    assert set(consent["permissions"]) == {
        "REGISTER",
        "ACCOUNTS",
        "CREDIT_CARDS",
        "CREDIT_OPERATIONS",
        "RESOURCES",
    }
    assert emu_client.get(f"/api/consents/{consent['id']}/", headers=basic()).json == consent
    assert other["count"] == 0
    assert (missing.status_code, missing.json[0]["field"]) == (400, "user_document")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=down", ["ofdownbank_br_retail"]),
        (
            "name__in=ofmockbank_br_retail,ofbusybank_br_retail",
            ["ofmockbank_br_retail", "ofbusybank_br_retail"],
        ),
        ("country_code=MX", []),
    ],
)
def test_institutions_list_and_filters(emu_client: FlaskClient, query: str, expected: list[str]) -> None:
    listed = emu_client.get(f"/api/institutions/?{query}", headers=basic()).json

    assert [i["name"] for i in listed["results"]] == expected


def test_institutions_include_the_sandbox_ones(emu_client: FlaskClient) -> None:
    listed = emu_client.get("/api/institutions/?resources__allin=ACCOUNTS,OWNERS", headers=basic()).json
    names = {i["name"] for i in listed["results"]}

    assert names >= {
        "ofmockbank_br_retail", "ofmockbank_br_business", "ofdownbank_br_retail", "ofbusybank_br_retail",
        "ofdisabledbank_br_retail",
    }  # fmt: skip
    first = listed["results"][0]
    assert emu_client.get(f"/api/institutions/{first['id']}/", headers=basic()).json == first


def test_urls_are_built_from_the_mount_point(emu_app: Flask) -> None:
    """Mounted at /sandbox as ``ofda run`` does, links and redirects keep the prefix."""
    mounted = Client(DispatcherMiddleware(Response("backend", 404), {"/sandbox": emu_app}))
    create_link(emu_app.test_client())
    create_link(emu_app.test_client())

    page = mounted.get("/sandbox/api/links/?page_size=1", headers=basic()).json
    root = mounted.get("/sandbox/api/", headers=basic()).json

    assert page["next"] == "http://localhost/sandbox/api/links/?page_size=1&page=2"
    assert root["links"] == "http://localhost/sandbox/api/links/"
