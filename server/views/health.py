"""Liveness and readiness probes (public)."""

from __future__ import annotations

from server.api import Blueprint, check_database

bp = Blueprint("health", __name__, description="Liveness and readiness")


@bp.get("/healthz")
@bp.response(200)
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@bp.get("/readyz")
@bp.errors(503)
@bp.response(200)
def readyz() -> dict[str, str]:
    """The process can serve requests: its database answers and has every migration applied."""
    check_database()
    return {"status": "ready"}
