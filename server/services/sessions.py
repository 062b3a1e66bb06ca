"""Widget sessions: minting one (Belvo token, hosted widget URL, storage) and reading one back.

A session is stored only once Belvo has issued its token, and before the URL is returned; nothing is
stored when anything fails. No database transaction or pooled connection is held while Belvo is being
called, so a slow Belvo slows only the requests waiting on it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, ScalarSelect, Table, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.belvo import BelvoClient, BelvoError, as_api_error
from server.config import Secret, SessionLimits, Settings
from server.errors import Conflict, Gone, NotFound, RateLimited, Unprocessable, retry_after
from server.models import AppUser, SessionStatus, WidgetSession
from server.ofda import CallbackUrls, Consent, StartupOptions, TokenRequest, Widget, widget_url
from server.schemas import SessionRequest
from server.storage import insert_ignore

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


def isoformat_z(moment: datetime) -> str:
    """The contract's timestamps: UTC, whole seconds, ``Z``.

    >>> isoformat_z(datetime(2026, 11, 21, 12, 10, 0, 123, tzinfo=UTC))
    '2026-11-21T12:10:00Z'
    """
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def new_external_id(user_id: str) -> str:
    """A random, opaque id for the user at Belvo: 144 bits of ``[A-Za-z0-9_-]``, drawn again in the rare
    case it happens to contain the user's id (contract section 4).

    >>> import re
    >>> bool(re.fullmatch(r"[A-Za-z0-9_-]{24}", new_external_id("alice")))
    True
    """
    while True:
        candidate = secrets.token_urlsafe(18)
        if user_id.lower() not in candidate.lower():
            return candidate


def external_id_for(db: Session, user_id: str) -> str:
    """The user's ``external_id``, created on first use. Concurrent first requests of one user agree on
    one value: the insert ignores a conflicting row and the stored value is read back."""
    query = select(AppUser.external_id).where(AppUser.user_id == user_id)
    stored = db.scalar(query)
    if stored is not None:
        return stored
    values = {"user_id": user_id, "external_id": new_external_id(user_id), "created_at": datetime.now(UTC)}
    insert_ignore(db, AppUser, values)
    return db.scalars(query).one()


def get_owned_session(db: Session, session_id: str, user_id: str) -> WidgetSession:
    """The session if ``user_id`` owns it; ``404 not_found`` for a missing *or another user's* session
    (telling them apart would let one user probe another's ids; threat model A4)."""
    session = db.get(WidgetSession, session_id)
    if session is None or session.user_id != user_id:
        raise NotFound("No such widget session")
    return session


def created_view(session: WidgetSession, now: datetime) -> dict[str, Any]:
    """The ``201`` answer to a new session: the contract's keys only (threat model C9). The widget URL
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


def pending_widget_url(session: WidgetSession, now: datetime) -> str:
    """The widget URL of a session that can still be opened; ``410``/``409`` otherwise."""
    status = session.effective_status(now)
    if status is SessionStatus.EXPIRED:
        raise Gone("The widget session has expired; create a new one", code="session_expired")
    if status is not SessionStatus.PENDING or session.widget_url is None:
        raise Conflict(
            f"The widget session is already {status.value}; create a new one",
            code="session_already_completed",
        )
    return session.widget_url


def session_callback_urls(config: Settings, request: SessionRequest) -> CallbackUrls:
    """The server's callback URLs, without the application link when the request opted out of App2App."""
    if request.app2app:
        return config.callback_urls
    return replace(config.callback_urls, application_link=None)


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


# The two statements on the path of every new session, built once: plain Core over the tables (no ORM
# compilation per request) with bound parameters, so SQLAlchemy compiles each once per process.
_SESSIONS, _USERS = cast(Table, WidgetSession.__table__), cast(Table, AppUser.__table__)
_OF_THE_USER = _SESSIONS.c.user_id == bindparam("user_id")


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


# One round trip answers every limit and reads the user's ``external_id`` (indexes on the user, and on
# the address key, with the creation time serve it).
_ADMIT = select(
    select(_USERS.c.external_id).where(_USERS.c.user_id == bindparam("user_id")).scalar_subquery(),
    _nth_latest_since(_OF_THE_USER, "minute_since", "minute_skip"),
    _nth_latest_since(_OF_THE_USER, "day_since", "day_skip"),
    # ``client_key`` is NULL when the per-address limit is off, and then no row matches.
    _nth_latest_since(_SESSIONS.c.client_key == bindparam("client_key"), "minute_since", "client_skip"),
    # The ``max_pending``-th latest-expiring open session: a slot frees when it expires (or sooner, when
    # the user finishes one in the widget).
    select(_SESSIONS.c.expires_at)
    .where(
        _OF_THE_USER,
        _SESSIONS.c.status == SessionStatus.PENDING.value,
        _SESSIONS.c.expires_at > bindparam("now"),
    )
    .order_by(_SESSIONS.c.expires_at.desc())
    .offset(bindparam("pending_skip"))
    .limit(1)
    .scalar_subquery(),
)
_INSERT_SESSION = _SESSIONS.insert()


_PER_MINUTE = "At most {} widget sessions per minute; try again later"
_PER_DAY = "At most {} widget sessions per day; try again later"
_PER_ADDRESS = "At most {} widget sessions per minute from one address; try again later"
_OPEN_AT_ONCE = "At most {} open widget sessions at once; finish one in the widget or wait until one expires"


def admit(
    db: Session, user_id: str, client_key: str | None, now: datetime, limits: SessionLimits
) -> str | None:
    """Refuse a new session past ``limits`` (the per-address one counts the sessions with this
    ``client_key``): ``429`` with the seconds until the user may try again (the longest wait when several
    limits are reached). Otherwise the user's ``external_id``, or ``None`` for a new user, read in the
    same round trip."""
    params = {
        "user_id": user_id,
        "minute_since": now - RATE_WINDOW,
        "minute_skip": limits.per_minute - 1,
        "day_since": now - DAY_WINDOW,
        "day_skip": limits.per_day - 1,
        "now": now,
        "pending_skip": limits.max_pending - 1,
        "client_key": client_key,
        "client_skip": (limits.per_ip_per_minute or 1) - 1,
    }
    stored, minute_blocker, day_blocker, client_blocker, pending_blocker = db.execute(_ADMIT, params).one()
    # For each limit reached, when a slot frees up, and what to tell the user (the text is built only for
    # the one refusal sent, not on every request).
    waits = [
        (blocker + window - now, template, limit)
        for blocker, window, template, limit in (
            (minute_blocker, RATE_WINDOW, _PER_MINUTE, limits.per_minute),
            (day_blocker, DAY_WINDOW, _PER_DAY, limits.per_day),
            (client_blocker, RATE_WINDOW, _PER_ADDRESS, limits.per_ip_per_minute),
            (pending_blocker, timedelta(0), _OPEN_AT_ONCE, limits.max_pending),
        )
        if blocker is not None
    ]
    if waits:
        wait, template, limit = max(waits)
        raise RateLimited(template.format(limit), retry_after=retry_after(wait.total_seconds()))
    return cast(str | None, stored)


@dataclass(frozen=True)
class Idempotency:
    """The client's ``Idempotency-Key`` and a keyed hash (HMAC) of the request it came with."""

    key: str
    request_hmac: str


def replayed_session(db: Session, user_id: str, idempotency: Idempotency) -> WidgetSession | None:
    """The session this user already created with this key, if any (threat model F6: an app retrying a
    request whose answer it lost gets the same session, and Belvo is not asked for a second token).
    The same key with a different request is ``422 idempotency_key_reused``."""
    found = db.scalars(
        select(WidgetSession).where(
            WidgetSession.user_id == user_id, WidgetSession.idempotency_key == idempotency.key
        )
    ).one_or_none()
    if found is not None and not hmac.compare_digest(found.request_hmac or "", idempotency.request_hmac):
        raise Unprocessable(
            "This Idempotency-Key was sent before with a different request; use a new key for a new session",
            code="idempotency_key_reused",
            field="Idempotency-Key",
        )
    return found


def create_session(
    db: Session,
    client: BelvoClient,
    config: Settings,
    user_id: str,
    request: SessionRequest,
    now: datetime,
    idempotency: Idempotency | None = None,
    client_key: str | None = None,
) -> WidgetSession:
    """Mint a Belvo widget token for ``user_id`` and store the session; the caller answers with it.

    With ``idempotency``, a session already created with that key is returned instead (no new token,
    not counted by the rate limit). ``client_key`` identifies the client's address for the per-address
    limit (``None`` when that limit is off)."""
    if idempotency is not None and (previous := replayed_session(db, user_id, idempotency)) is not None:
        return previous
    stored_external_id = admit(db, user_id, client_key, now, config.session_limits)
    db.rollback()  # end the read transaction: no connection is held while Belvo answers

    try:
        token = client.create_widget_token(token_request(config, request).payload())
    except BelvoError as exc:
        raise as_api_error(exc) from exc

    if stored_external_id is None:
        external_id = external_id_for(db, user_id)
        db.commit()  # a user's external id stands on its own, whatever becomes of this session
    else:
        external_id = stored_external_id
    options = startup_options(config, request)
    values: dict[str, Any] = {
        "id": SESSION_ID_PREFIX + secrets.token_urlsafe(24),
        "user_id": user_id,
        "external_id": external_id,
        "status": SessionStatus.PENDING.value,
        "widget_url": widget_url(config.belvo_widget_url, token.access, external_id, options),
        "callback_urls": session_callback_urls(config, request).to_dict(),
        "options": {
            "access_mode": options.access_mode,
            "institutions": list(options.institutions),
            "institution_types": list(options.institution_types),
            "resources": list(options.resources),
            "fetch_resources": list(request.fetch_resources or config.widget.fetch_resources),
        },
        "created_at": now,
        "expires_at": token.expires_at,
        "completed_at": None,
        "idempotency_key": idempotency.key if idempotency else None,
        "request_hmac": idempotency.request_hmac if idempotency else None,
        "client_key": client_key,
        "access_token_key": keyed_hash(config.app_jwt_secret, token.access.encode()),
    }
    try:
        # One statement the database commits as it runs, instead of an INSERT then a COMMIT: each call
        # into the driver lets go of the GIL, and under load getting it back is what takes the time
        # (bench/sessions.py, 8 clients: INSERT p99 4.1 ms plus COMMIT p99 2.5 ms; now 4.1 ms in all).
        # The write lock (SQLite has one writer at a time) is no longer held across Python code either.
        db.connection(execution_options={"isolation_level": "AUTOCOMMIT"}).execute(_INSERT_SESSION, values)
        db.commit()  # hands the connection back to the pool, which restores its isolation level
    except IntegrityError:
        # Two requests with one key raced: the first stored wins, this token is simply not used.
        db.rollback()
        if idempotency is None or (winner := replayed_session(db, user_id, idempotency)) is None:
            raise
        return winner
    log.info(
        "widget session created",
        extra={
            "session_id": values["id"],
            "external_id": external_id,
            "expires_at": isoformat_z(token.expires_at),
        },
    )
    return WidgetSession(**values)
