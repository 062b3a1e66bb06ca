"""`POST /v1/webhooks/belvo` (public, Belvo's static Authorization): Belvo's webhooks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click
from flask import request
from marshmallow import INCLUDE, Schema, fields, validate
from sqlalchemy.exc import SQLAlchemyError

from server.api import Blueprint, require_json_body
from server.clock import now
from server.errors import PayloadTooLarge, Unauthenticated, Unavailable
from server.services import webhooks
from server.settings import settings
from server.storage import database, get_session
from server.webhook_queue import webhook_queue

bp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/v1/webhooks",
    description="Belvo's webhooks, authenticated by the Authorization value configured at Belvo.",
)

_UUID = r"\A[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
# Stored as keys: printable ASCII names only (a NUL byte would not even reach PostgreSQL).
_NAME = r"\A[A-Za-z0-9_.:-]{1,64}\Z"


class BelvoWebhookSchema(Schema):
    """Belvo's webhook body (facts file 4.2); other keys are kept as sent."""

    class Meta:
        unknown = INCLUDE

    webhook_id = fields.String(required=True, validate=validate.Regexp(_NAME))
    webhook_type = fields.String(required=True, validate=validate.Regexp(_NAME))
    webhook_code = fields.String(required=True, validate=validate.Regexp(_NAME))
    link_id = fields.String(allow_none=True, validate=validate.Regexp(_UUID))
    external_id = fields.String(allow_none=True)
    process_type = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    data = fields.Dict(keys=fields.String(), allow_none=True)


class WebhookAckSchema(Schema):
    status = fields.String(
        required=True,
        validate=validate.OneOf(["received", "duplicate"]),
        metadata={
            "description": "received: stored, applied shortly; duplicate: this webhook_id was stored before"
        },
    )


@bp.before_request
def _authenticate_belvo() -> None:
    """Before the body is read: who is not Belvo learns nothing, not even the size limit."""
    if not webhooks.authorized(request.headers.get("Authorization"), settings().webhook_auth):
        raise Unauthenticated("Unauthorized")  # deliberately no detail (threat model D1)
    # The request's own limit (Flask 3.1), also for bodies sent without a Content-Length.
    request.max_content_length = webhooks.MAX_BODY_BYTES
    if (request.content_length or 0) > webhooks.MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Expected a webhook body of at most {webhooks.MAX_BODY_BYTES} bytes")
    require_json_body()


@bp.post("/belvo")
@bp.errors(400, 401, 413, 415, 422, 503)
@bp.doc(security=[{"belvoWebhookAuth": []}])
@bp.arguments(BelvoWebhookSchema, location="json")
@bp.response(200, WebhookAckSchema)
def receive_belvo_webhook(payload: dict[str, Any]) -> dict[str, str]:
    """Receive one Belvo webhook: store it, acknowledge it, apply it in the background.

    `Authorization` must equal the value configured at Belvo (`BELVO_WEBHOOK_AUTH`, or
    `BELVO_WEBHOOK_AUTH_PREVIOUS` during a rotation), compared in constant time; otherwise `401` with no
    detail. Bodies over 256 KiB are `413`. `webhook_id`, `webhook_type` and `webhook_code` are required
    (`422 validation_error`).

    The answer comes as soon as the webhook is stored and queued (one transaction), within Belvo's 5
    seconds; it is applied shortly after, retried with backoff if it fails. A `webhook_id` seen
    before is answered `{"status": "duplicate"}` and changes nothing. Types and codes the backend does
    not handle are stored and ignored. If the database cannot store it, `503`: Belvo delivers again.

    Classified by `webhook_code` first (Belvo's own `new_investments_available` example carries the
    wrong `webhook_type`). Applied: `historical_update` makes the resource readable at
    `/v1/links/{id}/<resource>`; `new_<resource>_available`, `transactions_updated` and
    `transactions_deleted` set `new_data_at`; `link_deleted` forgets the link once Belvo answers 404;
    `openfinance_consent_expired`/`consent_expired` and `..._about_to_expire` set the link's `consent`.
    A webhook for an unknown link whose `external_id` is one of our users attaches the link to that
    user once Belvo confirms it.
    """
    try:
        inserted = webhooks.store(get_session(), payload, now(), webhook_queue().enqueue)
    except SQLAlchemyError:
        raise Unavailable(
            "The webhook could not be stored; deliver it again", code="database_unavailable", retry_after=5
        ) from None
    return {"status": "received" if inserted else "duplicate"}


@bp.cli.command("retry")
@click.option("--min-age", default=60, show_default=True, help="Only webhooks stored this many seconds ago.")
def retry_command(min_age: int) -> None:
    """Apply now the webhooks left 'received' that nothing waits to apply (the worker's periodic sweep
    does the same every few seconds; this is for when no worker runs)."""
    queue = webhook_queue()
    queued = queue.sweep(timedelta(seconds=min_age))
    queue.drain()
    with database().sessionmaker() as db:
        left = webhooks.received_count(db)
    click.echo(f"{queued} webhooks retried, {left} still received")
