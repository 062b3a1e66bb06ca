"""Deeplink events bound to widget sessions: the backend decides what a callback URL means for a user.

The app forwards the callback URL it caught; everything in it is attacker-controlled (threat model
section 1: any app on the phone can fire ``myapp://success?link=<someone else's link>``). So:

* the URL is parsed against the session's own callback URLs (``deeplinks.parse``);
* a ``success`` counts only once Belvo, asked with our secret keys, shows the link carries this
  session's ``external_id``, was made at an institution the session allowed, and was not created before
  the session (threat model A5); then the link is stored for the session's user;
* the session moves ``pending -> succeeded | exited | failed`` once, with a conditional ``UPDATE ...
  WHERE status = 'pending'``, so concurrent posts cannot both complete it (threat model A6); a
  ``warning`` is recorded and keeps it pending; a verified success also completes a ``cancelled``
  session (the app closed the webview, but the user finished: the link exists at Belvo);
* a pending session past ``expires_at`` is expired: ``410``, nothing recorded, Belvo not called (A3).

Replays: the event that completed a session, sent again, answers ``200`` and stores nothing (an app
retrying after a lost response must not be punished); any other event on a completed session is
``409 session_already_completed`` and is not recorded. A warning the session already holds is not
recorded again either, and a session holds at most ``MAX_WARNINGS`` of them (``429``): the app can post
warnings for as long as the session is pending, and none of them is worth unbounded rows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

import deeplinks
from deeplinks import DeeplinkError, ErrorEvent, Event, ExitEvent, ResumeEvent, SuccessEvent, WarningEvent
from server.belvo import BelvoClient
from server.config import Secret
from server.errors import Conflict, Gone, NotFound, RateLimited, Unprocessable, retry_after
from server.models import SessionEvent, SessionStatus, WidgetSession
from server.ofda import CallbackUrls, resumed_widget_url
from server.services.links import BelvoLink, LinkNotOwned, attach_link, fetch_link
from server.services.sessions import get_owned_session, keyed_hash

log = logging.getLogger(__name__)

#: How far Belvo's clock may be behind ours when we compare a link's ``created_at`` with the session's
#: (threat model A5): a link made through this session cannot be older than the session, give or take
#: the two servers' clock difference.
CLOCK_SKEW: Final = timedelta(minutes=2)
#: ``widget_sessions.institution`` is ``VARCHAR(128)``; Belvo's codes are far shorter.
MAX_INSTITUTION_LENGTH: Final = 128
#: Distinct warnings one session keeps. Belvo documents a single warning code (``institution_disabled``,
#: facts file section 3.4); more than a few is an app looping or someone filling our tables.
MAX_WARNINGS: Final = 20
#: Distinct App2App returns one session keeps: an app opened again with the same link records nothing
#: new, and more than a few different ones is someone filling our tables.
MAX_RESUMES: Final = 20


@dataclass(frozen=True)
class EventOutcome:
    """What posting an event did: the parsed ``event``, the ``session`` as it now is, and whether the
    event was ``recorded`` (False for the replay of the event that completed the session)."""

    event: Event
    session: WidgetSession
    recorded: bool


def parse_deeplink(url: str, callback_urls: Mapping[str, str] | None) -> Event:
    """``deeplinks.parse`` with its error as the API's 422 (``invalid_deeplink`` or ``unknown_event``)."""
    try:
        return deeplinks.parse(url, callback_urls)
    except DeeplinkError as exc:
        raise Unprocessable(exc.message, code=exc.code, field=exc.field) from None


