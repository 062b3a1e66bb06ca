"""Webhooks after a success: one historical_update per fetched resource, Belvo's shape, the configured
Authorization, retries, optional duplicates; and the /_control/webhooks hooks."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import requests
from flask import Flask

import deeplinks
from emulator import emulator_of
from tests.emulator.builders import CALLBACKS, Receiver, Widget, basic, create_link, mint


def _succeed(app: Flask) -> str:
    client = app.test_client()
    widget = Widget(client)
    widget.open(mint(client), external_id="user-42")
    widget.connect()
    event = deeplinks.parse(widget.callback(), CALLBACKS)
    assert isinstance(event, deeplinks.SuccessEvent)
    return event.link_id


def test_a_success_sends_one_historical_update_per_fetched_resource(
    hooked: Callable[..., Flask], receiver: Receiver
) -> None:
    app = hooked()

    link_id = _succeed(app)
    assert emulator_of(app).webhooks.drain()

    payloads = [payload for payload, _ in receiver.received]
    assert [p["webhook_type"] for p in payloads] == ["ACCOUNTS", "TRANSACTIONS", "OWNERS"]
    for payload, headers in receiver.received:
        assert list(payload) == [
            "webhook_id", "webhook_type", "webhook_code", "process_type", "link_id", "request_id",
            "external_id", "data",
        ]  # fmt: skip
        assert re.fullmatch(r"[0-9a-f]{32}", payload["webhook_id"])
        assert (payload["webhook_code"], payload["process_type"]) == (
            "historical_update",
            "historical_update",
        )
        assert (payload["link_id"], payload["external_id"]) == (link_id, "user-42")
        assert headers["Authorization"] == "Bearer hook-secret"
        uuid.UUID(payload["request_id"])
    assert len({p["request_id"] for p in payloads}) == 1  # one historical fetch


def test_historical_update_totals_match_the_api(hooked: Callable[..., Flask], receiver: Receiver) -> None:
    app = hooked()
    client = app.test_client()
    link_id = _succeed(app)
    emulator_of(app).webhooks.drain()
    data = {p["webhook_type"]: p["data"] for p, _ in receiver.received}

    transactions = client.get(f"/api/transactions/?link={link_id}&page_size=1000", headers=basic()).json
    accounts = client.get(f"/api/accounts/?link={link_id}", headers=basic()).json

    dates = sorted(t["value_date"] for t in transactions["results"])
    inflow = sum(t["type"] == "INFLOW" for t in transactions["results"])
    assert data["TRANSACTIONS"] == {
        "total_transactions": transactions["count"],
        "total_inflow_transactions": inflow,
        "total_outflow_transactions": transactions["count"] - inflow,
        "first_transaction_date": dates[0],
        "last_transaction_date": dates[-1],
    }
    assert data["ACCOUNTS"] == {"total_accounts": accounts["count"]}
    assert data["OWNERS"] == {"total_owners": 1}


def test_failed_deliveries_are_retried_until_a_2xx(hooked: Callable[..., Flask], receiver: Receiver) -> None:
    app = hooked(EMULATOR_WEBHOOK_RETRY_SCHEDULE=[0, 0, 0])
    receiver.plan = [500, requests.ConnectionError("refused"), 200]
    client = app.test_client()
    link = create_link(client, fetch_resources=["ACCOUNTS"], send_webhooks=True)

    assert emulator_of(app).webhooks.drain()

    attempts = client.get("/_control/webhooks").json
    assert [(a["attempt"], a["status_code"], a["error"]) for a in attempts] == [
        (1, 500, None),
        (2, None, "ConnectionError"),
        (3, 200, None),
    ]
    assert {a["link_id"] for a in attempts} == {link["id"]}
    assert len(receiver.received) == 2  # the refused connection never reached it


def test_delivery_gives_up_after_the_schedule(hooked: Callable[..., Flask], receiver: Receiver) -> None:
    app = hooked(EMULATOR_WEBHOOK_RETRY_SCHEDULE=[0])
    receiver.plan = [503, 503, 503]
    create_link(app.test_client(), fetch_resources=["OWNERS"], send_webhooks=True)

    assert emulator_of(app).webhooks.drain()

    assert [a.status_code for a in emulator_of(app).webhooks.attempts] == [503, 503]


def test_duplicates_setting_delivers_every_webhook_twice(
    hooked: Callable[..., Flask], receiver: Receiver
) -> None:
    app = hooked(EMULATOR_WEBHOOK_DUPLICATES=True)
    create_link(app.test_client(), fetch_resources=["ACCOUNTS", "OWNERS"], send_webhooks=True)

    assert emulator_of(app).webhooks.drain()

    ids = [payload["webhook_id"] for payload, _ in receiver.received]
    assert len(ids) == 4
    assert len(set(ids)) == 2


def test_without_a_webhook_url_nothing_is_sent(make_emu_app: Callable[..., Flask]) -> None:
    app = make_emu_app()
    client = app.test_client()
    link = create_link(client, send_webhooks=True)

    refused = client.post(
        "/_control/webhooks", json={"link_id": link["id"], "webhook_type": "LINK", "webhook_code": "x"}
    )

    assert emulator_of(app).webhooks.attempts == ()
    assert (refused.status_code, refused.json[0]["code"]) == (400, "webhook_not_configured")


def test_control_sends_a_consent_webhook_now(hooked: Callable[..., Flask], receiver: Receiver) -> None:
    app = hooked()
    client = app.test_client()
    link = create_link(client, external_id="user-9")
    data = {"consent_id": "c-1", "action": "renew", "institution": "ofmockbank_br_retail"}

    sent = client.post(
        "/_control/webhooks",
        json={
            "link_id": link["id"],
            "webhook_type": "CONSENT",
            "webhook_code": "openfinance_consent_expired",
            "data": data,
        },
    ).json

    assert sent["delivered"] is True
    [(payload, headers)] = receiver.received
    assert payload == sent["webhook"]
    assert (payload["webhook_type"], payload["webhook_code"], payload["data"]) == (
        "CONSENT", "openfinance_consent_expired", data,
    )  # fmt: skip
    assert (payload["external_id"], payload["process_type"]) == ("user-9", "recurrent_update")
    assert headers["Authorization"] == "Bearer hook-secret"


def test_control_webhook_for_an_unknown_link_is_404(hooked: Callable[..., Flask]) -> None:
    client = hooked().test_client()

    missing = client.post(
        "/_control/webhooks", json={"link_id": "nope", "webhook_type": "LINK", "webhook_code": "x"}
    )
    broken = client.post("/_control/webhooks", json={"webhook_type": 3})

    assert missing.status_code == 404
    assert {e["field"] for e in broken.json} == {"link_id", "webhook_type", "webhook_code"}
