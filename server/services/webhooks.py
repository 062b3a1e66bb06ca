"""Belvo's webhooks: authenticate, store once per ``webhook_id``, acknowledge, then apply off the request.

Belvo authenticates a delivery only with the static ``Authorization`` value set in its dashboard (no
signature, facts file 4.1 and decision 8), expects a 2xx within 5 seconds and delivers at least once. So
the endpoint compares that header in constant time (two values accepted during a rotation), stores the
payload keyed by ``webhook_id`` (a duplicate inserts nothing and is acknowledged), answers, and a
background :class:`WebhookWorker` applies it. A failure while applying leaves the row ``received``:
``ofda webhooks retry`` applies it again, and applying is idempotent.

What a webhook does (facts file 4.3):

* ``historical_update`` marks the resource (``webhook_type``: ACCOUNTS, OWNERS, TRANSACTIONS...) ready
  on the link, so the data endpoints start answering;
* ``new_<resource>_available`` records when new data arrived;
* every consent webhook (:data:`server.services.consents.CONSENT_WEBHOOKS`) keeps the link's consent
  current: about to expire, expired (both spellings), renewed, revoked, or with resources unavailable;
* anything else is stored and ignored (forward compatible, and no retry storm).

A webhook for a link we do not hold, whose ``external_id`` is one we gave a user, recovers that link
for the user after the same check as a success: Belvo must show the link with that ``external_id``
(orphan-link recovery, threat model A8, for when the app never posted the success). The payload is a
hint; ownership comes from Belvo (threat model D5).
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.belvo import BelvoClient, BelvoNotFound, belvo_client
from server.clock import now as clock_now
from server.config import Secret
from server.models import AppUser, Link, WebhookEvent
from server.services.consents import CONSENT_WEBHOOKS, ConsentChange, changed_consent
from server.services.links import READY, BelvoLink, attach_link, lock_link, resource_state
from server.services.sessions import isoformat_z
from server.storage import database, insert_ignore

log = logging.getLogger(__name__)

#: Largest webhook body accepted. Belvo's documented payloads are under 1 KiB (facts file 4.2/4.3); the
#: limit leaves room for the undocumented ones (``transactions_deleted`` may list ids) because a refused
#: delivery is lost once Belvo stops retrying, and only holders of the webhook secret can send one.
MAX_BODY_BYTES: Final = 256 * 1024

RECEIVED: Final = "received"
PROCESSED: Final = "processed"
IGNORED: Final = "ignored"

#: The shape of the external ids we hand out (contract section 4); anything else is not one of ours.
_EXTERNAL_ID: Final = re.compile(r"[A-Za-z0-9_-]{3,64}")
_NEW_DATA: Final = re.compile(r"new_[a-z_]+_available")


def authorized(header: str | None, accepted: Sequence[Secret]) -> bool:
    """Whether the ``Authorization`` header equals one of the ``accepted`` values, compared as bytes in
    constant time (``hmac.compare_digest`` on a non-ASCII ``str`` raises: threat model D1). Every
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


def store(db: Session, payload: Mapping[str, Any], now: datetime) -> bool:
    """Store a validated delivery and commit; False (nothing written) when ``webhook_id`` is known."""
    inserted = insert_ignore(
        db,
        WebhookEvent,
        {
            "webhook_id": payload["webhook_id"],
            "link_id": payload.get("link_id"),
            "webhook_type": payload["webhook_type"],
            "webhook_code": payload["webhook_code"],
            "payload": dict(payload),
            "status": RECEIVED,
            "note": None,
            "received_at": now,
            "processed_at": None,
        },
    )
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


Action = ResourceReady | NewData | ConsentChange


