"""`POST /v1/deeplinks/parse` (public): a deeplink URL as its typed event."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from server.api import Blueprint
from server.schemas import DeeplinkEventSchema
from server.services.events import parse_deeplink

bp = Blueprint(
    "deeplinks",
    __name__,
    url_prefix="/v1/deeplinks",
    description="The deeplink parser the backend uses, for apps and QA tools (public, stateless).",
)


class ParseRequestSchema(Schema):
    url = fields.String(required=True, metadata={"description": "A callback deeplink"})
    callback_urls = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        load_default=None,
        metadata={
            "description": "The callback URLs sent to Belvo, {success, exit, event}; without them the "
            "URL's last path segment or host names the event"
        },
    )


@bp.post("/parse")
@bp.errors(400, 413, 415, 422)
@bp.doc(security=[])
@bp.arguments(ParseRequestSchema, location="json")
@bp.response(200, DeeplinkEventSchema)
def parse_deeplink_url(body: dict[str, Any]) -> dict[str, Any]:
    """Parse a deeplink into its typed event (docs/contract.md section 3).

    `422` with code `invalid_deeplink` (malformed URL, bad link id, a parameter given twice...) or
    `unknown_event` (not a success, exit, error or warning, or not on the given callback URLs), and
    `field` naming the query parameter or `callback_urls` entry at fault. Nothing is stored.
    """
    return parse_deeplink(body["url"], body["callback_urls"]).to_dict()
