"""`POST /v1/widget-sessions/{id}/events`: deeplink events bound to a session; `.../cancel`: the app
closed the webview itself."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from server.api import Blueprint, without_body
from server.auth import authenticated, current_user_id
from server.belvo import belvo_client
from server.clock import now
from server.schemas import DeeplinkEventSchema, WidgetSessionSchema
from server.services import events
from server.services.sessions import cancel_session, session_view
from server.storage import get_session

bp = Blueprint(
    "session_events",
    __name__,
    url_prefix="/v1/widget-sessions",
    description="Callback deeplinks the app caught, bound to the widget session they belong to.",
)

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
NO_STORE = {"Cache-Control": "no-store"}


class EventRequestSchema(Schema):
    url = fields.String(
        required=True,
        metadata={
            "description": "The callback URL exactly as the webview or the OS handed it to the app, "
            "e.g. ofdaapp://belvo/success?link=...&institution=..."
        },
    )


class EventResponseSchema(Schema):
    event = fields.Nested(DeeplinkEventSchema, required=True)
    session = fields.Nested(WidgetSessionSchema, required=True)


@bp.post("/<session_id>/events")
@bp.errors(400, 401, 403, 404, 409, 410, 413, 415, 422, 429, 502, 503)
@bp.doc(security=BEARER)
@authenticated
@bp.arguments(EventRequestSchema, location="json")
@bp.response(200, EventResponseSchema)
def post_session_event(body: dict[str, str], session_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Report a callback deeplink; the backend decides what it means for the session.

    The URL is parsed against the session's own callback URLs (`422 invalid_deeplink` or
    `unknown_event` otherwise) and moves the session: `success` to `succeeded`, `exit` to `exited`,
    `error` (any code) to `failed`; a `warning` is recorded and keeps it `pending`.

    A `success` counts only after the backend fetched the link from Belvo and found this session's
    `external_id` on it, an institution the session allowed and a creation time not before the
    session's. Otherwise `403 link_not_owned` and nothing is stored; the same answer is given when
    Belvo does not know the link, so the answer never tells whether someone else's link exists. The
    verified link is then stored for the user, with the institution Belvo reports.

    - Same `success` again (same link), or the same `exit`/`error` again: `200`, nothing new stored.
      Safe to retry after a lost response.
    - A `warning` the session already holds: `200`, not recorded twice. Past 20 different warnings:
      `429 rate_limited`, not recorded.
    - Any other event once the session is `succeeded`, `exited` or `failed`: `409
      session_already_completed`, not recorded.
    - A `cancelled` session (the app closed the webview, or a newer session replaced it) still takes a
      verified `success` until its `expires_at`: the link exists at Belvo, so it is stored and the
      session becomes `succeeded`. Any other event on it is `409 session_already_completed`.
    - Session past `expires_at` while pending: `410 session_expired`, nothing recorded.
    - Belvo unreachable while verifying: `503 upstream_unavailable` with `Retry-After`; the session
      stays pending, so the same URL can be posted again.
    - Someone else's session: `404 not_found`.
    """
    moment = now()
    outcome = events.post_event(
        get_session(),
        belvo_client(),
        session_id=session_id,
        user_id=current_user_id(),
        url=body["url"],
        now=moment,
    )
    return {"event": outcome.event.to_dict(), "session": session_view(outcome.session, moment)}, NO_STORE


@bp.post("/<session_id>/cancel")
@without_body
@bp.errors(401, 404, 409, 410, 415)
@bp.doc(security=BEARER)
@authenticated
@bp.response(200, WidgetSessionSchema)
def cancel_widget_session(session_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Cancel a pending session: the app closed the webview itself (the user went back, the app was
    killed), so the session will not be finished. It becomes `cancelled`, stops counting towards the
    user's open sessions, and its widget URL is forgotten.

    - Already `cancelled`: `200` with the session (safe to retry).
    - A `success` the user did reach in the widget before it closed still counts when posted later:
      the link exists at Belvo, so it is stored and the session becomes `succeeded`.
    - `succeeded`, `exited` or `failed`: `409 session_already_completed`.
    - Past `expires_at` while pending: `410 session_expired`.
    - Someone else's session: `404 not_found`.
    """
    moment = now()
    session = cancel_session(get_session(), session_id, current_user_id(), moment)
    return session_view(session, moment), NO_STORE
