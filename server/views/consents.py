"""`POST /v1/consent-portal` and `POST /v1/links/{id}/consent-renewal`: My Belvo Portal for the user."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marshmallow import Schema, fields

from server.api import Blueprint
from server.auth import authenticated, current_user_id
from server.belvo import belvo_client
from server.ofda import Identification
from server.schemas import PortalRequestSchema
from server.services import consents, links
from server.services.sessions import isoformat_z
from server.settings import settings
from server.storage import get_session

bp = Blueprint(
    "consents",
    __name__,
    url_prefix="/v1",
    description="My Belvo Portal: where users see, renew and revoke their Open Finance consents.",
)

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
# The portal URLs carry an access token: never kept by a cache on the way.
NO_STORE = {"Cache-Control": "no-store"}
_EXPIRES_AT = {"format": "date-time", "description": "When the URL's access token expires (UTC)"}


class PortalSchema(Schema):
    portal_url = fields.String(
        required=True, metadata={"description": "My Belvo Portal with the user's consents; carries a token"}
    )
    expires_at = fields.String(required=True, metadata=_EXPIRES_AT)


class RenewalSchema(Schema):
    renew_url = fields.String(
        required=True, metadata={"description": "My Belvo Portal in renew mode for this link's consent"}
    )
    expires_at = fields.String(required=True, metadata=_EXPIRES_AT)


@bp.post("/consent-portal")
@bp.errors(400, 401, 413, 415, 422, 502, 503)
@bp.doc(security=BEARER)
@authenticated
@bp.arguments(PortalRequestSchema(), location="json")
@bp.response(201, PortalSchema)
def open_portal(identification: Sequence[Identification]) -> tuple[dict[str, Any], dict[str, str]]:
    """My Belvo Portal for this person: every consent they gave, to review, renew or revoke.

    Open the URL outside the app's webview flow (a Custom Tab, `SFSafariViewController`): it is a
    third-party page. The public portal needs no token at all: `https://meuportal.belvo.com/?mode=landing`.
    """
    portal = consents.open_portal(belvo_client(), settings(), identification)
    return {"portal_url": portal.url, "expires_at": isoformat_z(portal.expires_at)}, NO_STORE


@bp.post("/links/<link_id>/consent-renewal")
@bp.errors(400, 401, 404, 409, 413, 415, 422, 502, 503)
@bp.doc(security=BEARER)
@authenticated
@bp.arguments(PortalRequestSchema(), location="json")
@bp.response(201, RenewalSchema)
def renew_consent(
    identification: Sequence[Identification], link_id: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """My Belvo Portal in renew mode for this link's consent, built from what Belvo's consent webhooks
    reported: `409 consent_not_renewable` before there is one, or once it was revoked. Someone else's
    link is `404`. After the user renews, Belvo's consent webhook makes the link's consent `active`."""
    link = links.owned_link(get_session(), link_id, current_user_id())
    renewal = consents.renew_link_consent(belvo_client(), settings(), link, identification)
    return {"renew_url": renewal.url, "expires_at": isoformat_z(renewal.expires_at)}, NO_STORE
