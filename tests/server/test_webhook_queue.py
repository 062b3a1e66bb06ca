"""The webhook queue's contract, for both implementations: procrastinate on PostgreSQL, the in-process
executor on SQLite (the app picks by its database, as a deployment would)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from server.models import Link, WebhookEvent
from server.services import webhooks
from server.storage import database
from server.webhook_queue import Backoff, InProcessQueue, ProcrastinateQueue, WebhookQueue, webhook_queue
from tests.conftest import make_app
from tests.server.lifecycle import Flow, success, webhook_payload


@pytest.fixture
def flow(database_url: str) -> Iterator[Flow]:
    with Flow.start(database_url) as flow:
        yield flow


@pytest.fixture
def link_id(flow: Flow) -> str:
    session = flow.create_session("alice")
    link = flow.belvo_link(session["external_id"])
    assert flow.post_event("alice", session["id"], success(session, link)).status_code == 200
    return str(link["id"])


def queue_of(flow: Flow) -> WebhookQueue:
    return webhook_queue(flow.app)


def store(flow: Flow, link_id: str, queue: WebhookQueue | None) -> str:
    """Store a webhook as the endpoint does; with ``queue`` None, its job is lost (a crash)."""
    payload = webhook_payload(link_id, "ACCOUNTS", "historical_update")
    with flow.app.app_context(), database(flow.app).sessionmaker() as db:
        webhooks.store(db, payload, flow.clock(), queue.enqueue if queue else lambda _db, _id: None)
    return str(payload["webhook_id"])


def test_the_database_picks_the_implementation(flow: Flow) -> None:
    sqlite = database(flow.app).engine.dialect.name == "sqlite"
    assert isinstance(queue_of(flow), InProcessQueue if sqlite else ProcrastinateQueue)


def test_a_webhook_queued_with_its_row_is_applied(flow: Flow, link_id: str) -> None:
    webhook_id = store(flow, link_id, queue_of(flow))

    queue_of(flow).drain()

    assert flow.row(WebhookEvent, webhook_id).status == "processed"


def test_nothing_is_queued_when_the_transaction_rolls_back(flow: Flow, link_id: str) -> None:
    queue = queue_of(flow)
    with flow.app.app_context(), database(flow.app).sessionmaker() as db:
        queue.enqueue(db, "never-stored")
        db.rollback()

    queue.drain()

    assert queue.sweep(timedelta(0)) == 0
    assert flow.count(WebhookEvent) == 0


def test_the_sweep_queues_what_was_left_received_and_only_that(flow: Flow, link_id: str) -> None:
    queue = queue_of(flow)
    lost = store(flow, link_id, None)
    waiting = store(flow, link_id, queue)

    assert queue.sweep(timedelta(minutes=1)) == 0  # too recent: its job may still be on its way
    assert queue.sweep(timedelta(0)) == 1  # the lost one; the other has its job waiting
    queue.drain()

    assert flow.row(WebhookEvent, lost).status == "processed"
    assert flow.row(WebhookEvent, waiting).status == "processed"
    assert queue.sweep(timedelta(0)) == 0


def test_ofda_worker_on_sqlite_refuses_and_says_why(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'embedded.sqlite3'}")

    result = app.test_cli_runner().invoke(args=["worker"])

    assert result.exit_code == 2
    assert "ofda worker needs DATABASE_URL to name PostgreSQL" in result.output
    database(app).dispose()


def test_a_reconcile_queued_with_a_transaction_runs_once_it_commits(flow: Flow) -> None:
    session = flow.create_session("alice")
    orphan = flow.belvo_link(session["external_id"])
    queue = queue_of(flow)
    with flow.app.app_context(), database(flow.app).sessionmaker() as db:
        queue.enqueue_reconcile(db, "alice")
        queue.enqueue_reconcile(db, "alice")  # a second while the first waits: one is enough, no error
        db.rollback()
        queue.drain()
        assert flow.count(Link) == 0  # rolled back: nothing was queued

        queue.enqueue_reconcile(db, "alice")
        queue.enqueue_reconcile(db, "alice")
        db.commit()

    queue.drain()

    assert flow.row(Link, orphan["id"]).user_id == "alice"


def test_in_process_a_webhook_out_of_retries_is_swept_again(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the in-process queue is SQLite's")
    with Flow.start(database_url) as flow:
        session = flow.create_session("alice")
        orphan = flow.belvo_link(session["external_id"])  # never posted: its webhook recovers it
        queue = InProcessQueue(flow.app, Backoff(first=0.0, retries=0))
        flow.fault(f"/api/links/{orphan['id']}/", 503)
        payload = webhook_payload(
            orphan["id"], "ACCOUNTS", "historical_update", external_id=session["external_id"]
        )
        with flow.app.app_context(), database(flow.app).sessionmaker() as db:
            webhooks.store(db, payload, flow.clock(), queue.enqueue)
        queue.drain()
        assert flow.row(WebhookEvent, payload["webhook_id"]).status == "received"

        flow.clear_faults()
        assert queue.sweep(timedelta(0)) == 1
        queue.drain()

        assert flow.row(WebhookEvent, payload["webhook_id"]).status == "processed"
        assert flow.count(Link, id=orphan["id"]) == 1
