"""`POST /v1/webhooks/belvo`: authentication, limits, dedupe, what each webhook changes, orphan-link recovery
and retries; deliveries come from the emulator or are built here as Belvo (or an impostor) would send them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from server.models import Link, WebhookEvent
from server.services import webhooks
from server.storage import database
from tests.server.lifecycle import WEBHOOK_AUTH, Flow, success, webhook_payload


@pytest.fixture
def flow(database_url: str) -> Iterator[Flow]:
    with Flow.start(database_url, BELVO_WEBHOOK_AUTH_PREVIOUS="Bearer previous-secret") as flow:
        yield flow


def linked(flow: Flow, user: str = "alice", **link: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A session of ``user`` completed with a verified link: (session, link)."""
    session = flow.create_session(user)
    belvo_link = flow.belvo_link(session["external_id"], **link)
    assert flow.post_event(user, session["id"], success(session, belvo_link)).status_code == 200
    return session, belvo_link


def link_view(flow: Flow, link_id: str, user: str = "alice") -> dict[str, Any]:
    view: dict[str, Any] = flow.get(user, f"/v1/links/{link_id}").get_json()
    return view


# -- authentication and shape ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer wrong",
        WEBHOOK_AUTH + " ",
        WEBHOOK_AUTH.lower(),
        "Bearer ábc",
        "Bearer 😀",
        "Basic ü==",
    ],
)
def test_a_delivery_without_the_configured_authorization_is_401_without_detail(
    flow: Flow, authorization: str | None
) -> None:
    response = flow.send_webhook(webhook_payload(None, "ACCOUNTS", "historical_update"), authorization)

    assert response.status_code == 401
    assert response.get_json()["errors"] == [
        {"code": "unauthenticated", "message": "Unauthorized", "field": None}
    ]
    assert flow.count(WebhookEvent) == 0


@pytest.mark.parametrize("authorization", [WEBHOOK_AUTH, "Bearer previous-secret"])
def test_both_secrets_are_accepted_during_a_rotation(flow: Flow, authorization: str) -> None:
    response = flow.send_webhook(webhook_payload(None, "ACCOUNTS", "historical_update"), authorization)
    assert response.status_code == 200
    assert response.get_json() == {"status": "received"}


def test_the_previous_secret_stops_working_once_removed(database_url: str) -> None:
    with Flow.start(database_url) as flow:
        response = flow.send_webhook(
            webhook_payload(None, "ACCOUNTS", "historical_update"), "Bearer previous-secret"
        )
        assert response.status_code == 401


def test_an_anonymous_non_json_delivery_is_401_not_a_hint_about_the_content_type(flow: Flow) -> None:
    response = flow.client.post("/v1/webhooks/belvo", data="x=1", content_type="text/plain")
    assert response.status_code == 401
    assert (
        flow.client.post(
            "/v1/webhooks/belvo",
            data="x=1",
            content_type="text/plain",
            headers={"Authorization": WEBHOOK_AUTH},
        ).status_code
        == 415
    )


def test_an_oversized_body_is_413_for_belvo_and_401_for_anyone_else(flow: Flow) -> None:
    payload = webhook_payload(None, "TRANSACTIONS", "transactions_deleted", data={"ids": ["x" * 1000] * 300})
    assert len(json.dumps(payload)) > webhooks.MAX_BODY_BYTES

    assert flow.send_webhook(payload).status_code == 413
    assert flow.send_webhook(payload, "Bearer wrong").status_code == 401
    assert flow.count(WebhookEvent) == 0


def test_a_body_between_the_app_limit_and_the_webhook_limit_is_accepted(flow: Flow) -> None:
    payload = webhook_payload(None, "TRANSACTIONS", "transactions_deleted", data={"ids": ["x" * 1000] * 100})
    assert 64 * 1024 < len(json.dumps(payload)) < webhooks.MAX_BODY_BYTES

    assert flow.send_webhook(payload).status_code == 200


@pytest.mark.parametrize("missing", ["webhook_id", "webhook_type", "webhook_code"])
def test_a_delivery_without_its_identifying_fields_is_422(flow: Flow, missing: str) -> None:
    payload = webhook_payload(None, "ACCOUNTS", "historical_update")
    del payload[missing]

    response = flow.send_webhook(payload)

    assert response.status_code == 422
    assert response.get_json()["errors"][0] == {
        "code": "validation_error",
        "message": "Missing data for required field.",
        "field": missing,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("webhook_id", "a\x00b"), ("webhook_id", "x" * 65), ("link_id", "not-a-uuid"), ("webhook_type", 7)],
)
def test_malformed_fields_are_422_not_500(flow: Flow, field: str, value: Any) -> None:
    response = flow.send_webhook({**webhook_payload(None, "ACCOUNTS", "historical_update"), field: value})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == field


