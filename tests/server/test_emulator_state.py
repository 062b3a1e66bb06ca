"""Emulator mode as it is run: one emulator however many processes serve the backend, the same one after a
restart, and the backend's Belvo deadline firing against it as against Belvo."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from server.services.webhooks import webhook_worker
from server.storage import database
from tests.conftest import make_app
from tests.emulator.builders import basic
from tests.server.lifecycle import Flow, success
from tests.server.test_links import linked

BASIC = basic()


def _pages(flow: Flow, link_id: str, resource: str) -> list[Any]:
    response = flow.get("alice", f"/v1/links/{link_id}/{resource}?page_size=1000")
    assert response.status_code == 200, response.get_json()
    results: list[Any] = response.get_json()["results"]
    return results


def test_a_restart_between_a_success_and_reading_the_data_serves_the_same_data(database_url: str) -> None:
    with Flow.start(database_url) as before:
        link = linked(before, "alice", ready=("ACCOUNTS", "TRANSACTIONS"))
        transactions = _pages(before, link["id"], "transactions")
        accounts = _pages(before, link["id"], "accounts")
        assert transactions

    with Flow.start(database_url) as after:  # a new process on the same database: `ofda run` again
        assert _pages(after, link["id"], "transactions") == transactions
        assert _pages(after, link["id"], "accounts") == accounts
        assert after.get("alice", f"/v1/links/{link['id']}").get_json()["status"] == "valid"


def test_two_processes_are_one_emulator(database_url: str) -> None:
    """Two apps on one database stand for two gunicorn workers: a widget URL made by one opens on the
    other, a link made on one is verified through the other, and a fault rule set on one is counted on
    both."""
    with Flow.start(database_url) as first, Flow.start(database_url) as second:
        session = first.create_session("alice")
        url = urlsplit(session["widget_url"])
        opened = second.client.get(f"{url.path}?{url.query}")
        assert opened.status_code == 303, "the token the first process minted is valid on the second"
        assert first.client.get(opened.headers["Location"]).status_code == 200, "so is its widget session"

        link = second.belvo_link(session["external_id"])
        verified = first.post_event("alice", session["id"], success(session, link))
        assert verified.status_code == 200, verified.get_json()

        first.fault(f"/api/links/{link['id']}/", 503, times=2)
        answers = [
            flow.client.get(f"/sandbox/api/links/{link['id']}/", headers=BASIC)
            for flow in (second, first, second)
        ]
        assert [a.status_code for a in answers] == [503, 503, 200]
        assert second.faults() == first.faults() == []


def test_a_slow_emulator_trips_the_backends_deadline(database_url: str) -> None:
    """A latency fault longer than the deadline: 503 upstream_unavailable, as a slow Belvo gives."""
    app = make_app(database_url, BELVO_DEADLINE_SECONDS="0.5", BELVO_RETRY_SCHEDULE="0")
    client = app.test_client()
    try:
        client.post(
            "/sandbox/_control/faults", json={"match": "/api/token/", "status": None, "delay_ms": 3000}
        )
        flow = Flow(app, client, clock=None)  # type: ignore[arg-type]  # only its request helpers
        response = flow.post_session("alice")

        assert response.status_code == 503, response.get_json()
        assert response.get_json()["errors"][0]["code"] == "upstream_unavailable"
        assert response.headers["Retry-After"]
    finally:
        webhook_worker(app).drain()
        database(app).engine.dispose()