def classify(webhook_type: str, webhook_code: str) -> Action | None:
    """What a webhook asks of us; None for the ones we store and ignore.

    >>> classify("TRANSACTIONS", "historical_update"), classify("ACCOUNTS", "new_accounts_available")
    (ResourceReady(resource='TRANSACTIONS'), NewData(resource='ACCOUNTS'))
    >>> classify("CONSENT", "consent_expired"), classify("LINK", "token_required")
    (ConsentChange(status=<ConsentStatus.EXPIRED: 'expired'>, resources_issue=None), None)
    """
    match webhook_code:
        case "historical_update":
            return ResourceReady(webhook_type.upper())
        case code if _NEW_DATA.fullmatch(code):
            return NewData(webhook_type.upper())
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

    Raises whatever stopped it (Belvo unreachable during a recovery, the database): the row then stays
    ``received`` and can be processed again.
    """
    row = db.get(WebhookEvent, webhook_id)
    if row is None:
        raise LookupError(f"no stored webhook {webhook_id!r}")
    if row.status != RECEIVED:
        return row.status
    action = classify(row.webhook_type, row.webhook_code)
    if action is None:
        return _finish(db, row, IGNORED, f"{row.webhook_type}/{row.webhook_code} is not handled", now)
    if row.link_id is None:
        return _finish(db, row, IGNORED, "no link_id", now)
    link = lock_link(db, row.link_id, now)
    if link is None:
        db.rollback()
        note = _recover(db, client, row, now)
        if note is not None:
            return _finish(db, row, IGNORED, note, now)
        link = lock_link(db, row.link_id, now)
        assert link is not None  # attached just now, in this transaction
    data = row.payload.get("data")
    apply(link, action, data if isinstance(data, Mapping) else {}, now)
    return _finish(db, row, PROCESSED, None, now)


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
        # Not our user: no Belvo call for someone else's link (threat model D6).
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


def _finish(db: Session, row: WebhookEvent, status: str, note: str | None, now: datetime) -> str:
    row.status, row.note, row.processed_at = status, note, now
    db.commit()
    return status


def received_ids(db: Session, older_than: datetime) -> list[str]:
    """Webhooks stored at or before ``older_than`` and still waiting to be applied, oldest first."""
    return list(
        db.scalars(
            select(WebhookEvent.webhook_id)
            .where(WebhookEvent.status == RECEIVED, WebhookEvent.received_at <= older_than)
            .order_by(WebhookEvent.received_at)
        )
    )


# -- applying webhooks off the request path ------------------------------------------------------------


def process_stored(app: Flask, webhook_id: str) -> str | None:
    """Apply one stored webhook in its own database session; on failure log it and return None (the
    row stays ``received``)."""
    with app.app_context(), database(app).sessionmaker() as db:
        try:
            return process(db, belvo_client(), webhook_id, clock_now())
        except Exception:
            log.exception("webhook processing failed; it stays received", extra={"webhook_id": webhook_id})
            return None


#: One pool for the process: an app per process in production, but many apps in a test run, which must
#: not each keep threads alive. Threads start on the first webhook (so also after a pre-fork import).
_POOL: Final = ThreadPoolExecutor(max_workers=2, thread_name_prefix="webhooks")


class WebhookWorker:
    """Applies an app's stored webhooks on a small thread pool, so the endpoint answers Belvo at once.

    ``drain()`` waits until everything submitted so far is done: tests call it instead of sleeping.
    """

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._pending: set[Future[str | None]] = set()

    def submit(self, webhook_id: str) -> None:
        future = _POOL.submit(process_stored, self._app, webhook_id)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[str | None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def drain(self) -> None:
        """Wait for every webhook submitted before (and while) this call."""
        while True:
            with self._lock:
                pending = set(self._pending)
            if not pending:
                return
            wait(pending)


_WORKER_LOCK = threading.Lock()
_EXTENSION: Final = "ofda.webhook_worker"


def webhook_worker(app: Flask) -> WebhookWorker:
    """The app's worker, started on first use."""
    with _WORKER_LOCK:
        worker: WebhookWorker | None = app.extensions.get(_EXTENSION)
        if worker is None:
            worker = app.extensions[_EXTENSION] = WebhookWorker(app)
        return worker


def retry_received(app: Flask, min_age: timedelta) -> tuple[int, int]:
    """Apply again, on this thread, every webhook left ``received`` for at least ``min_age``; return how
    many were tried and how many are still ``received`` afterwards."""
    with app.app_context(), database(app).sessionmaker() as db:
        ids = received_ids(db, clock_now() - min_age)
    failed = sum(1 for webhook_id in ids if process_stored(app, webhook_id) is None)
    return len(ids), failed
