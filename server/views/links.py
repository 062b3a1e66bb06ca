"""`/v1/links`: the user's links and their data from Belvo."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint("links", __name__, url_prefix="/v1/links")
