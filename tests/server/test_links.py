"""`/v1/links`: the user's links, deleting them at Belvo first, and their data read through Belvo (the
emulator) with Belvo's pagination rewritten to our own endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from server.belvo import BelvoNotFound, belvo_client
from server.models import Link
from tests.server.lifecycle import Flow, success


@pytest.fixture
def flow(database_url: str) -> Iterator[Flow]:
    with Flow.start(database_url) as flow:
        yield flow


def linked(flow: Flow, user: str = "alice", ready: tuple[str, ...] = (), **link: Any) -> dict[str, Any]:
    """A verified link of ``user`` whose ``ready`` resources have had their historical_update."""
    session = flow.create_session(user)
    belvo_link = flow.belvo_link(session["external_id"], **link)
    assert flow.post_event(user, session["id"], success(session, belvo_link)).status_code == 200
    for resource in ready:
        flow.belvo_webhook(belvo_link["id"], resource, "historical_update")
    flow.drain()
    return belvo_link


def at_belvo(flow: Flow, link_id: str) -> int:
    """The status Belvo (the emulator) answers for the link, asked with our secret keys."""
    with flow.app.app_context():
        try:
            belvo_client().get_link(link_id)
        except BelvoNotFound:
            return 404
    return 200


def error_code(response: Any) -> str:
    code: str = response.get_json()["errors"][0]["code"]
    return code


# -- listing, reading, deleting ----------------------------------------------------------------------------


def test_each_user_lists_only_their_own_links(flow: Flow) -> None:
    alices = [linked(flow, "alice")["id"] for _ in range(2)]
    bobs = linked(flow, "bob")["id"]

    listed = flow.get("alice", "/v1/links").get_json()["links"]

    assert sorted(link["id"] for link in listed) == sorted(alices)
    assert bobs not in {link["id"] for link in listed}
    assert flow.get("carol", "/v1/links").get_json() == {"links": [], "reconciled_at": None}


def test_a_link_shows_its_resources_and_no_user_data(flow: Flow) -> None:
    link = linked(flow, fetch_resources=["ACCOUNTS", "TRANSACTIONS"])

    view = flow.get("alice", f"/v1/links/{link['id']}").get_json()

    assert (view["id"], view["institution"], view["status"]) == (link["id"], link["institution"], "valid")
    assert {name: state["status"] for name, state in view["resources"].items()} == {
        "ACCOUNTS": "pending",
        "TRANSACTIONS": "pending",
    }
    assert "user_id" not in view
    assert "external_id" not in view


@pytest.mark.parametrize("path", ["", "/accounts", "/owners", "/transactions"])
def test_another_users_link_is_404_everywhere(flow: Flow, path: str) -> None:
    link = linked(flow, "alice", ready=("ACCOUNTS", "OWNERS", "TRANSACTIONS"))

    response = flow.get("mallory", f"/v1/links/{link['id']}{path}")

    assert response.status_code == 404
    assert error_code(response) == "not_found"


@pytest.mark.parametrize("link_id", ["0b6f1c52-4a7e-4c38-9b7e-2f1d1c0a9e11", "not-a-uuid", "%00", "x" * 300])
def test_unknown_and_malformed_link_ids_are_404(flow: Flow, link_id: str) -> None:
    assert flow.get("alice", f"/v1/links/{link_id}").status_code == 404


def test_another_user_cannot_delete_a_link(flow: Flow) -> None:
    link = linked(flow, "alice")

    response = flow.client.delete(f"/v1/links/{link['id']}", headers=flow.headers("mallory"))

    assert response.status_code == 404
    assert at_belvo(flow, link["id"]) == 200
    assert flow.count(Link) == 1


def test_delete_removes_the_link_at_belvo_then_here(flow: Flow) -> None:
    link = linked(flow, "alice")

    response = flow.client.delete(f"/v1/links/{link['id']}", headers=flow.headers("alice"))

    assert (response.status_code, response.data) == (204, b"")
    assert at_belvo(flow, link["id"]) == 404
    assert flow.get("alice", f"/v1/links/{link['id']}").status_code == 404
    assert flow.get("alice", "/v1/links").get_json()["links"] == []


def test_a_link_already_gone_at_belvo_is_deleted_here_too(flow: Flow) -> None:
    link = linked(flow, "alice")
    with flow.app.app_context():
        belvo_client().delete_link(link["id"])

    assert flow.client.delete(f"/v1/links/{link['id']}", headers=flow.headers("alice")).status_code == 204
    assert flow.count(Link) == 0


def test_belvo_unreachable_on_delete_is_503_and_the_link_is_kept(flow: Flow) -> None:
    link = linked(flow, "alice")
    flow.fault("/api/links/", 503)

    response = flow.client.delete(f"/v1/links/{link['id']}", headers=flow.headers("alice"))

    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert flow.count(Link) == 1
    flow.clear_faults()
    assert at_belvo(flow, link["id"]) == 200


# -- data ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "webhook_type"), [("accounts", "ACCOUNTS"), ("transactions", "TRANSACTIONS")]
)
def test_data_is_409_until_the_historical_update_arrives(
    flow: Flow, resource: str, webhook_type: str
) -> None:
    link = linked(flow)

    before = flow.get("alice", f"/v1/links/{link['id']}/{resource}")
    flow.belvo_webhook(link["id"], webhook_type, "historical_update")
    flow.drain()
    after = flow.get("alice", f"/v1/links/{link['id']}/{resource}")

    assert before.status_code == 409
    assert error_code(before) == "resource_not_ready"
    assert after.status_code == 200
    assert after.headers["Cache-Control"] == "no-store"
    assert after.get_json()["count"] >= len(after.get_json()["results"]) > 0


def test_a_resource_the_link_does_not_fetch_says_so(flow: Flow) -> None:
    link = linked(flow, fetch_resources=["ACCOUNTS"], ready=("ACCOUNTS",))

    response = flow.get("alice", f"/v1/links/{link['id']}/owners")

    assert response.status_code == 409
    assert error_code(response) == "resource_not_ready"
    assert "not among the resources this link fetches" in response.get_json()["errors"][0]["message"]


def test_pages_link_to_our_endpoint_and_following_them_reads_everything(flow: Flow) -> None:
    link = linked(flow, ready=("TRANSACTIONS",))
    path = f"/v1/links/{link['id']}/transactions"
    everything = flow.get("alice", f"{path}?page_size=1000").get_json()

    pages = [flow.get("alice", f"{path}?page_size=25").get_json()]
    while pages[-1]["next"] is not None:
        parts = urlsplit(pages[-1]["next"])
        assert parts.path == path
        assert parse_qs(parts.query)["page_size"] == ["25"]
        assert "link" not in parse_qs(parts.query)  # Belvo's URL parameters do not leak through
        pages.append(flow.get("alice", pages[-1]["next"]).get_json())

    assert [t["id"] for page in pages for t in page["results"]] == [t["id"] for t in everything["results"]]
    assert len(pages) > 1
    assert pages[0]["previous"] is None
    assert flow.get("alice", pages[1]["previous"]).get_json()["results"] == pages[0]["results"]


def test_transactions_are_filtered_by_value_date_at_belvo(flow: Flow) -> None:
    link = linked(flow, ready=("TRANSACTIONS",))
    all_dates = sorted(
        t["value_date"]
        for t in flow.get("alice", f"/v1/links/{link['id']}/transactions?page_size=1000").get_json()[
            "results"
        ]
    )
    middle = all_dates[len(all_dates) // 2]

    page = flow.get(
        "alice", f"/v1/links/{link['id']}/transactions?page_size=1000&value_date__gte={middle}"
    ).get_json()

    assert 0 < page["count"] < len(all_dates)
    assert all(
        date.fromisoformat(t["value_date"][:10]) >= date.fromisoformat(middle[:10]) for t in page["results"]
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page_size=0", "page_size"),
        ("page_size=1001", "page_size"),
        ("page=0", "page"),
        ("value_date__gte=yesterday", "value_date__gte"),
        ("value_date__range=2026-02-01,2026-01-01", "value_date__range"),
        ("value_date__range=2026-01-01,2026-02-01&value_date__lt=2026-01-15", "value_date__range"),
        ("account=not-a-uuid", "account"),
        ("link=0b6f1c52-4a7e-4c38-9b7e-2f1d1c0a9e11", "link"),
    ],
)
def test_bad_query_parameters_are_422(flow: Flow, query: str, field: str) -> None:
    link = linked(flow, ready=("TRANSACTIONS",))

    response = flow.get("alice", f"/v1/links/{link['id']}/transactions?{query}")

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == field


def test_belvo_unreachable_on_data_is_503_with_retry_after(flow: Flow) -> None:
    link = linked(flow, ready=("ACCOUNTS",))
    flow.fault("/api/accounts/", 503)

    response = flow.get("alice", f"/v1/links/{link['id']}/accounts")

    assert response.status_code == 503
    assert error_code(response) == "upstream_unavailable"
    assert int(response.headers["Retry-After"]) >= 1