@pytest.mark.parametrize("body", ["{not json", "[" * 70_000, "[]", '"text"'])
def test_a_body_that_is_not_a_json_object_is_a_4xx(flow: Flow, body: str) -> None:
    assert flow.send_webhook(body).status_code in {400, 422}


# -- storing once --------------------------------------------------------------------------------------------


def test_a_duplicate_is_acknowledged_and_changes_nothing(flow: Flow) -> None:
    _, link = linked(flow)
    payload = webhook_payload(link["id"], "TRANSACTIONS", "new_transactions_available")
    assert flow.send_webhook(payload).get_json() == {"status": "received"}
    flow.drain()
    first = link_view(flow, link["id"])["resources"]["TRANSACTIONS"]["new_data_at"]
    flow.clock.advance(minutes=5)

    again = flow.send_webhook(payload)
    flow.drain()

    assert (again.status_code, again.get_json()) == (200, {"status": "duplicate"})
    assert link_view(flow, link["id"])["resources"]["TRANSACTIONS"]["new_data_at"] == first
    assert flow.count(WebhookEvent) == 1


def test_a_flood_of_1000_deliveries_with_10_percent_duplicates_stores_one_row_each(flow: Flow) -> None:
    _, link = linked(flow)
    unique = [
        webhook_payload(link["id"] if n % 2 else None, "TRANSACTIONS", "new_transactions_available")
        for n in range(900)
    ]
    deliveries = unique + unique[::9]  # 100 of them twice
    assert len(deliveries) == 1000

    def deliver(chunk: list[dict[str, Any]]) -> list[str]:
        client = flow.app.test_client()
        return [
            client.post("/v1/webhooks/belvo", json=p, headers={"Authorization": WEBHOOK_AUTH}).get_json()[
                "status"
            ]
            for p in chunk
        ]

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = [
            status for chunk in pool.map(deliver, [deliveries[i::4] for i in range(4)]) for status in chunk
        ]
    flow.drain()

    assert (answers.count("received"), answers.count("duplicate")) == (900, 100)
    assert flow.count(WebhookEvent) == 900
    assert flow.count(WebhookEvent, status="received") == 0


# -- what webhooks change ------------------------------------------------------------------------------------


def test_historical_update_makes_the_resource_readable(flow: Flow) -> None:
    _, link = linked(flow)
    assert flow.get("alice", f"/v1/links/{link['id']}/accounts").status_code == 409

    flow.belvo_webhook(link["id"], "ACCOUNTS", "historical_update", total_accounts=2)
    flow.drain()

    state = link_view(flow, link["id"])["resources"]["ACCOUNTS"]
    assert (state["status"], state["totals"]) == ("ready", {"total_accounts": 2})
    assert flow.get("alice", f"/v1/links/{link['id']}/accounts").status_code == 200
    assert link_view(flow, link["id"])["resources"]["OWNERS"]["status"] == "pending"


def test_new_data_available_records_when_it_came(flow: Flow) -> None:
    _, link = linked(flow)
    flow.clock.advance(minutes=3)

    flow.belvo_webhook(link["id"], "TRANSACTIONS", "new_transactions_available", new_transactions=4)
    flow.drain()

    state = link_view(flow, link["id"])["resources"]["TRANSACTIONS"]
    assert state["new_data_at"] == flow.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert state["status"] == "pending"  # the historical update is still what makes it readable


def test_unknown_types_are_stored_and_ignored(flow: Flow) -> None:
    _, link = linked(flow)
    before = link_view(flow, link["id"])

    payload = webhook_payload(link["id"], "LINK", "token_required")

    response = flow.send_webhook(payload)
    flow.drain()

    assert response.get_json() == {"status": "received"}
    assert flow.row(WebhookEvent, payload["webhook_id"]).status == "ignored"
    assert link_view(flow, link["id"]) == before


def test_concurrent_webhooks_for_one_link_do_not_overwrite_each_other(flow: Flow) -> None:
    _, link = linked(flow)
    types = ["ACCOUNTS", "OWNERS", "TRANSACTIONS", "BILLS", "INVESTMENTS", "INVESTMENT_TRANSACTIONS"] * 2
    ids = []
    for kind in types:
        payload = webhook_payload(link["id"], kind, "historical_update")
        with flow.app.app_context(), flow.app.extensions["ofda.db"].sessionmaker() as db:
            webhooks.store(db, payload, flow.clock(), lambda _db, _id: None)  # applied below
        ids.append(payload["webhook_id"])

    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        results = list(pool.map(lambda webhook_id: webhooks.apply_stored(flow.app, webhook_id), ids))

    assert results == ["processed"] * len(ids)
    resources = link_view(flow, link["id"])["resources"]
    assert {name: state["status"] for name, state in resources.items()} == dict.fromkeys(types, "ready")


