"""The tables the backend keeps. Changes here need a migration in ``server/migrations/versions``
(``tests/server/test_migrations.py`` fails while the two disagree)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite drops the zone; we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class SessionStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    EXITED = "exited"
    FAILED = "failed"
    EXPIRED = "expired"
    #: The app closed the webview (``POST .../cancel``), or a newer session of the user replaced it.
    CANCELLED = "cancelled"
    #: Internal: the row holds the user's slot while Belvo mints the token (``services/sessions.py``);
    #: never shown to a client, who learns the session's id only once it is pending.
    RESERVING = "reserving"


class WebhookStatus(StrEnum):
    """What became of a stored webhook (``WebhookEvent.status``)."""

    RECEIVED = "received"  #: stored, not applied yet
    PROCESSED = "processed"
    IGNORED = "ignored"


class AppUser(Base):
    """An app user as Belvo knows them: only through an opaque, random ``external_id``."""

    __tablename__ = "app_users"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When reconciling the user's links with Belvo was last queued (``server/services/reconcile.py``):
    #: ``GET /v1/links`` and the periodic sweep queue another only once this is old enough.
    reconcile_requested_at: Mapped[datetime | None]
    #: When Belvo's list of the user's links last matched what is stored here (a reconcile finished).
    links_reconciled_at: Mapped[datetime | None]


def effective_status(status: str, expires_at: datetime, now: datetime) -> SessionStatus:
    """A session's status as of ``now``: a pending session past ``expires_at`` is expired, whether or not
    anything has written that down yet (no background job needed)."""
    stored = SessionStatus(status)
    if stored is SessionStatus.PENDING and now >= expires_at:
        return SessionStatus.EXPIRED
    return stored


def _present(column: str) -> dict[str, Any]:
    """A partial index's condition, on both databases: only the rows where ``column`` has a value."""
    condition = text(f"{column} IS NOT NULL")
    return {"sqlite_where": condition, "postgresql_where": condition}


class WidgetSession(Base):
    __tablename__ = "widget_sessions"
    __table_args__ = (
        # The per-user rate limit reads a user's sessions of the last minute on every new session (and
        # every query by user starts with it).
        Index("ix_widget_sessions_user_created", "user_id", "created_at"),
        # A new session is written twice (its reservation, then the session): the indexes below hold only
        # the rows with a value, so neither write touches one whose column is empty (migration 0009).
        # The optional per-address rate limit reads the sessions of the last minute from one address.
        Index("ix_widget_sessions_client_created", "client_key", "created_at", **_present("client_key")),
        # App2App: the bank sends the user back with the session's access token; the app's resume call
        # finds the session by a keyed hash of it.
        Index("ix_widget_sessions_access_token_key", "access_token_key", **_present("access_token_key")),
        # One session per (user, Idempotency-Key): a retried request finds the session it created.
        Index(
            "uq_widget_sessions_user_idempotency_key",
            "user_id",
            "idempotency_key",
            unique=True,
            **_present("idempotency_key"),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255))
    external_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.PENDING)
    #: Carries Belvo's access token: returned to its owner only, never logged, cleared once the
    #: session is over.
    widget_url: Mapped[str | None] = mapped_column(Text)
    callback_urls: Mapped[dict[str, Any]]
    #: The startup options the app asked for (no personal data): access_mode, institutions, ...
    options: Mapped[dict[str, Any]]
    link_id: Mapped[str | None] = mapped_column(String(36))
    institution: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    #: The client's ``Idempotency-Key`` and a keyed hash of the request body it came with (the body holds
    #: a CPF and a name: only an HMAC is kept, to tell a retry from a different request).
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hmac: Mapped[str | None] = mapped_column(String(64))
    #: A keyed hash (HMAC) of the client's IP address, kept only while the per-address rate limit is on
    #: and only until the session expires (``ofda purge``): an IP address is personal data (LGPD).
    client_key: Mapped[str | None] = mapped_column(String(64))
    #: A keyed hash (HMAC) of Belvo's access token, kept after the session ends (unlike the widget URL)
    #: so that a late App2App return is told "completed" or "expired" rather than "not found".
    access_token_key: Mapped[str | None] = mapped_column(String(64))

    events: Mapped[list[SessionEvent]] = relationship(
        back_populates="session", order_by="SessionEvent.id", cascade="all, delete-orphan"
    )

    def effective_status(self, now: datetime) -> SessionStatus:
        return effective_status(self.status, self.expires_at, now)


class SessionEvent(Base):
    """A deeplink event the app forwarded for a session, as the typed event JSON."""

    __tablename__ = "session_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("widget_sessions.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    event: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    session: Mapped[WidgetSession] = relationship(back_populates="events")


class Link(Base):
    """A Belvo link owned by an app user, stored only after it was verified with Belvo."""

    __tablename__ = "links"
    __table_args__ = (
        # A verified success looks for the user's other links to the same bank account holder.
        Index("ix_links_user_institution_user", "user_id", "institution_user_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    external_id: Mapped[str] = mapped_column(String(64), index=True)
    session_id: Mapped[str | None] = mapped_column(String(64))
    institution: Mapped[str] = mapped_column(String(128))
    #: Belvo's id of the person at the institution: two links with the same one are duplicates.
    institution_user_id: Mapped[str | None] = mapped_column(String(64))
    access_mode: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str | None] = mapped_column(String(32))
    #: Per resource (ACCOUNTS, OWNERS, TRANSACTIONS, ...), as ``server.services.links.resource_state``
    #: builds it: {"status": "pending"|"ready", "ready_at": iso|None, "new_data_at": iso|None, "totals":
    #: {"total_...": int}}. Filled by webhooks.
    resources: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The Open Finance consent as Belvo's consent webhooks last described it, in the shape of
    #: ``server.services.consents.changed_consent`` (docs/contract.md section 7); None before the first one.
    consent: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookEvent(Base):
    """Every webhook delivery we accepted, once per ``webhook_id`` (Belvo delivers at least once)."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_link_id", "link_id"),)

    webhook_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    link_id: Mapped[str | None] = mapped_column(String(36))
    webhook_type: Mapped[str] = mapped_column(String(64))
    webhook_code: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    #: received -> processed | ignored
    status: Mapped[str] = mapped_column(String(16), default=WebhookStatus.RECEIVED)
    note: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
