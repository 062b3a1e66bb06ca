"""Liveness and readiness probes (public)."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from server.api import Blueprint
from server.errors import Unavailable
from server.storage import database

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
    """The process can serve requests: its database answers."""
    try:
        database().ping()
    except SQLAlchemyError:
        raise Unavailable("The database is not reachable", code="database_unavailable") from None
    return {"status": "ready"}
