"""`POST /v1/widget-sessions`, `GET /v1/widget-sessions/{id}` and its QR codes."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint("widget_sessions", __name__, url_prefix="/v1/widget-sessions")
