"""`POST /v1/widget-sessions`, `GET /v1/widget-sessions/{id}` and its QR codes."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import qrcode
import qrcode.image.svg
from flask import Response, current_app, jsonify
from flask import request as flask_request

from server.api import Blueprint
from server.auth import authenticated, current_user_id
from server.belvo import belvo_client
from server.clock import now
from server.errors import InvalidRequest
from server.schemas import (
    SessionRequest,
    WidgetSessionCreatedSchema,
    WidgetSessionRequestSchema,
    WidgetSessionSchema,
)
from server.services import institutions, sessions
from server.settings import settings
from server.storage import database, get_session

bp = Blueprint(
    "widget_sessions",
    __name__,
    url_prefix="/v1/widget-sessions",
    description="Hosted widget sessions: mint one, read it back, show its URL as a QR code.",
)

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
IDEMPOTENCY_KEY = "Idempotency-Key"
_IDEMPOTENCY_KEY_FORMAT = re.compile(r"[\x21-\x7e]{1,255}")
IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header",
    "name": IDEMPOTENCY_KEY,
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
    "description": "Optional. Retrying with the same key and body returns the session created the first "
    "time (201), without asking Belvo again; a retry sent while the first request is still under way waits "
    "for it and gets the same answer (or, past the Belvo deadline, 409 idempotency_key_in_use with "
    "Retry-After). The same key with another body is 422 idempotency_key_reused.",
}
# The answers carry the widget URL, and with it Belvo's access token: never cached anywhere.
NO_STORE = {"Cache-Control": "no-store"}


@bp.post("")
@bp.errors(400, 401, 409, 413, 415, 422, 429, 502, 503)
@bp.doc(security=BEARER, parameters=[IDEMPOTENCY_KEY_PARAMETER])
@authenticated
# An instance, not the class: webargs would build a schema (and its nested ones) on every request.
@bp.arguments(WidgetSessionRequestSchema(), location="json")
@bp.response(201, WidgetSessionCreatedSchema)
def create_widget_session(request: SessionRequest) -> tuple[Response, int, dict[str, str]]:
    """Create a widget session and return the hosted widget URL to open in a webview.

    The backend asks Belvo for an OFDA widget token with the server's callback URLs, terms, branding,
    scopes and permissions, stores the session, then answers. Nothing is stored when anything fails.

    Per user: `SESSION_RATE_LIMIT_PER_MINUTE` and `..._PER_DAY` sessions, beyond which `429 rate_limited`
    with `Retry-After`; and `SESSION_MAX_PENDING` open ones: a new session beyond that cancels the
    user's oldest open one (a widget the app lost) instead of being refused.

    `institutions` must be codes Belvo lists for Brazil (`422` otherwise), and a business institution
    (`..._business`) needs a CNPJ beside the CPF in `identification_info` (`422` otherwise).
    """
    institutions.check_known(institutions.catalogue(), request.options.institutions)
    moment = now()
    session = sessions.create_session(
        get_session,
        database(),
        belvo_client(),
        settings(),
        user_id=current_user_id(),
        request=request,
        now=moment,
        idempotency=_idempotency(),
        client_key=_client_key(),
    )
    # created_view holds exactly the contract's keys, as WidgetSessionCreatedSchema documents them:
    # answered as it is, rather than copied field by field through the schema on every request.
    return jsonify(sessions.created_view(session, moment)), 201, NO_STORE


def _idempotency() -> sessions.Idempotency | None:
    key = flask_request.headers.get(IDEMPOTENCY_KEY)
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY_FORMAT.fullmatch(key):
        raise InvalidRequest(
            "Expected an Idempotency-Key of 1 to 255 visible ASCII characters", field=IDEMPOTENCY_KEY
        )
    # The body holds a CPF and a name: only a keyed hash of it is stored, enough to tell a retry
    # (the same JSON) from another request.
    canonical = json.dumps(flask_request.get_json(), sort_keys=True, separators=(",", ":")).encode()
    return sessions.Idempotency(key, sessions.keyed_hash(settings().app_jwt_secret, canonical))


def _client_key() -> str | None:
    """A keyed hash of the client's address while the per-address limit is on: enough to count one
    address's sessions without storing the address (LGPD)."""
    if settings().session_limits.per_ip_per_minute is None or flask_request.remote_addr is None:
        return None
    return sessions.keyed_hash(settings().app_jwt_secret, flask_request.remote_addr.encode())


@bp.get("/<session_id>")
@bp.errors(401, 404)
@bp.doc(security=BEARER)
@authenticated
@bp.response(200, WidgetSessionSchema)
def get_widget_session(session_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The session, its effective status and the events received."""
    session = sessions.get_owned_session(get_session(), session_id, current_user_id())
    return sessions.session_view(session, now()), NO_STORE


@bp.get("/<session_id>/qr.svg")
@bp.errors(401, 404, 409, 410)
@bp.doc(security=BEARER)
@authenticated
@bp.response(200, content_type="image/svg+xml", description="The widget URL as a QR code (SVG)")
def widget_session_qr_svg(session_id: str) -> Response:
    """The widget URL as an SVG QR code, to open the widget on a phone; only while pending."""
    return _qr(session_id, "svg")


@bp.get("/<session_id>/qr.png")
@bp.errors(401, 404, 409, 410)
@bp.doc(security=BEARER)
@authenticated
@bp.response(200, content_type="image/png", description="The widget URL as a QR code (PNG)")
def widget_session_qr_png(session_id: str) -> Response:
    """The widget URL as a PNG QR code, to open the widget on a phone; only while pending."""
    return _qr(session_id, "png")


def _qr(session_id: str, kind: str) -> Response:
    session = sessions.get_owned_session(get_session(), session_id, current_user_id())
    url = sessions.pending_widget_url(session, now())
    buffer = io.BytesIO()
    if kind == "svg":
        qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
        mimetype = "image/svg+xml"
    else:
        qrcode.make(url, box_size=8, border=4).save(buffer)
        mimetype = "image/png"
    response = current_app.response_class(buffer.getvalue(), mimetype=mimetype)
    response.headers.update(NO_STORE)
    return response