def post_event(
    db: Session, client: BelvoClient, *, session_id: str, user_id: str, url: str, now: datetime
) -> EventOutcome:
    """Bind the deeplink ``url`` to the user's session ``session_id`` and apply it (module docstring).

    Raises 404 (not this user's session), 422 (not a deeplink of this session's callback URLs), 410
    (expired), 409 (completed with another event), 403 ``link_not_owned`` (a success whose link Belvo
    does not show as this session's) and 503 with ``Retry-After`` (Belvo unreachable: the session stays
    pending and the same URL can be posted again).
    """
    session = get_owned_session(db, session_id, user_id)
    event = parse_deeplink(url, session.callback_urls)
    if isinstance(event, ResumeEvent):
        raise Unprocessable(
            "This is the application link the bank sends the user back to: post it to "
            "/v1/widget-sessions/resume, which answers the widget URL to open",
            code="invalid_deeplink",
            field="url",
        )
    status = session.effective_status(now)
    if status is SessionStatus.CANCELLED and isinstance(event, SuccessEvent):
        # The app gave up on the webview, but the user finished in it: the link exists at Belvo, and
        # refusing it would orphan it. It is taken as on a pending session.
        status = SessionStatus.EXPIRED if now >= session.expires_at else SessionStatus.PENDING
    match status:
        case SessionStatus.EXPIRED:
            _expire(db, session, now)
        case SessionStatus.PENDING:
            pass
        case _:
            return _after_completion(session, event)

    changes: dict[str, Any]
    link: BelvoLink | None = None
    match event:
        case SuccessEvent():
            # No transaction stays open while Belvo answers (up to the client's deadline).
            db.commit()
            link = fetch_link(client, event.link_id)
            _verify(session, event, link)
            changes = {"status": SessionStatus.SUCCEEDED, "link_id": link.id, "institution": link.institution}
        case ExitEvent(institution=institution):
            # What the app says the user picked: kept if it can be an institution code (the event itself,
            # recorded whole, keeps the value as sent).
            fits = institution is not None and len(institution) <= MAX_INSTITUTION_LENGTH
            changes = {"status": SessionStatus.EXITED, "institution": institution if fits else None}
        case ErrorEvent():
            changes = {"status": SessionStatus.FAILED}
        case WarningEvent():
            if _holds_warning(session, event, now):
                return EventOutcome(event, session, recorded=False)
            changes = {"status": SessionStatus.PENDING}

    if not _transition(db, session, now, changes):
        # Another request completed (or expired) the session since we read it.
        db.rollback()
        db.refresh(session)
        if session.effective_status(now) is SessionStatus.EXPIRED:
            _expire(db, session, now)
        return _after_completion(session, event)

    if link is not None:
        stored = attach_link(db, link, session.user_id, session.id, now)
        if stored.user_id != session.user_id:
            db.rollback()
            log.warning("success rejected: link stored for another user", extra={"session_id": session.id})
            raise LinkNotOwned()
    db.add(SessionEvent(session_id=session.id, type=event.type, event=event.to_dict(), received_at=now))
    db.commit()
    db.expire(session)
    return EventOutcome(event, session, recorded=True)


def _verify(session: WidgetSession, event: SuccessEvent, link: BelvoLink) -> None:
    """Threat model A5: the link must be this session's. One answer (403) for every failed check."""
    reason = None
    if link.external_id != session.external_id:
        reason = "external_id differs"
    elif (allowed := session.options.get("institutions")) and link.institution not in allowed:
        reason = "institution not allowed by the session"
    elif link.created_at is not None and link.created_at < session.created_at - CLOCK_SKEW:
        reason = "link created before the session"
    if reason is not None:
        # An audit line for the attempt: ids and the reason only, no personal data.
        log.warning("success rejected: %s", reason, extra={"session_id": session.id})
        raise LinkNotOwned()
    if link.institution != event.institution:
        # Belvo's word wins; the deeplink's institution is only what the app was told.
        log.info(
            "success institution differs from Belvo's; storing Belvo's", extra={"session_id": session.id}
        )


def _holds_warning(session: WidgetSession, event: WarningEvent, now: datetime) -> bool:
    """Whether the session already holds this warning (``extra`` aside); ``429`` when it holds as many
    as it may, until the session expires."""
    warnings = [e.event for e in session.events if e.type == event.type]
    if _without_extra(event.to_dict()) in map(_without_extra, warnings):
        return True
    if len(warnings) >= MAX_WARNINGS:
        raise RateLimited(
            f"At most {MAX_WARNINGS} different warnings per widget session; this one is not recorded",
            retry_after=retry_after((session.expires_at - now).total_seconds()),
        )
    return False


