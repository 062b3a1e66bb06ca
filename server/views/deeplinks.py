"""`POST /v1/deeplinks/parse` (public): a deeplink URL as its typed event."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint("deeplinks", __name__, url_prefix="/v1/deeplinks")
