"""Widget sessions: minting one (Belvo token, hosted widget URL, storage), reading one back, cancelling one.

A new session is admitted under the user's lock and holds its slot as a ``reserving`` row before Belvo is
asked for a token (``reserve``), so the per-user limits and the Idempotency-Key hold whatever the number
of threads and instances: the lock is the user's row in ``app_users``, taken by the transaction's first
statement (``storage.insert_or_lock``); on SQLite, whose one write lock a writing statement takes before it
reads, a returning user's reservation is one statement instead. No transaction, lock or pooled connection
is held while Belvo is being called, so a slow Belvo slows only the requests waiting on it. The
reservation then becomes the pending session, or is deleted when no token came: nothing half-written is
left for a client to see.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Insert,
    ScalarSelect,
    Select,
    Table,
    and_,
    bindparam,
    or_,
    select,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from deeplinks import CallbackUrls
from server.belvo import BelvoClient, BelvoError, as_api_error
from server.clock import isoformat_z
from server.config import RetryPolicy, Secret, SessionLimits, Settings
from server.errors import Conflict, Gone, NotFound, RateLimited, Unprocessable, retry_after
from server.models import AppUser, SessionStatus, WidgetSession, effective_status
from server.ofda import Consent, StartupOptions, TokenRequest, Widget, widget_url
from server.schemas import SessionRequest
from server.storage import Database, insert_or_lock, read_value, write, write_under_lock

log = logging.getLogger(__name__)

SESSION_ID_PREFIX = "ws_"
RATE_WINDOW = timedelta(minutes=1)
DAY_WINDOW = timedelta(days=1)


def keyed_hash(secret: Secret, data: bytes) -> str:
    """HMAC-SHA256 of ``data`` under the server's secret: stored in place of personal data and tokens.

    >>> len(keyed_hash(Secret("s"), b"76109277673"))
    64
    """
    return hmac.new(secret.reveal().encode(), data, hashlib.sha256).hexdigest()


def new_external_id(user_id: str) -> str:
    """A random, opaque id for the user at Belvo: 144 bits of ``[A-Za-z0-9_-]``, drawn again in the rare
    case it happens to contain the user's id (docs/contract.md section 4).

    >>> import re
    >>> bool(re.fullmatch(r"[A-Za-z0-9_-]{24}", new_external_id("alice")))
    True
    """
    while True:
        candidate = secrets.token_urlsafe(18)
        if user_id.lower() not in candidate.lower():
            return candidate


def lock_user(db: Session, user_id: str, now: datetime) -> str:
    """Begin the transaction that admits a new session of ``user_id``: the user's row, created on first
    use with a new ``external_id``, write-locked until the transaction ends, so that one user's admissions
    run one at a time on every instance of the app (other users' go on beside them). Answers the user's
    ``external_id``: concurrent first requests of a user agree on one."""
    values = {"user_id": user_id, "external_id": new_external_id(user_id), "created_at": now}
    external_id: str = insert_or_lock(db, _USERS, values, _USERS.c.external_id)
    return external_id


def get_owned_session(db: Session, session_id: str, user_id: str) -> WidgetSession:
    """The session if ``user_id`` owns it; ``404 not_found`` for a missing *or another user's* session
    (telling them apart would let one user probe another's ids; docs/security.md A4)."""
    session = db.get(WidgetSession, session_id)
    # A reservation is not a session yet: its id reaches the client only once Belvo has answered.
    if session is None or session.user_id != user_id or session.status == SessionStatus.RESERVING:
        raise NotFound("No such widget session")
    return session


@dataclass(frozen=True)
class Created:
    """A session as the request that just made it answers it: what ``created_view`` shows, read from
    the values just written rather than through a mapped ``WidgetSession`` (building one costs more than
    the rest of the answer)."""

    id: str
    status: str
    widget_url: str | None
    expires_at: datetime
    external_id: str
    callback_urls: dict[str, Any]

    def effective_status(self, now: datetime) -> SessionStatus:
        return effective_status(self.status, self.expires_at, now)


def created_view(session: WidgetSession | Created, now: datetime) -> dict[str, Any]:
    """The ``201`` answer to a new session: the contract's keys only (docs/security.md C9). The widget URL
    carries Belvo's access token, so it is shown only while the session can still be used."""
    status = session.effective_status(now)
    return {
        "id": session.id,
        "status": status.value,
        "widget_url": session.widget_url if status is SessionStatus.PENDING else None,
        "expires_at": isoformat_z(session.expires_at),
        "external_id": session.external_id,
        "callback_urls": session.callback_urls,
    }


def session_view(session: WidgetSession, now: datetime) -> dict[str, Any]:
    """The JSON the API returns for a session (``WidgetSessionSchema``)."""
    return {
        **created_view(session, now),
        "created_at": isoformat_z(session.created_at),
        "link_id": session.link_id,
        "institution": session.institution,
        "events": [event.event for event in session.events],
    }


def ensure_pending(session: WidgetSession, now: datetime) -> None:
    """``410 session_expired`` for a session past ``expires_at``, ``409 session_already_completed`` for one
    that is over; nothing for a pending one."""
    status = session.effective_status(now)
    if status is SessionStatus.EXPIRED:
        raise Gone("The widget session has expired; create a new one", code="session_expired")
    if status is not SessionStatus.PENDING:
        raise Conflict(
            f"The widget session is already {status.value}; create a new one",
            code="session_already_completed",
        )


def pending_widget_url(session: WidgetSession, now: datetime) -> str:
    """The widget URL of a session that can still be opened; ``410``/``409`` otherwise."""
    ensure_pending(session, now)
    if session.widget_url is None:
        raise Conflict("The widget session has no widget URL any more", code="session_already_completed")
    return session.widget_url


def session_callback_urls(config: Settings, request: SessionRequest) -> CallbackUrls:
    """The server's callback URLs, without the application link when the request opted out of App2App."""
    if request.app2app:
        return config.callback_urls
    return replace(config.callback_urls, application_link=None)


def cancel_session(db: Session, session_id: str, user_id: str, now: datetime) -> WidgetSession:
    """The app closed the webview: the user's pending session becomes ``cancelled``,
    and its widget URL (Belvo's access token) is forgotten. Cancelling again answers the cancelled
    session; an expired one is ``410``, a finished one ``409``, another user's ``404``."""
    session = get_owned_session(db, session_id, user_id)
    # Conditional, like every move out of pending (services/events.py): a concurrent event or expiry wins
    # or loses as a whole, and the session is read back as it then is.
    cancelled = db.execute(_CANCEL, {"session_id": session_id, "now": now}).rowcount  # type: ignore[attr-defined]
    db.commit()
    if cancelled:
        log.info("widget session cancelled", extra={"session_id": session_id})
    db.refresh(session)
    if session.status != SessionStatus.CANCELLED:
        ensure_pending(session, now)
    return session


def token_request(config: Settings, request: SessionRequest) -> TokenRequest:
    """The OFDA token request: the client's choices where it may choose, the server's everywhere else."""
    widget = config.widget
    return TokenRequest(
        scopes=widget.scopes,
        fetch_resources=request.fetch_resources or widget.fetch_resources,
        stale_in=request.stale_in or widget.stale_in,
        widget=Widget(
            purpose=request.purpose or widget.purpose,
            callback_urls=session_callback_urls(config, request),
            consent=Consent(
                terms_and_conditions_url=widget.terms_url,
                permissions=widget.permissions,
                identification_info=request.identification_info,
                default_consent_duration_days=widget.consent_duration_days,
            ),
            branding=widget.branding,
            theme=widget.theme,
            color_scheme=widget.color_scheme,
        ),
    )


def startup_options(config: Settings, request: SessionRequest) -> StartupOptions:
    """The widget's startup parameters: the client's, with the server's defaults filled in."""
    widget = config.widget
    return replace(
        request.options,
        access_mode=request.options.access_mode or widget.access_mode,
        show_close_dialog=widget.show_close_dialog,
        show_abandon_survey=widget.show_abandon_survey,
    )


# The statements on the path of every new session, built once: plain Core over the tables (no ORM
# compilation per request) with bound parameters, so SQLAlchemy compiles each once per process.
_SESSIONS, _USERS = cast(Table, WidgetSession.__table__), cast(Table, AppUser.__table__)
# Not ``user_id``: in an UPDATE, that name would stand for the column's new value.
_OF_THE_USER = _SESSIONS.c.user_id == bindparam("owner")
#: Open sessions hold a slot under ``max_pending``: pending ones, and reservations whose request is still
#: waiting on Belvo (a reservation whose request never came back stops counting at its ``expires_at``).
_OPEN = and_(
    _OF_THE_USER,
    # Not ``in_``: its list is rendered into the SQL again on every execution.
    or_(
        _SESSIONS.c.status == SessionStatus.PENDING.value, _SESSIONS.c.status == SessionStatus.RESERVING.value
    ),
    _SESSIONS.c.expires_at > bindparam("now"),
)


def _nth_latest_since(of: ColumnElement[bool], since: str, skip: str) -> ScalarSelect[Any]:
    """The creation time of the ``skip + 1``-th most recent session ``of`` a user (or an address) after
    ``since``: while it exists the limit of that window is reached, and a slot frees up when it leaves
    the window."""
    return (
        select(_SESSIONS.c.created_at)
        .where(of, _SESSIONS.c.created_at > bindparam(since))
        .order_by(_SESSIONS.c.created_at.desc())
        .offset(bindparam(skip))
        .limit(1)
        .scalar_subquery()
    )


def _open_sessions_from(skip: str) -> Select[tuple[str]]:
    """The ids of the user's open sessions, newest first, after the first ``skip``."""
    newest_first = (_SESSIONS.c.created_at.desc(), _SESSIONS.c.id.desc())
    return select(_SESSIONS.c.id).where(_OPEN).order_by(*newest_first).offset(bindparam(skip))


# Under the user's lock, what decides on a new session (indexes on the user, and on the address key,
# with the creation time serve it): each is NULL when it does not stand in the way.
_ADMISSION = (
    # The session already made with the Idempotency-Key (a NULL key, none sent, matches no row).
    select(_SESSIONS.c.id)
    .where(_OF_THE_USER, _SESSIONS.c.idempotency_key == bindparam("key"))
    .scalar_subquery(),
    _nth_latest_since(_OF_THE_USER, "minute_since", "minute_skip"),
    _nth_latest_since(_OF_THE_USER, "day_since", "day_skip"),
    # ``address`` is NULL when the per-address limit is off, and then no row matches. It is counted under
    # the user's lock only: on PostgreSQL, different users behind one address may pass it together by
    # the few requests that race (it bounds how many sessions one address makes, users' races aside).
    _nth_latest_since(_SESSIONS.c.client_key == bindparam("address"), "minute_since", "address_skip"),
    # The ``max_pending``-th newest open session: while it exists the user is at the cap.
    _open_sessions_from("pending_skip").limit(1).scalar_subquery(),
)


@functools.cache
def _reserve_if_admitted(columns: tuple[str, ...]) -> Insert:
    """The common case in one statement: the row with these ``columns`` (bound as ``new_<name>``) is
    stored if nothing stands in the way."""
    binds = [bindparam(f"new_{name}", type_=_SESSIONS.c[name].type) for name in columns]
    admitted = select(*binds).where(*(decider.is_(None) for decider in _ADMISSION))
    # rowcount is kept for INSERTs only when asked (SQLAlchemy keeps it for UPDATE and DELETE).
    return _SESSIONS.insert().from_select(list(columns), admitted).execution_options(preserve_rowcount=True)


#: A user's ``external_id``: drawn with their first session, never changed.
_EXTERNAL_ID = select(_USERS.c.external_id).where(_USERS.c.user_id == bindparam("owner"))
#: A returning user's row, locked as ``lock_user`` locks it (PostgreSQL's FOR NO KEY UPDATE).
_LOCK_USER = (
    select(_USERS.c.user_id).where(_USERS.c.user_id == bindparam("owner")).with_for_update(key_share=True)
)


#: Otherwise, why: the claimed session, the limits' blockers, the cap.
_ADMIT = select(*_ADMISSION)
# A new session beyond the cap replaces the oldest open ones instead of being refused: all but the newest
# ``max_pending - 1`` are cancelled, so the new one makes ``max_pending``.
_SUPERSEDE = (
    _SESSIONS.update()
    .where(_SESSIONS.c.id.in_(_open_sessions_from("keep")))
    .values(status=SessionStatus.CANCELLED.value, widget_url=None, completed_at=bindparam("now"))
    .returning(_SESSIONS.c.id)
)
_CANCEL = (
    _SESSIONS.update()
    .where(
        _SESSIONS.c.id == bindparam("session_id"),
        _SESSIONS.c.status == SessionStatus.PENDING.value,
        _SESSIONS.c.expires_at > bindparam("now"),
    )
    .values(status=SessionStatus.CANCELLED.value, widget_url=None, completed_at=bindparam("now"))
)
_INSERT_SESSION = _SESSIONS.insert()
_FILL = (
    _SESSIONS.update()
    .where(_SESSIONS.c.id == bindparam("session_id"), _SESSIONS.c.status == SessionStatus.RESERVING.value)
    .values(
        status=SessionStatus.PENDING.value,
        widget_url=bindparam("url"),
        expires_at=bindparam("token_expires_at"),
        access_token_key=bindparam("access_token_key"),
    )
)
_RELEASE = _SESSIONS.delete().where(_SESSIONS.c.id == bindparam("session_id"))
_STATUS = select(_SESSIONS.c.status).where(_SESSIONS.c.id == bindparam("session_id"))
_CLAIMED = select(_SESSIONS.c.status, _SESSIONS.c.request_hmac, _SESSIONS.c.expires_at).where(
    _SESSIONS.c.id == bindparam("session_id")
)


_PER_MINUTE = "At most {} widget sessions per minute; try again later"
_PER_DAY = "At most {} widget sessions per day; try again later"
_PER_ADDRESS = "At most {} widget sessions per minute from one address; try again later"


def _refuse_past_limits(
    now: datetime,
    limits: SessionLimits,
    minute: datetime | None,
    day: datetime | None,
    address: datetime | None,
) -> None:
    """``429`` with the seconds until the user may try again (the longest wait when several limits are
    reached), given the session that blocks each window (``None``: that limit is not reached)."""
    # The text is built only for the one refusal sent, not on every request.
    waits = [
        (blocker + window - now, template, limit)
        for blocker, window, template, limit in (
            (minute, RATE_WINDOW, _PER_MINUTE, limits.per_minute),
            (day, DAY_WINDOW, _PER_DAY, limits.per_day),
            (address, RATE_WINDOW, _PER_ADDRESS, limits.per_ip_per_minute),
        )
        if blocker is not None
    ]
    if waits:
        wait, template, limit = max(waits)
        raise RateLimited(template.format(limit), retry_after=retry_after(wait.total_seconds()))


@dataclass(frozen=True)
class Idempotency:
    """The client's ``Idempotency-Key`` and a keyed hash (HMAC) of the request it came with."""

    key: str
    request_hmac: str


@dataclass(frozen=True)
class Reserved:
    """A ``reserving`` row now holds one of the user's slots, for the session ``session_id``."""

    session_id: str
    external_id: str


@dataclass(frozen=True)
class Claimed:
    """The Idempotency-Key already names the session ``session_id`` (perhaps still being made)."""

    session_id: str


def reserve(
    orm: Callable[[], Session],
    database: Database,
    row: Mapping[str, Any],
    now: datetime,
    *,
    limits: SessionLimits,
    hold: timedelta,
    idempotency: Idempotency | None = None,
) -> Reserved | Claimed:
    """Admit a new session and hold its slot, in one short transaction under the user's lock: the
    admission and the key's claim are atomic, across threads and instances of the app, so concurrent
    requests can neither pass a limit together nor both ask Belvo for a token with one key.

    ``row`` holds the new session's columns but its status, URL, expiry and ``external_id``; it is
    stored as a ``reserving`` row that counts under every limit until the session is filled in or the
    reservation released, or lapses ``hold`` after ``now``. With ``idempotency``, the session already
    made with that key is ``Claimed`` instead (not counted); the same key with another request is ``422
    idempotency_key_reused``. Past a limit, ``429``; beyond the open-session cap, the user's oldest open
    sessions are cancelled to make room."""
    user_id = row["user_id"]
    params = {
        "owner": user_id,
        "key": idempotency.key if idempotency else None,
        "minute_since": now - RATE_WINDOW,
        "minute_skip": limits.per_minute - 1,
        "day_since": now - DAY_WINDOW,
        "day_skip": limits.per_day - 1,
        "address": row["client_key"],
        "address_skip": (limits.per_ip_per_minute or 1) - 1,
        "now": now,
        "pending_skip": limits.max_pending - 1,
    }
    values = {
        **row,
        "status": SessionStatus.RESERVING.value,
        "widget_url": None,
        "expires_at": now + hold,
        "completed_at": None,
    }
    # The common case, a returning user with nothing in the way, is one write. SQLite takes its one write
    # lock when a writing statement starts, before it reads, so the admission and the insert are atomic,
    # and the lock is let go inside the driver, never held while this thread waits for the GIL (nor is
    # it by a RETURNING, whose statement stays open until its rows are read). PostgreSQL needs the user's
    # row lock first, in the same transaction: a statement reads from the snapshot it started with, before
    # any lock it waits for; the two statements still go in one round trip.
    sqlite = database.autocommit.dialect.name == "sqlite"
    external_id = database.external_ids.get(user_id)
    if external_id is None:
        external_id = read_value(database.autocommit, _EXTERNAL_ID, {"owner": user_id})
        if external_id is not None:
            database.external_ids.remember(user_id, external_id)
    if external_id is not None:
        new = {f"new_{name}": value for name, value in {**values, "external_id": external_id}.items()}
        statement = _reserve_if_admitted((*values, "external_id"))
        admitted = {**params, **new}
        written = (
            write(database.autocommit, statement, admitted)
            if sqlite
            else write_under_lock(database.autocommit, _LOCK_USER, {"owner": user_id}, statement, admitted)
        )
        if written == 1:
            return Reserved(row["id"], external_id)
    db = orm()
    try:
        values["external_id"] = lock_user(db, user_id, now)
        new = {f"new_{name}": value for name, value in values.items()}
        reserved = db.execute(_reserve_if_admitted(tuple(values)), {**params, **new})
        if reserved.rowcount != 1:  # type: ignore[attr-defined]
            claimed, minute, day, address, at_cap = db.execute(_ADMIT, params).one()
            if claimed is not None and idempotency and _holds_claim(db, claimed, idempotency, now):
                db.rollback()
                return Claimed(claimed)
            _refuse_past_limits(now, limits, minute, day, address)
            if at_cap is not None:
                for superseded in db.scalars(_SUPERSEDE, {**params, "keep": limits.max_pending - 1}):
                    log.info("widget session superseded by a newer one", extra={"session_id": superseded})
            db.execute(_INSERT_SESSION, values)
        db.commit()
    except BaseException:
        db.rollback()  # lets go of the user's lock at once
        raise
    database.external_ids.remember(user_id, values["external_id"])
    return Reserved(row["id"], values["external_id"])


def _holds_claim(db: Session, session_id: str, idempotency: Idempotency, now: datetime) -> bool:
    """Whether the session made with this key still answers for it: ``422`` if it was made with another
    request; a reservation whose request never came back (its process died while Belvo answered) is
    deleted, and the key is free again."""
    status, request_hmac, expires_at = db.execute(_CLAIMED, {"session_id": session_id}).one()
    if not hmac.compare_digest(request_hmac or "", idempotency.request_hmac):
        raise Unprocessable(
            "This Idempotency-Key was sent before with a different request; use a new key for a new session",
            code="idempotency_key_reused",
            field="Idempotency-Key",
        )
    if status == SessionStatus.RESERVING and expires_at <= now:
        db.execute(_RELEASE, {"session_id": session_id})
        return False
    return True


def reservation_hold(policy: RetryPolicy) -> timedelta:
    """How long a reservation holds its slot at most: longer than any token call (the deadline, plus the
    timeouts of the attempt under way when it passes), with a minute to spare for a slow database."""
    return timedelta(seconds=policy.deadline + policy.connect_timeout + policy.read_timeout + 60)


def await_claimed(db: Session, claimed: Claimed, until: float) -> WidgetSession | None:
    """The session made with an Idempotency-Key, once the request that reserved it has filled it in; it is
    polled, up to ``until`` (``time.monotonic()``), so a retry sent while the first request still waits on
    Belvo gets the same answer as the first. ``None`` when that request released the reservation (Belvo
    failed): the key is free again. Past ``until``, ``409 idempotency_key_in_use`` with ``Retry-After``."""
    pause = 0.02
    while True:
        status = db.scalar(_STATUS, {"session_id": claimed.session_id})
        db.rollback()  # ends the read: on SQLite the next look would see the same snapshot
        if status is None:
            return None
        if status != SessionStatus.RESERVING:
            return db.get_one(WidgetSession, claimed.session_id)
        if time.monotonic() >= until:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed; retry in a moment",
                code="idempotency_key_in_use",
                retry_after=1,
            )
        time.sleep(pause)
        pause = min(2 * pause, 0.25)


def create_session(
    orm: Callable[[], Session],
    database: Database,
    client: BelvoClient,
    config: Settings,
    *,
    user_id: str,
    request: SessionRequest,
    now: datetime,
    idempotency: Idempotency | None = None,
    client_key: str | None = None,
) -> WidgetSession | Created:
    """Mint a Belvo widget token for ``user_id`` and store the session; the caller answers with it.

    The slot is reserved first (``reserve``), Belvo is called with no transaction open, and the
    reservation is then filled in, or released if no token came (nothing half-written is left, and a
    failed call frees the slot). With ``idempotency``, a session already created with that key is
    returned instead (no new token, not counted by the limits), waiting for it if its request is still
    under way. ``client_key`` identifies the client's address for the per-address limit (``None`` when
    that limit is off). ``orm`` gives an ORM session of ``database``, not in a transaction, asked for only
    on the paths that need one (a user's first session, a held key, a failure): a returning user's session
    is written straight on the driver, and an ORM session is code and objects it would make for nothing."""
    options = startup_options(config, request)
    row: dict[str, Any] = {
        "id": SESSION_ID_PREFIX + secrets.token_urlsafe(24),
        "user_id": user_id,
        "callback_urls": session_callback_urls(config, request).to_dict(),
        "options": {
            "access_mode": options.access_mode,
            "institutions": list(options.institutions),
            "institution_types": list(options.institution_types),
            "resources": list(options.resources),
            "fetch_resources": list(request.fetch_resources or config.widget.fetch_resources),
        },
        "created_at": now,
        "idempotency_key": idempotency.key if idempotency else None,
        "request_hmac": idempotency.request_hmac if idempotency else None,
        "client_key": client_key,
    }
    policy = config.belvo_retry
    hold = reservation_hold(policy)
    # A retry waits for the first request with its key as long as that one may wait on Belvo.
    until = time.monotonic() + policy.deadline
    while not isinstance(
        reservation := reserve(
            orm, database, row, now, limits=config.session_limits, hold=hold, idempotency=idempotency
        ),
        Reserved,
    ):
        if (claimed := await_claimed(orm(), reservation, until)) is not None:
            return claimed

    try:
        try:
            token = client.create_widget_token(token_request(config, request).payload())
        except BelvoError as exc:
            raise as_api_error(exc) from exc
        url = widget_url(config.belvo_widget_url, token.access, reservation.external_id, options)
    except BaseException:
        release(orm, database, reservation)
        raise
    token_key = keyed_hash(config.app_jwt_secret, token.access.encode())
    return fill(
        orm, database, reservation, row, url=url, expires_at=token.expires_at, access_token_key=token_key
    )


def fill(
    orm: Callable[[], Session],
    database: Database,
    reservation: Reserved,
    row: Mapping[str, Any],
    *,
    url: str,
    expires_at: datetime,
    access_token_key: str,
) -> WidgetSession | Created:
    """Turn the reservation into a pending session with its widget URL and the keyed hash of its access
    token (App2App's resume finds the session by it); answers it as written, or as stored when a newer
    session took its place meanwhile."""
    values = {
        "session_id": reservation.session_id,
        "url": url,
        "token_expires_at": expires_at,
        "access_token_key": access_token_key,
    }
    # One statement the database commits as it runs, instead of an UPDATE then a COMMIT: each call into
    # the driver lets go of the GIL, and under load getting it back is what takes the time
    # (bench/sessions.py measures it).
    # The write lock (SQLite has one writer at a time) is not held across Python code either.
    if not write(database.autocommit, _FILL, values):
        # A newer session of the user took its place while Belvo answered: the token goes unused, and
        # the app is told the session is cancelled.
        log.info(
            "widget session superseded before it was filled in", extra={"session_id": reservation.session_id}
        )
        return orm().get_one(WidgetSession, reservation.session_id)
    log.info(
        "widget session created",
        extra={
            "session_id": reservation.session_id,
            "external_id": reservation.external_id,
            "expires_at": isoformat_z(expires_at),
        },
    )
    return Created(
        id=reservation.session_id,
        status=SessionStatus.PENDING.value,
        widget_url=url,
        expires_at=expires_at,
        external_id=reservation.external_id,
        callback_urls=row["callback_urls"],
    )


def release(orm: Callable[[], Session], database: Database, reservation: Reserved) -> None:
    """Give the reservation's slot back: no token came, or none can be used. If even that fails, the
    reservation lapses at its expiry; the error the client gets is the one that stopped the session."""
    try:
        orm().rollback()  # on SQLite, a write lock it held would stop the statement
        write(database.autocommit, _RELEASE, {"session_id": reservation.session_id})
    except SQLAlchemyError:
        log.warning("widget session reservation not released", extra={"session_id": reservation.session_id})
