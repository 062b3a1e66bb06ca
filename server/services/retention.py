"""Retention: what the backend no longer needs is deleted (LGPD Art. 6 III, necessity; docs/security.md C10).

A widget session is useful while its widget can be opened and while the app may still ask about it after
being relaunched; after that it is history. Its row holds the widget URL (Belvo's access token, expired
by then) until the session ends. Webhook rows are kept as long as Belvo may deliver the same webhook
again (deduplication needs them). Links are the user's, and stay until the user deletes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from server.models import SessionEvent, WebhookEvent, WebhookStatus, WidgetSession


@dataclass(frozen=True)
class Purged:
    sessions: int
    webhooks: int
    widget_urls_cleared: int


def purge(db: Session, now: datetime, *, sessions_after: timedelta, webhooks_after: timedelta) -> Purged:
    """Delete sessions (and their events) created more than ``sessions_after`` ago, webhooks received
    more than ``webhooks_after`` ago (unless still waiting to be applied), and forget the widget URL and
    address key of every session past its expiry."""
    cleared = db.execute(
        update(WidgetSession)
        .where(WidgetSession.widget_url.is_not(None), WidgetSession.expires_at <= now)
        .values(widget_url=None)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    # The per-address limit looks one minute back: an expired session's address key serves nothing.
    db.execute(
        update(WidgetSession)
        .where(WidgetSession.client_key.is_not(None), WidgetSession.expires_at <= now)
        .values(client_key=None)
        .execution_options(synchronize_session=False)
    )
    old_sessions = WidgetSession.created_at < now - sessions_after
    db.execute(
        delete(SessionEvent)
        .where(SessionEvent.session_id.in_(db.query(WidgetSession.id).filter(old_sessions)))
        .execution_options(synchronize_session=False)
    )
    sessions = db.execute(
        delete(WidgetSession).where(old_sessions).execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    webhooks = db.execute(
        delete(WebhookEvent)
        .where(WebhookEvent.received_at < now - webhooks_after, WebhookEvent.status != WebhookStatus.RECEIVED)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    db.commit()
    return Purged(sessions=sessions, webhooks=webhooks, widget_urls_cleared=cleared)
