"""Belvo's JSON for the emulator's own objects, shared by the API and control blueprints."""

from __future__ import annotations

from typing import Any

from emulator.data import iso
from emulator.state import Link

Json = dict[str, Any]


def link_json(link: Link) -> Json:
    """A link as ``GET /api/links/{id}/`` returns it (docs/belvo.md §4.4)."""
    return {
        "id": link.id,
        "institution": link.institution,
        "access_mode": link.access_mode,
        "last_accessed_at": iso(link.last_accessed_at),
        "created_at": iso(link.created_at),
        "external_id": link.external_id,
        "institution_user_id": link.institution_user_id,
        "status": link.status,
        "created_by": link.created_by,
        "refresh_rate": link.refresh_rate,
        "credentials_storage": link.credentials_storage,
        "stale_in": link.stale_in,
        "fetch_resources": list(link.fetch_resources),
    }
