"""Belvo's webhooks: authenticate, store once per ``webhook_id``, acknowledge, then apply off the request.

Belvo authenticates a delivery only with the static ``Authorization`` value set in its dashboard (no
signature, docs/belvo.md §4.1 and §0.8), expects a 2xx within 5 seconds and delivers at least once. So
the endpoint compares that header in constant time (two values accepted during a rotation), stores the
payload keyed by ``webhook_id`` (a duplicate inserts nothing and is acknowledged) and queues applying it
in the same transaction, answers, and the queue (:mod:`server.webhook_queue`: the ``worker`` process on
PostgreSQL, threads of the server itself on SQLite) applies it, retrying with backoff; a periodic sweep
queues again whatever was left ``received``. Applying happens exactly once per ``webhook_id``.

What a webhook does (docs/belvo.md §4.3):

Webhooks are classified by ``webhook_code`` first: Belvo's own ``new_investments_available`` example
carries ``"webhook_type": "ACCOUNTS"`` (https://developers.belvo.com/docs/investments-webhooks), so a code
that names its resource wins over the type.

* ``historical_update`` marks the resource (``webhook_type``: ACCOUNTS, OWNERS, TRANSACTIONS, BILLS,
  INVESTMENTS, INVESTMENT_TRANSACTIONS) ready on the link, so the data endpoints start answering;
* ``new_<resource>_available`` records when new data arrived, and so do ``transactions_updated`` and
  ``transactions_deleted`` (Belvo changed or removed transactions already sent: read them again);
* ``link_deleted`` (after an asynchronous delete, or a deletion outside this backend) forgets the link,
  once Belvo answers 404 for it;
* every consent webhook (:data:`server.services.consents.CONSENT_WEBHOOKS`) keeps the link's consent
  current: about to expire, expired (both spellings), renewed, revoked, or with resources unavailable;
* anything else is stored and ignored (forward compatible, and no retry storm).

A webhook for a link we do not hold, whose ``external_id`` is one we gave a user, recovers that link
for the user after the same check as a success: Belvo must show the link with that ``external_id``
(orphan-link recovery, docs/security.md A8, for when the app never posted the success). The payload is a
hint; ownership comes from Belvo (docs/security.md D5).
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from server.belvo import BelvoClient, BelvoNotFound, belvo_client
from server.clock import isoformat_z
from server.clock import now as clock_now
from server.config import Secret
from server.models import AppUser, Link, WebhookEvent, WebhookStatus
from server.services.consents import CONSENT_WEBHOOKS, ConsentChange, changed_consent
from server.services.links import READY, BelvoLink, attach_link, lock_link, resource_state
from server.storage import database, insert_ignore

log = logging.getLogger(__name__)

#: Largest webhook body accepted. Belvo's documented payloads are under 1 KiB (docs/belvo.md §4.2/4.3); the
#: limit leaves room for the undocumented ones (``transactions_deleted`` may list ids) because a refused
#: delivery is lost once Belvo stops retrying, and only holders of the webhook secret can send one.
MAX_BODY_BYTES: Final = 256 * 1024


#: The shape of the external ids we hand out (docs/contract.md section 4); anything else is not one of ours.
_EXTERNAL_ID: Final = re.compile(r"[A-Za-z0-9_-]{3,64}")
_NEW_DATA: Final = re.compile(r"new_(?P<resource>[a-z_]+)_available")


def authorized(header: str | None, accepted: Sequence[Secret]) -> bool:
    """Whether the ``Authorization`` header equals one of the ``accepted`` values, compared as bytes in
    constant time (``hmac.compare_digest`` on a non-ASCII ``str`` raises: docs/security.md D1). Every
    accepted value is compared, so the time does not tell which one was close.

    >>> authorized("Bearer s3cret", [Secret("Bearer new"), Secret("Bearer s3cret")])
    True
    >>> authorized("Bearer ábc", [Secret("Bearer s3cret")]), authorized(None, [Secret("Bearer s3cret")])
    (False, False)
    """
    try:
        # WSGI hands header values over as latin-1 text: this gives back the bytes that were sent.
        given = (header or "").encode("latin-1")
    except UnicodeEncodeError:
        return False
    matches = [hmac.compare_digest(given, secret.reveal().encode()) for secret in accepted]
    return header is not None and any(matches)


#: Queues applying a stored webhook in the transaction that stores it (see :mod:`server.webhook_queue`).
Enqueue = Callable[[Session, str], None]


def store(db: Session, payload: Mapping[str, Any], now: datetime, enqueue: Enqueue) -> bool:
    """Store a validated delivery, queue applying it, and commit both at once: nothing is acknowledged
    that is not queued. False (nothing written, nothing queued) when ``webhook_id`` is known."""
    inserted = insert_ignore(
        db,
        WebhookEvent,
        {
            "webhook_id": payload["webhook_id"],
            "link_id": payload.get("link_id"),
            "webhook_type": payload["webhook_type"],
            "webhook_code": payload["webhook_code"],
            "payload": dict(payload),
            "status": WebhookStatus.RECEIVED,
            "note": None,
            "received_at": now,
            "processed_at": None,
        },
    )
    if inserted:
        enqueue(db, payload["webhook_id"])
    db.commit()
    return inserted


# -- what a webhook means ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceReady:
    """``historical_update``: the resource's data can be read."""

    resource: str


