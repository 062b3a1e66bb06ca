"""The calls Belvo's SDKs and OFDA guide make beyond listing: the POST retrieve forms, bills and Brazil
investments, link PATCH, refresh with its cooldown, and asynchronous DELETE with its webhook."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient

from emulator import emulator_of
from tests.emulator.builders import Receiver, basic, create_link
from tests.support import Clock


@pytest.mark.parametrize("resource", ["accounts", "owners"])
def test_retrieve_answers_the_links_items_as_a_list(emu_client: FlaskClient, resource: str) -> None:
    link = create_link(emu_client)
    listed = emu_client.get(f"/api/{resource}/?link={link['id']}", headers=basic()).json["results"]

    saved = emu_client.post(f"/api/{resource}/", json={"link": link["id"]}, headers=basic())
    unsaved = emu_client.post(
        f"/api/{resource}/", json={"link": link["id"], "save_data": False}, headers=basic()
    )

    assert (saved.status_code, unsaved.status_code) == (201, 200)
    assert saved.json == unsaved.json == listed


def test_retrieve_transactions_keeps_the_dates_asked_for(emu_client: FlaskClient, clock: Clock) -> None:
    link = create_link(emu_client)
    body = {"link": link["id"], "date_from": "2026-09-01", "date_to": "2026-09-30"}

    response = emu_client.post("/api/transactions/", json=body, headers=basic())

    assert response.status_code == 201
    days = {date.fromisoformat(t["value_date"]) for t in response.json}
    assert days, "a month of a sandbox account has transactions"
    assert min(days) >= date(2026, 9, 1)
    assert max(days) <= date(2026, 9, 30)


def test_retrieve_refusals_name_the_field_in_belvos_error_array(emu_client: FlaskClient) -> None:
    link = create_link(emu_client)
    cases = {
        "link": ({}, "required"),
        "date_from": ({"link": link["id"], "date_from": "2026-10-02", "date_to": "2026-10-01"}, "invalid"),
        "date_to": ({"link": link["id"], "date_from": "2026-10-01", "date_to": "2099-01-01"}, "invalid"),
    }
    unknown = emu_client.post(
        "/api/accounts/", json={"link": "0" * 8 + "-0000-4000-8000-" + "0" * 12}, headers=basic()
    )
    for field, (body, code) in cases.items():
        response = emu_client.post("/api/transactions/", json=body, headers=basic())
        assert response.status_code == 400
        assert (response.json[0]["field"], response.json[0]["code"]) == (field, code)
    assert unknown.status_code == 400
    assert unknown.json[0]["code"] == "does_not_exist"


def test_transactions_list_takes_belvos_amount_and_date_filters(emu_client: FlaskClient) -> None:
    link = create_link(emu_client)
    query = f"/api/transactions/?link={link['id']}&page_size=1000"

    big = emu_client.get(f"{query}&amount__gte=1000", headers=basic()).json["results"]
    september = emu_client.get(f"{query}&accounting_date__range=2026-09-01,2026-09-30", headers=basic()).json

    assert big
    assert all(t["amount"] >= 1000 for t in big)
    assert september["count"]
    assert all(t["accounting_date"].startswith("2026-09") for t in september["results"])


@pytest.mark.parametrize(
    ("path", "keys"),
    [
        (
            "/api/bills/",
            {"bill_name", "due_date", "total_amount", "minimum_amount", "finance_charges", "payments"},
        ),
        ("/api/br/investments/", {"type", "subtype", "product_name", "isin_number", "balance"}),
        (
            "/api/br/investment-transactions/",
            {"investment_id", "value_date", "type", "gross_value", "net_value"},
        ),
    ],
)
def test_bills_and_investments_are_listed_per_link(
    emu_client: FlaskClient, path: str, keys: set[str]
) -> None:
    link = create_link(emu_client)

    page = emu_client.get(f"{path}?link={link['id']}", headers=basic()).json
    again = emu_client.get(f"{path}?link={link['id']}", headers=basic()).json
    without_link = emu_client.get(path, headers=basic())

    assert page["count"] > 0
    assert keys <= set(page["results"][0])
    assert page == again  # deterministic
    assert all(item["currency"] == "BRL" for item in page["results"])
    detail = emu_client.get(f"{path}{page['results'][0]['id']}/", headers=basic()).json
    assert detail == page["results"][0]
    assert (without_link.status_code, without_link.json[0]["field"]) == (400, "link")


def test_patch_changes_what_belvo_lets_change(emu_client: FlaskClient) -> None:
    link = create_link(emu_client, access_mode="single")
    body = {"access_mode": "recurrent", "stale_in": "90d", "fetch_resources": ["ACCOUNTS", "BILLS"]}

    patched = emu_client.patch(f"/api/links/{link['id']}/", json=body, headers=basic())
    refused = emu_client.patch(f"/api/links/{link['id']}/", json={"access_mode": "weekly"}, headers=basic())
    not_a_list = emu_client.patch(
        f"/api/links/{link['id']}/", json={"fetch_resources": "BILLS"}, headers=basic()
    )

    assert patched.status_code == 200
    assert (patched.json["access_mode"], patched.json["refresh_rate"], patched.json["stale_in"]) == (
        "recurrent",
        "7d",
        "90d",
    )
    assert patched.json["fetch_resources"] == ["ACCOUNTS", "BILLS"]
    assert (refused.status_code, refused.json[0]["field"]) == (400, "access_mode")
    assert (not_a_list.status_code, not_a_list.json[0]["code"]) == (400, "not_a_list")


def test_refresh_has_a_ten_minute_cooldown_and_sends_recurrent_updates(
    hooked: Callable[..., Flask], receiver: Receiver, clock: Clock
) -> None:
    app = hooked()
    client = app.test_client()
    link = create_link(client, fetch_resources=["ACCOUNTS", "TRANSACTIONS"])
    url = f"/api/links/{link['id']}/refresh/"

    first = client.post(url, headers=basic())
    clock.advance(minutes=9)
    too_soon = client.post(url, headers=basic())
    clock.advance(minutes=1)
    later = client.post(url, json={"fetch_resources": ["ACCOUNTS"]}, headers=basic())
    assert emulator_of(app).webhooks.drain()

    assert first.status_code == 202
    assert (too_soon.status_code, too_soon.json[0]["code"]) == (409, "link_refreshed")
    assert later.status_code == 202
    sent = [(p["webhook_code"], p["process_type"], p["request_id"]) for p, _ in receiver.received]
    assert sent == [
        ("new_accounts_available", "recurrent_update", first.json["request_id"]),
        ("new_transactions_available", "recurrent_update", first.json["request_id"]),
        ("new_accounts_available", "recurrent_update", later.json["request_id"]),
    ]


def test_async_delete_answers_202_and_sends_link_deleted(
    hooked: Callable[..., Flask], receiver: Receiver
) -> None:
    app = hooked()
    client = app.test_client()
    link = create_link(client, external_id="user-9")

    response = client.delete(
        f"/api/links/{link['id']}/", headers={**basic(), "X-Belvo-Request-Mode": "async"}
    )
    assert emulator_of(app).webhooks.drain()

    assert response.status_code == 202
    assert client.get(f"/api/links/{link['id']}/", headers=basic()).status_code == 404
    [(payload, _)] = receiver.received
    assert (payload["webhook_type"], payload["webhook_code"]) == ("LINK", "link_deleted")
    assert (payload["link_id"], payload["external_id"]) == (link["id"], "user-9")
    assert payload["request_id"] == response.json["request_id"]
