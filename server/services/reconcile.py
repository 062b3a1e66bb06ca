"""Reconciling a user's links with Belvo, off the request path.

Webhooks report a link's changes one at a time, and one Belvo gave up delivering is lost; Belvo's link
guide asks to monitor the ``invalid`` and ``token_required`` statuses
(https://developers.belvo.com/docs/links). So, for one user, the queue (:mod:`server.webhook_queue`)
asks Belvo for every link made with the user's ``external_id`` (``GET /api/links/?external_id=``, a
filter of Belvo's list, OpenAPI 1.35) and brings what is stored in line:

- a link Belvo holds for the user's ``external_id`` that is not stored is attached to the user (an
  orphan: the app never posted the success and the webhooks were lost), under the ownership rule of a
  webhook's recovery: Belvo, asked with our secret keys, shows the link with the user's ``external_id``;
- a stored link's ``status`` (``valid``, ``invalid``, ``unconfirmed``, ``token_required``) and
  ``access_mode`` become Belvo's;
- a stored link Belvo's list leaves out is asked for by id, and forgotten only on Belvo's 404 (as the
  ``link_deleted`` webhook does);
- every Belvo call comes before the first write: any failure raises with nothing written, and the job is
  retried;
- a consent whose due date (from Belvo's consent webhooks) has passed is ``expired``, without waiting
  for the webhook that says so.

Nothing is written when nothing changed (a link's ``updated_at`` moves only when it does), and every
write takes the link's row lock first (:func:`server.services.links.lock_link`), so a reconcile running
beside webhooks or a second reconcile of the same user leaves the same rows either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from flask import Flask
from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from server.belvo import BelvoClient, BelvoNotFound, belvo_client
from server.clock import now as clock_now
from server.models import AppUser, Link
from server.services.consents import ConsentChange, ConsentStatus, changed_consent
from server.services.links import BelvoLink, attach_link, lock_link
from server.storage import database

log = logging.getLogger(__name__)

#: Consent states that end by themselves at the consent's due date.
_RUNNING: Final = frozenset({ConsentStatus.ACTIVE.value, ConsentStatus.ABOUT_TO_EXPIRE.value})
_EXPIRED: Final = ConsentChange(ConsentStatus.EXPIRED)


@dataclass(frozen=True)
class Reconciled:
    """What one reconcile changed: link ids attached, updated and forgotten."""

    attached: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    forgotten: tuple[str, ...] = ()

    def describe(self) -> str:
        """
        >>> Reconciled(attached=("a",), forgotten=("b", "c")).describe()
        '1 attached, 0 updated, 2 forgotten'
        """
        return f"{len(self.attached)} attached, {len(self.updated)} updated, {len(self.forgotten)} forgotten"


@dataclass
class _Changes:
    attached: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)

    def done(self) -> Reconciled:
        return Reconciled(tuple(self.attached), tuple(self.updated), tuple(self.forgotten))


def reconcile(db: Session, client: BelvoClient, user_id: str, now: datetime) -> Reconciled:
    """Bring ``user_id``'s stored links in line with Belvo (see the module); commits. Raises the
    :class:`~server.belvo.BelvoError` that kept Belvo from answering, having written nothing."""
    external_id = db.scalar(select(AppUser.external_id).where(AppUser.user_id == user_id))
    if external_id is None:
        db.rollback()
        return Reconciled()  # no widget session ever: Belvo holds no link made for this user
    stored_ids = set(db.scalars(select(Link.id).where(Link.user_id == user_id)))
    db.rollback()  # no transaction stays open while Belvo answers

    held = {
        link.id: link
        for link in map(BelvoLink.from_belvo, client.list_links({"external_id": external_id}))
        if link.external_id == external_id  # the filter is Belvo's; ownership is checked here too
    }
    gone: list[str] = []
    for link_id in sorted(stored_ids - held.keys()):
        try:
            held[link_id] = BelvoLink.from_belvo(client.get_link(link_id))
        except BelvoNotFound:
            gone.append(link_id)

    # Each pass locks links in id order and commits: one lock order for every writer of several links.
    changes = _Changes()
    for link_id in sorted(held):
        _settle(db, held[link_id], user_id, external_id, now=now, changes=changes)
    db.commit()
    for link_id in gone:
        stored = lock_link(db, link_id, now)
        if stored is not None and stored.user_id == user_id:
            db.delete(stored)
            changes.forgotten.append(link_id)
    db.commit()
    _expire_consents(db, user_id, now, changes)
    db.commit()
    db.execute(update(AppUser).where(AppUser.user_id == user_id).values(links_reconciled_at=now))
    db.commit()
    result = changes.done()
    if changes.attached or changes.forgotten:
        log.info(
            "links reconciled with Belvo",
            extra={"attached": changes.attached, "forgotten": changes.forgotten},
        )
    return result


def _settle(
    db: Session, link: BelvoLink, user_id: str, external_id: str, *, now: datetime, changes: _Changes
) -> None:
    """Attach ``link`` when it is an orphan of the user's, else take Belvo's status and access mode."""
    stored = db.get(Link, link.id, populate_existing=True)
    if stored is None:
        if link.external_id != external_id:
            return  # a stored link of the user's forgotten meanwhile, not one Belvo holds for them
        if attach_link(db, link, user_id, None, now).user_id == user_id:
            changes.attached.append(link.id)
        return
    if stored.user_id != user_id or not _differs(stored, link):
        return
    stored = lock_link(db, link.id, now)
    if stored is None or stored.user_id != user_id:
        return  # deleted meanwhile (by its owner, or a link_deleted webhook): stays deleted
    stored.status, stored.access_mode = link.status, link.access_mode
    stored.institution_user_id = stored.institution_user_id or link.institution_user_id
    changes.updated.append(link.id)


def _differs(stored: Link, link: BelvoLink) -> bool:
    return (stored.status, stored.access_mode) != (link.status, link.access_mode) or (
        stored.institution_user_id is None and link.institution_user_id is not None
    )


def _expire_consents(db: Session, user_id: str, now: datetime, changes: _Changes) -> None:
    """Consents past their due date are expired, whether or not the webhook that says so came."""
    for link in db.scalars(select(Link).where(Link.user_id == user_id).order_by(Link.id)).all():
        if not _lapsed(link.consent, now):
            continue
        locked = lock_link(db, link.id, now)
        if locked is None or not _lapsed(locked.consent, now):
            continue
        locked.consent = changed_consent(locked.consent, _EXPIRED, {}, now)
        if link.id not in changes.updated:
            changes.updated.append(link.id)


def _lapsed(consent: Mapping[str, Any] | None, now: datetime) -> bool:
    """Whether a running consent's due date has passed.

    >>> from datetime import UTC
    >>> moment = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    >>> _lapsed({"status": "about_to_expire", "due_date": "2026-12-06T08:59:00.000Z"}, moment)
    True
    >>> _lapsed({"status": "expired", "due_date": "2026-12-06T08:59:00.000Z"}, moment)
    False
    >>> _lapsed({"status": "active", "due_date": None}, moment), _lapsed(None, moment)
    (False, False)
    """
    if consent is None or consent.get("status") not in _RUNNING:
        return False
    due = consent.get("due_date")
    try:
        due_at = datetime.fromisoformat(due) if isinstance(due, str) else None
    except ValueError:
        return False
    return due_at is not None and due_at.tzinfo is not None and due_at <= now


# -- when to reconcile -----------------------------------------------------------------------------------

#: Queues reconciling a user's links in the caller's transaction (:mod:`server.webhook_queue`).
Enqueue = Callable[[Session, str], None]


@dataclass(frozen=True)
class Freshness:
    """When the user's links last matched Belvo's (None: never), and whether a reconcile was queued
    now."""

    reconciled_at: datetime | None
    queued: bool


def _claim(db: Session, user_id: str, due: ColumnElement[bool], now: datetime) -> bool:
    """Mark ``user_id``'s reconcile queued ``now`` if ``due`` holds for their row: a conditional update,
    so of two callers racing for one user only one wins (the second sees the first's ``now``)."""
    touched = db.execute(
        update(AppUser)
        .where(AppUser.user_id == user_id, due)
        .values(reconcile_requested_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(touched.rowcount == 1)  # type: ignore[attr-defined]


def request(db: Session, user_id: str, now: datetime, after: timedelta, enqueue: Enqueue) -> Freshness:
    """Queue reconciling ``user_id``'s links unless one was queued less than ``after`` ago (what
    ``GET /v1/links`` does: the request itself never calls Belvo). Does not commit."""
    row = db.execute(
        select(AppUser.reconcile_requested_at, AppUser.links_reconciled_at).where(AppUser.user_id == user_id)
    ).one_or_none()
    if row is None:
        return Freshness(None, queued=False)  # no widget session ever: nothing at Belvo to look for
    requested_at, reconciled_at = row
    cutoff = now - after
    if requested_at is not None and requested_at > cutoff:
        return Freshness(reconciled_at, queued=False)
    requested = AppUser.reconcile_requested_at
    claimed = _claim(db, user_id, or_(requested.is_(None), requested <= cutoff), now)
    if claimed:
        enqueue(db, user_id)
    return Freshness(reconciled_at, queued=claimed)


def queue_due(db: Session, now: datetime, every: timedelta, enqueue: Enqueue, limit: int) -> int:
    """Queue reconciling the links of every user (at most ``limit``, the longest waiting first) whose
    last reconcile was queued ``every`` ago or more (a new user: created that long ago); commits.
    Returns how many were queued."""
    waited = func.coalesce(AppUser.reconcile_requested_at, AppUser.created_at)
    due = waited <= now - every
    users = db.scalars(select(AppUser.user_id).where(due).order_by(waited).limit(limit)).all()
    claimed = [user_id for user_id in users if _claim(db, user_id, due, now)]
    for user_id in claimed:
        enqueue(db, user_id)
    db.commit()
    return len(claimed)


def users(db: Session) -> list[str]:
    """Every user Belvo may hold links for (each opened a widget session once), in creation order."""
    return list(db.scalars(select(AppUser.user_id).order_by(AppUser.created_at, AppUser.user_id)))


def reconcile_stored(app: Flask, user_id: str) -> Reconciled:
    """Reconcile ``user_id``'s links in a database session of its own (what a queued job runs); raises
    what stopped it, so the queue can retry."""
    with app.app_context(), database(app).sessionmaker() as db:
        return reconcile(db, belvo_client(), user_id, clock_now())