def _transition(db: Session, session: WidgetSession, now: datetime, changes: Mapping[str, Any]) -> bool:
    """Apply ``changes`` if the session is still pending (or cancelled, for a success) and unexpired; True
    if this call did."""
    values = dict(changes)
    if values["status"] is not SessionStatus.PENDING:
        # The widget URL carries Belvo's access token: forget it once the session is over.
        values.update(completed_at=now, widget_url=None)
    open_to = [SessionStatus.PENDING]
    if values["status"] is SessionStatus.SUCCEEDED:
        open_to.append(SessionStatus.CANCELLED)
    result = db.execute(
        update(WidgetSession)
        .where(
            WidgetSession.id == session.id,
            WidgetSession.status.in_(open_to),
            WidgetSession.expires_at > now,
        )
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _expire(db: Session, session: WidgetSession, now: datetime) -> None:
    """Write the expiry down (reads work it out without this, ``effective_status``) and answer 410."""
    db.execute(
        update(WidgetSession)
        .where(
            WidgetSession.id == session.id,
            WidgetSession.status == SessionStatus.PENDING,
            WidgetSession.expires_at <= now,
        )
        .values(status=SessionStatus.EXPIRED, widget_url=None)
        .execution_options(synchronize_session=False)
    )
    db.commit()
    raise Gone(
        f"The widget session expired at {session.expires_at.isoformat()}; create a new session",
        code="session_expired",
    )


def _after_completion(session: WidgetSession, event: Event) -> EventOutcome:
    """A completed session: the replay of its final event is 200 with nothing stored, anything else 409."""
    if _is_final_event(session, event):
        return EventOutcome(event, session, recorded=False)
    raise Conflict(
        f"The widget session is already {session.status}; it takes no other event",
        code="session_already_completed",
    )


def _is_final_event(session: WidgetSession, event: Event) -> bool:
    """Whether ``event`` is the one that completed ``session``: for a success, the same link; for an
    exit or error, the same fields (``extra`` aside: an app may add its own parameters on a retry)."""
    match event, SessionStatus(session.status):
        case SuccessEvent(link_id=link_id), SessionStatus.SUCCEEDED:
            return link_id == session.link_id
        case ((ExitEvent() | ErrorEvent()), (SessionStatus.EXITED | SessionStatus.FAILED)):
            final = session.events[-1].event if session.events else None
            return final is not None and _without_extra(final) == _without_extra(event.to_dict())
        case _:
            return False


def _without_extra(event: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key != "extra"}


#: The claims of Belvo's access tokens that name who the token was minted for (Belvo's API user, its
#: organization, its environment): equal in every token of one Belvo account.
_ISSUER_CLAIMS: Final = ("iss", "user_id", "organization_id", "environment")


def _someones_token(db: Session, token_key: str) -> bool:
    """Whether a session of any user was opened with this token (then it is not this user's to use)."""
    return db.scalar(select(WidgetSession.id).where(WidgetSession.access_token_key == token_key)) is not None


def _issued_alike(returned: str, widget_url: str | None) -> bool:
    """Whether the token the bank returned was minted for the same Belvo account as the session's own
    (its claims read without the signature, which only Belvo can check: they name the account, and a
    token of another account cannot carry ours)."""
    ours = dict(parse_qsl(urlsplit(widget_url or "").query)).get("access_token")
    try:
        theirs_claims = jwt.decode(returned, options={"verify_signature": False})
        ours_claims = jwt.decode(ours or "", options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return all(theirs_claims.get(claim) == ours_claims.get(claim) for claim in _ISSUER_CLAIMS)


@dataclass(frozen=True)
class ResumeOutcome:
    """What an App2App return resumed: the ``session``, the parsed ``event`` and the ``widget_url`` to
    open (the widget with the query the bank sent back)."""

    session: WidgetSession
    event: ResumeEvent
    widget_url: str


def resume(
    db: Session,
    *,
    user_id: str,
    url: str,
    session_id: str | None,
    callback_urls: CallbackUrls,
    secret: Secret,
    widget_base_url: str,
    now: datetime,
) -> ResumeOutcome:
    """App2App: the bank sent the user to the application link ``url``; find the user's pending session
    it is for and answer the widget URL that finishes the flow
    (https://developers.belvo.com/docs/hosted-widget-app2app-ofda).

    The session is the user's whose access token is the URL's. Only a keyed hash of each session's token
    is looked up, never the token itself, so the lookup's timing tells nothing about the token. Belvo
    does not say the bank returns the token the widget was opened with, so ``session_id`` names the
    session when no token matches. 422 for a URL not on the application link, 404 when no pending
    session of this user is found (another user's included), 410 expired, 409 completed.
    """
    if callback_urls.application_link is None:
        raise Unprocessable(
            "App2App is off on this server (no APPLICATION_LINK): there is no application link to resume",
            code="invalid_deeplink",
            field="url",
        )
    expected = f"Expected a URL on the application link {callback_urls.application_link}"
    try:
        event = deeplinks.parse(url, callback_urls.to_dict())
    except DeeplinkError as exc:
        raise Unprocessable(f"{expected}: {exc.message}", code="invalid_deeplink", field="url") from None
    if not isinstance(event, ResumeEvent):
        raise Unprocessable(
            f"{expected}, got a {event.type} deeplink (callbacks go to /v1/widget-sessions/{{id}}/events)",
            code="invalid_deeplink",
            field="url",
        )
    token_key = keyed_hash(secret, event.access_token.encode())
    session = db.scalars(
        select(WidgetSession).where(
            WidgetSession.user_id == user_id, WidgetSession.access_token_key == token_key
        )
    ).first()
    if session is None:
        if session_id is None or _someones_token(db, token_key):
            raise NotFound("No widget session of yours was opened with this access token")
        session = get_owned_session(db, session_id, user_id)
        if not _issued_alike(event.access_token, session.widget_url):
            # A token minted for someone else's Belvo account (a page that sent the user to our
            # application link with its own token): opening it would link this user's bank for them.
            raise NotFound("No widget session of yours was opened with this access token")
    match session.effective_status(now):
        case SessionStatus.EXPIRED:
            _expire(db, session, now)
        case SessionStatus.PENDING:
            pass
        case status:
            raise Conflict(
                f"The widget session is already {status.value}; there is nothing to resume",
                code="session_already_completed",
            )
    stored = event.to_dict(include_token=False)
    if stored not in (e.event for e in session.events if e.type == event.type):
        if sum(e.type == event.type for e in session.events) >= MAX_RESUMES:
            raise RateLimited(
                f"At most {MAX_RESUMES} different returns from the bank per widget session",
                retry_after=retry_after((session.expires_at - now).total_seconds()),
            )
        db.add(SessionEvent(session_id=session.id, type=event.type, event=stored, received_at=now))
        db.commit()
        db.expire(session)
    log.info("widget session resumed after the bank", extra={"session_id": session.id})
    return ResumeOutcome(session, event, resumed_widget_url(widget_base_url, event.query))
