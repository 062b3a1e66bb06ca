"""``GET /``: where to go from the server's root, for a person (HTML) or a program (JSON), and the same
places for ``ofda run``'s start-up banner."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, request

from server.config import Settings
from server.settings import settings

# A plain Flask blueprint: a signpost, not part of the API or its OpenAPI document.
bp = Blueprint("index", __name__)

TITLES = {
    "api": "API",
    "docs": "API docs",
    "openapi": "OpenAPI document",
    "qa": "QA page",
    "widget": "Emulated widget",
    "health": "Health",
}


def places(config: Settings) -> dict[str, str]:
    """The URLs worth knowing on this server: the emulated widget only in emulator mode, the QA page
    only when it is on. None carries a token."""
    base = config.public_base_url
    found = {
        "api": f"{base}/v1",
        "docs": f"{base}/docs",
        "openapi": f"{base}/openapi.json",
        "qa": f"{base}/qa" if config.qa_page else None,
        "widget": config.belvo_widget_url if config.emulator_mode else None,
        "health": f"{base}/healthz",
    }
    return {name: url for name, url in found.items() if url is not None}


def mode(config: Settings) -> str:
    return "emulator" if config.emulator_mode else "real"


@bp.get("/")
def index() -> Response | str:
    config = settings()
    found = places(config)
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        return render_template("index.html", mode=mode(config), places=found, titles=TITLES)
    return jsonify({"mode": mode(config), **found})
