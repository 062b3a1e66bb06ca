"""A link's bills and investments (docs/contract.md section 8), the webhooks that make them readable or
tell of changes, and the institutions a session may name. Belvo is the real in-process emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.emulator.builders import basic
from tests.server.lifecycle import Flow, success, webhook_payload
from tests.server.test_links import error_code

NEW_RESOURCES = {
    "bills": "BILLS",
    "investments": "INVESTMENTS",
    "investment-transactions": "INVESTMENT_TRANSACTIONS",
}
CNPJ = "11222333000181"


@pytest.fixture
def flow(database_url: str) -> Iterator[Flow]:
    with Flow.start(database_url) as flow:
        yield flow


def verified(flow: Flow, user: str = "alice", **link: Any) -> dict[str, Any]:
    """A link of ``user`` verified through a success; Belvo sends its historical_update webhooks only
    when ``send_webhooks`` is set."""
    session = flow.create_session(user)
    belvo_link = flow.belvo_link(session["external_id"], **link)
    assert flow.post_event(user, session["id"], success(session, belvo_link)).status_code == 200
    flow.drain()
    return belvo_link


@pytest.mark.parametrize("resource", NEW_RESOURCES)
def test_bills_and_investments_wait_for_their_historical_update_then_page_like_belvo(
    flow: Flow, resource: str
) -> None:
    link = verified(flow, fetch_resources=list(NEW_RESOURCES.values()))
    path = f"/v1/links/{link['id']}/{resource}"

    early = flow.get("alice", path)
    assert (early.status_code, error_code(early)) == (409, "resource_not_ready")

    flow.belvo_webhook(link["id"], NEW_RESOURCES[resource], "historical_update")
    flow.drain()
    first = flow.get("alice", f"{path}?page_size=1")
    assert first.status_code == 200, first.get_json()
    page = first.get_json()
    assert page["count"] >= 2
    assert len(page["results"]) == 1
    assert page["previous"] is None
    following = urlsplit(page["next"])
    assert following.path == path
    assert parse_qs(following.query) == {"page_size": ["1"], "page": ["2"]}
    second = flow.get("alice", f"{following.path}?{following.query}").get_json()
    assert second["results"][0]["id"] != page["results"][0]["id"]
    assert first.headers["Cache-Control"] == "no-store"


def test_the_emulators_own_webhooks_make_every_fetched_resource_ready(flow: Flow) -> None:
    session = flow.create_session("alice", fetch_resources=list(NEW_RESOURCES.values()))
    link = flow.belvo_link(
        session["external_id"], fetch_resources=list(NEW_RESOURCES.values()), send_webhooks=True
    )
    assert flow.post_event("alice", session["id"], success(session, link)).status_code == 200
    flow.drain()

    resources = flow.get("alice", f"/v1/links/{link['id']}").get_json()["resources"]
    assert {name: state["status"] for name, state in resources.items()} == dict.fromkeys(
        NEW_RESOURCES.values(), "ready"
    )
    movements = resources["INVESTMENT_TRANSACTIONS"]["totals"]
    assert movements["total_transactions"] == (
        movements["total_inflow_transactions"] + movements["total_outflow_transactions"]
    )
    count = flow.get("alice", f"/v1/links/{link['id']}/investment-transactions").get_json()["count"]
    assert count == movements["total_transactions"]


def test_webhooks_are_classified_by_their_code_first(flow: Flow) -> None:
    link = verified(flow)
    # Belvo's own new_investments_available example says webhook_type ACCOUNTS.
    flow.send_webhook(webhook_payload(link["id"], "ACCOUNTS", "new_investments_available"))
    flow.send_webhook(webhook_payload(link["id"], "TRANSACTIONS", "transactions_deleted"))
    flow.drain()

    resources = flow.get("alice", f"/v1/links/{link['id']}").get_json()["resources"]
    assert resources["INVESTMENTS"]["new_data_at"] is not None
    assert resources["TRANSACTIONS"]["new_data_at"] is not None
    assert resources["ACCOUNTS"]["new_data_at"] is None


def test_transactions_updated_tells_the_app_to_read_again(flow: Flow) -> None:
    link = verified(flow)
    flow.send_webhook(webhook_payload(link["id"], "TRANSACTIONS", "transactions_updated"))
    flow.drain()

    state = flow.get("alice", f"/v1/links/{link['id']}").get_json()["resources"]["TRANSACTIONS"]
    assert state["new_data_at"] is not None


def test_link_deleted_forgets_the_link(flow: Flow) -> None:
    link = verified(flow)
    deleted = flow.client.delete(
        f"/sandbox/api/links/{link['id']}/",
        headers={"X-Belvo-Request-Mode": "async", **basic()},
    )
    assert deleted.status_code == 202
    flow.drain()

    assert flow.get("alice", f"/v1/links/{link['id']}").status_code == 404
    assert flow.get("alice", "/v1/links").get_json()["links"] == []


def test_a_link_deleted_webhook_for_a_link_belvo_still_holds_changes_nothing(flow: Flow) -> None:
    link = verified(flow)
    flow.send_webhook(webhook_payload(link["id"], "LINK", "link_deleted"))
    flow.drain()

    assert flow.get("alice", f"/v1/links/{link['id']}").status_code == 200


def test_a_business_institution_needs_a_cnpj(flow: Flow) -> None:
    refused = flow.post_session("alice", institutions=["ofmockbank_br_retail", "ofmockbank_br_business"])
    only_business = flow.post_session("alice", institution_types=["business"])
    accepted = flow.post_session(
        "alice",
        institutions=["ofmockbank_br_business"],
        identification_info=[
            {"type": "CPF", "number": "76109277673", "name": "Ralph Bragg"},
            {"type": "CNPJ", "number": CNPJ, "name": "Bragg Mechanics"},
        ],
    )

    assert refused.status_code == 422
    error = refused.get_json()["errors"][0]
    assert (error["code"], error["field"]) == ("validation_error", "institutions.1")
    assert "CNPJ" in error["message"]
    assert only_business.status_code == 422
    assert accepted.status_code == 201, accepted.get_json()


def test_an_institution_belvo_does_not_list_is_refused(flow: Flow) -> None:
    refused = flow.post_session("alice", institutions=["ofmockbank_br_retail", "ofnosuchbank_br_retail"])

    assert refused.status_code == 422
    error = refused.get_json()["errors"][0]
    assert (error["code"], error["field"]) == ("validation_error", "institutions.1")
    assert "ofnosuchbank_br_retail" in error["message"]
    assert flow.post_session("alice", institutions=["ofnubank_br_retail"]).status_code == 201