@dataclass(frozen=True)
class NewData:
    """``new_<resource>_available``: the resource has new data since it was last read."""

    resource: str


@dataclass(frozen=True)
class LinkDeleted:
    """``link_deleted``: Belvo no longer holds the link."""


Action = ResourceReady | NewData | LinkDeleted | ConsentChange


def classify(webhook_type: str, webhook_code: str) -> Action | None:
    """What a webhook asks of us; None for the ones we store and ignore.

    >>> classify("TRANSACTIONS", "historical_update"), classify("ACCOUNTS", "new_accounts_available")
    (ResourceReady(resource='TRANSACTIONS'), NewData(resource='ACCOUNTS'))
    >>> classify("ACCOUNTS", "new_investments_available")  # Belvo's example, with the wrong type
    NewData(resource='INVESTMENTS')
    >>> classify("TRANSACTIONS", "transactions_deleted"), classify("LINK", "link_deleted")
    (NewData(resource='TRANSACTIONS'), LinkDeleted())
    >>> classify("CONSENT", "consent_expired"), classify("LINK", "token_required")
    (ConsentChange(status=<ConsentStatus.EXPIRED: 'expired'>, resources_issue=None), None)
    """
    match webhook_code:
        case "historical_update":
            return ResourceReady(webhook_type.upper())
        case code if new := _NEW_DATA.fullmatch(code):
            return NewData(new["resource"].upper())
        case "transactions_updated" | "transactions_deleted":
            return NewData("TRANSACTIONS")
        case "link_deleted":
            return LinkDeleted()
        case code if code in CONSENT_WEBHOOKS:
            return CONSENT_WEBHOOKS[code]
        case _:
            return None


def apply(link: Link, action: Action, data: Mapping[str, Any], now: datetime) -> None:
    """Change ``link`` as ``action`` says (new dicts: SQLAlchemy does not see in-place JSON changes)."""
    stamp = isoformat_z(now)
    match action:
        case ResourceReady(resource):
            state = link.resources.get(resource) or resource_state(READY)
            totals = {k: v for k, v in data.items() if k.startswith("total_") and isinstance(v, int)}
            link.resources = {
                **link.resources,
                resource: {**state, "status": READY, "ready_at": stamp, "totals": totals},
            }
        case NewData(resource):
            state = link.resources.get(resource) or resource_state("pending")
            link.resources = {**link.resources, resource: {**state, "new_data_at": stamp}}
        case ConsentChange():
            link.consent = changed_consent(link.consent, action, data, now)


def process(db: Session, client: BelvoClient, webhook_id: str, now: datetime) -> str:
    """Apply the stored webhook ``webhook_id`` once; return its status afterwards.

    Exactly once, even when two workers hold the same job (a retried stalled job beside a sweep's new
    one): the webhook's row is claimed (locked) before anything is read, and its status is checked and
    changed in the same transaction as the link. Raises whatever stopped it (Belvo unreachable during a
    recovery, the database): the row then stays ``received`` and can be processed again.
    """
    row = _claim(db, webhook_id)
    if row.status != WebhookStatus.RECEIVED:
        db.rollback()
        return row.status
    action = classify(row.webhook_type, row.webhook_code)
    if action is None:
        return _finish(
            db, row, WebhookStatus.IGNORED, f"{row.webhook_type}/{row.webhook_code} is not handled", now
        )
    if row.link_id is None:
        return _finish(db, row, WebhookStatus.IGNORED, "no link_id", now)
    link = lock_link(db, row.link_id, now)
    if isinstance(action, LinkDeleted):
        if link is None:
            return _finish(db, row, WebhookStatus.IGNORED, "link not held", now)
        db.rollback()  # no transaction stays open while Belvo answers
        still_there = _still_at_belvo(client, row.link_id)
        row = _claim(db, webhook_id)  # the claim ended with the rollback
        if row.status != WebhookStatus.RECEIVED:
            db.rollback()
            return row.status
        if still_there:
            return _finish(db, row, WebhookStatus.IGNORED, "Belvo still holds the link", now)
        gone = db.get(Link, row.link_id)
        if gone is not None:
            db.delete(gone)
        log.info("link deleted at Belvo; forgotten here", extra={"link_id": row.link_id})
        return _finish(db, row, WebhookStatus.PROCESSED, None, now)
    if link is None:
        db.rollback()
        note = _recover(db, client, row, now)
        row = _claim(db, webhook_id)  # the claim ended with the transaction _recover committed
        if row.status != WebhookStatus.RECEIVED:
            db.rollback()
            return row.status
        if note is not None:
            return _finish(db, row, WebhookStatus.IGNORED, note, now)
        link = lock_link(db, row.link_id, now)  # type: ignore[arg-type]
        assert link is not None  # attached just now
    data = row.payload.get("data")
    apply(link, action, data if isinstance(data, Mapping) else {}, now)
    return _finish(db, row, WebhookStatus.PROCESSED, None, now)


