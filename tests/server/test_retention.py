"""`ofda purge`: old sessions and applied webhooks go, expired widget URLs (Belvo tokens) are forgotten,
links stay."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select

from server.models import Link, SessionEvent, WebhookEvent, WidgetSession
from server.storage import database
from tests.server.lifecycle import Flow, success, webhook_payload


def count(app: Flask, model: type[Link | SessionEvent | WebhookEvent | WidgetSession]) -> int:
    with database(app).session() as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def test_purge_keeps_recent_rows_and_links_and_deletes_the_old(database_url: str) -> None:
    with Flow.start(database_url) as flow:
        old = flow.create_session("alice")
        link = flow.belvo_link(old["external_id"])
        assert flow.post_event("alice", old["id"], success(old, link)).status_code == 200
        assert (
            flow.send_webhook(webhook_payload(link["id"], "ACCOUNTS", "historical_update")).status_code == 200
        )
        flow.drain()
        abandoned = flow.create_session("bob")  # never completed: its widget URL outlives its token

        flow.clock.advance(days=31)
        recent = flow.create_session("carol")
        result = flow.app.test_cli_runner().invoke(args=["purge"])

        assert result.exit_code == 0, result.output
        assert "2 sessions and 1 webhooks deleted" in result.output
        assert count(flow.app, WidgetSession) == 1
        assert count(flow.app, SessionEvent) == 0
        assert count(flow.app, WebhookEvent) == 0
        assert count(flow.app, Link) == 1  # the user's link stays until the user deletes it
        assert flow.get("carol", f"/v1/widget-sessions/{recent['id']}").status_code == 200
        assert flow.get("bob", f"/v1/widget-sessions/{abandoned['id']}").status_code == 404


def test_purge_forgets_widget_urls_and_address_keys_of_expired_sessions(database_url: str) -> None:
    with Flow.start(database_url, SESSION_RATE_LIMIT_PER_IP_PER_MINUTE="5") as flow:
        session = flow.create_session("alice")
        with database(flow.app).session() as db:
            assert db.scalar(select(WidgetSession.client_key)) is not None
        flow.clock.advance(minutes=30)

        result = flow.app.test_cli_runner().invoke(args=["purge"])

        assert "1 expired widget URLs forgotten" in result.output
        with database(flow.app).session() as db:
            stored = db.get(WidgetSession, session["id"])
            assert stored is not None
            assert stored.widget_url is None
            assert stored.client_key is None


def test_a_webhook_not_yet_applied_is_kept(database_url: str) -> None:
    with Flow.start(database_url) as flow:
        with database(flow.app).session() as db:
            db.add(
                WebhookEvent(
                    webhook_id="w1", webhook_type="ACCOUNTS", webhook_code="historical_update",
                    payload={}, received_at=flow.clock() - timedelta(days=60),
                )
            )  # fmt: skip
        assert flow.app.test_cli_runner().invoke(args=["purge"]).exit_code == 0
        assert count(flow.app, WebhookEvent) == 1
