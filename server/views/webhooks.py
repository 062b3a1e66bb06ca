"""`POST /v1/webhooks/belvo` (public, Belvo's static Authorization): Belvo's webhooks."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks")