def _still_at_belvo(client: BelvoClient, link_id: str) -> bool:
    """Whether Belvo still shows the link: the webhook is a hint, and only Belvo's 404 lets us forget a
    link (its other failures raise, so the webhook stays ``received`` and is applied again later)."""
    try:
        client.get_link(link_id)
    except BelvoNotFound:
        return False
    return True


def _claim(db: Session, webhook_id: str) -> WebhookEvent:
    """The webhook's row, locked until the transaction ends, so that a second worker waits here and then
    finds the status changed: ``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite, which has no row
    locks, a write first takes the database's write lock, as :func:`lock_link` does."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(
            update(WebhookEvent)
            .where(WebhookEvent.webhook_id == webhook_id)
            .values(status=WebhookEvent.status)
            .execution_options(synchronize_session=False)
        )
    row = db.get(WebhookEvent, webhook_id, populate_existing=True, with_for_update=True)
    if row is None:
        db.rollback()
        raise LookupError(f"no stored webhook {webhook_id!r}")
    return row


def _recover(db: Session, client: BelvoClient, row: WebhookEvent, now: datetime) -> str | None:
    """Attach an unknown link to the user whose ``external_id`` the webhook names, once Belvo confirms
    it (same check as a success). None when attached; otherwise why the webhook is ignored."""
    external_id = row.payload.get("external_id")
    user_id = (
        db.scalar(select(AppUser.user_id).where(AppUser.external_id == external_id))
        if isinstance(external_id, str) and _EXTERNAL_ID.fullmatch(external_id)
        else None
    )
    if user_id is None:
        # Not our user: no Belvo call for someone else's link (docs/security.md D6).
        return "unknown link and external_id"
    db.commit()  # no transaction stays open while Belvo answers
    assert row.link_id is not None
    try:
        link = BelvoLink.from_belvo(client.get_link(row.link_id))
    except BelvoNotFound:
        # Deleted meanwhile (or never ours): a late webhook must not bring a deleted link back (D7).
        return "Belvo has no such link"
    if link.external_id != external_id:
        log.warning(
            "webhook link not recovered: Belvo's external_id differs", extra={"webhook_id": row.webhook_id}
        )
        return "Belvo's external_id for the link differs"
    stored = attach_link(db, link, user_id, None, now)
    if stored.user_id != user_id:
        return "link belongs to another user"
    log.info("link recovered from a webhook", extra={"link_id": link.id, "webhook_id": row.webhook_id})
    return None


def _finish(db: Session, row: WebhookEvent, status: WebhookStatus, note: str | None, now: datetime) -> str:
    row.status, row.note, row.processed_at = status, note, now
    db.commit()
    return status


def received_ids(db: Session, older_than: datetime) -> list[str]:
    """Webhooks stored at or before ``older_than`` and still waiting to be applied, oldest first."""
    return list(
        db.scalars(
            select(WebhookEvent.webhook_id)
            .where(WebhookEvent.status == WebhookStatus.RECEIVED, WebhookEvent.received_at <= older_than)
            .order_by(WebhookEvent.received_at)
        )
    )


def received_count(db: Session) -> int:
    """How many webhooks wait to be applied."""
    return db.scalar(select(func.count()).where(WebhookEvent.status == WebhookStatus.RECEIVED)) or 0


def apply_stored(app: Flask, webhook_id: str) -> str:
    """Apply one stored webhook in its own database session (what a queued job runs); raises what
    stopped it, so the queue can retry."""
    with app.app_context(), database(app).sessionmaker() as db:
        status = process(db, belvo_client(), webhook_id, clock_now())
    log.info("webhook applied", extra={"webhook_id": webhook_id, "status": status})
    return status
