"""`POST /v1/widget-sessions/{id}/events`: deeplink events bound to a session."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint("session_events", __name__, url_prefix="/v1/widget-sessions")