# -- orphan links --------------------------------------------------------------------------------------------


def test_a_webhook_for_an_unknown_link_of_our_user_attaches_it_after_checking_with_belvo(flow: Flow) -> None:
    session = flow.create_session("alice")
    link = flow.belvo_link(session["external_id"])  # the app never posted the success (it was killed)

    flow.belvo_webhook(link["id"], "ACCOUNTS", "historical_update", total_accounts=1)
    flow.drain()

    view = link_view(flow, link["id"])
    assert (view["session_id"], view["resources"]["ACCOUNTS"]["status"]) == (None, "ready")
    assert flow.get("bob", f"/v1/links/{link['id']}").status_code == 404

    # The success arriving later is accepted as the same link, now tied to its session.
    late = flow.post_event("alice", session["id"], success(session, link))
    assert late.status_code == 200
    assert flow.count(Link) == 1
    assert link_view(flow, link["id"])["session_id"] == session["id"]


def test_a_webhook_naming_our_user_for_someone_elses_link_attaches_nothing(flow: Flow) -> None:
    alice = flow.create_session("alice")
    bobs_link = flow.belvo_link(flow.create_session("bob")["external_id"])
    # A forged (or confused) delivery: Bob's link, Alice's external_id.
    payload = webhook_payload(
        bobs_link["id"], "ACCOUNTS", "historical_update", external_id=alice["external_id"]
    )

    flow.send_webhook(payload)
    flow.drain()

    assert flow.count(Link) == 0
    assert flow.row(WebhookEvent, payload["webhook_id"]).status == "ignored"


def test_a_webhook_for_a_link_of_no_user_of_ours_does_not_call_belvo(flow: Flow) -> None:
    stranger = flow.belvo_link("someone-elses-external-id")
    flow.fault("/api/links/", 500, times=1)

    flow.belvo_webhook(stranger["id"], "ACCOUNTS", "historical_update")
    flow.drain()

    assert [fault["times"] for fault in flow.faults()] == [1]
    assert flow.count(Link) == 0
    assert flow.count(WebhookEvent, status="ignored") == 1


def test_a_late_webhook_does_not_bring_a_deleted_link_back(flow: Flow) -> None:
    session, link = linked(flow)
    assert flow.client.delete(f"/v1/links/{link['id']}", headers=flow.headers("alice")).status_code == 204

    flow.send_webhook(
        webhook_payload(link["id"], "ACCOUNTS", "historical_update", external_id=session["external_id"])
    )
    flow.drain()

    assert flow.count(Link) == 0


def test_a_transient_belvo_failure_while_recovering_a_link_heals_by_retry(flow: Flow) -> None:
    session = flow.create_session("alice")
    link = flow.belvo_link(session["external_id"])
    flow.fault("/api/links/", 503, times=2)  # the client's one retry fails too: the attempt fails

    response = flow.send_webhook(
        webhook_payload(link["id"], "ACCOUNTS", "historical_update", external_id=session["external_id"])
    )
    flow.drain()  # includes the queue's retry, a second later

    assert response.get_json() == {"status": "received"}
    assert flow.faults() == []  # both 503s were served: the first attempt did fail
    assert flow.count(WebhookEvent, status="processed") == 1
    assert link_view(flow, link["id"])["resources"]["ACCOUNTS"]["status"] == "ready"
    assert flow.get("alice", f"/v1/links/{link['id']}/accounts").status_code == 200


def test_the_retry_command_applies_what_was_left_received(flow: Flow) -> None:
    _, link = linked(flow)
    payload = webhook_payload(link["id"], "ACCOUNTS", "historical_update")
    with flow.app.app_context(), database(flow.app).sessionmaker() as db:
        # Stored, but its job lost (a process killed before it ran, a queue emptied by hand).
        webhooks.store(db, payload, flow.clock(), lambda _db, _id: None)

    result = flow.app.test_cli_runner().invoke(args=["webhooks", "retry", "--min-age", "0"])

    assert result.exit_code == 0, result.output
    assert "1 webhooks retried, 0 still received" in result.output
    assert link_view(flow, link["id"])["resources"]["ACCOUNTS"]["status"] == "ready"
