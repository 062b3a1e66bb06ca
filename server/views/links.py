"""`/v1/links`: the user's links and their data from Belvo."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flask import url_for
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from server.api import Blueprint
from server.auth import authenticated, current_user_id
from server.belvo import Resource, belvo_client
from server.clock import isoformat_z, now
from server.services import links, reconcile
from server.services.consents import ConsentStatus, ResourcesIssue
from server.settings import settings
from server.storage import get_session
from server.webhook_queue import webhook_queue

bp = Blueprint(
    "links",
    __name__,
    url_prefix="/v1/links",
    description="The user's verified links, and their accounts, owners, transactions, credit-card bills and "
    "investments read from Belvo.",
)

TIMESTAMP = {"format": "date-time", "description": "UTC, e.g. 2026-11-21T12:10:00Z"}
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
# Bank data and the owners' names and documents: never kept by a cache on the way.
NO_STORE = {"Cache-Control": "no-store"}


class ResourceStateSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf([links.PENDING, links.READY]))
    ready_at = fields.String(
        allow_none=True, metadata={**TIMESTAMP, "description": "When historical_update arrived"}
    )
    new_data_at = fields.String(
        allow_none=True,
        metadata={
            **TIMESTAMP,
            "description": "When a new_<resource>_available (or transactions_updated/_deleted) webhook "
            "last arrived: read the data again",
        },
    )
    totals = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "Belvo's counts"}
    )


class LinkConsentSchema(Schema):
    """The link's Open Finance consent as Belvo's consent webhooks last described it (contract
    section 7); ``null`` before the first one."""

    status = fields.String(required=True, validate=validate.OneOf([s.value for s in ConsentStatus]))
    consent_id = fields.String(allow_none=True)
    due_date = fields.String(
        allow_none=True, metadata={"description": "When the consent expires, as Belvo reported it"}
    )
    institution = fields.String(allow_none=True)
    institution_display_name = fields.String(allow_none=True)
    institution_icon_logo = fields.String(allow_none=True)
    resources_issue = fields.String(
        allow_none=True,
        validate=validate.OneOf([i.value for i in ResourcesIssue]),
        metadata={"description": "Some of the consent's resources cannot be read (temporarily or for good)"},
    )
    updated_at = fields.String(required=True, metadata=TIMESTAMP)


class LinkSchema(Schema):
    id = fields.String(required=True)
    institution = fields.String(required=True, metadata={"description": "As Belvo reports it"})
    access_mode = fields.String(allow_none=True)
    status = fields.String(
        allow_none=True,
        metadata={
            "description": "Belvo's link status, kept current by reconciling with Belvo (see the list's "
            "`reconciled_at`): `valid`: the link works; `invalid`: it stopped working (e.g. its consent was "
            "revoked); `unconfirmed`: Belvo has not confirmed it yet; `token_required`: the institution "
            "wants the user to authenticate again. Only a `valid` link updates: show it as already connected "
            "before opening the widget, so the user does not link the same bank twice; for the others offer "
            "to connect the bank again (or to renew the consent when `consent` says it expired). Null when "
            "Belvo did not say.",
        },
        validate=validate.OneOf(links.LINK_STATUSES),
    )
    session_id = fields.String(
        allow_none=True,
        metadata={"description": "The widget session it came from; null when recovered from a webhook"},
    )
    resources = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(ResourceStateSchema),
        metadata={
            "description": "Per resource (ACCOUNTS, OWNERS, ...): pending, ready once historical_update came"
        },
    )
    consent = fields.Nested(LinkConsentSchema, allow_none=True)
    created_at = fields.String(required=True, metadata=TIMESTAMP)
    updated_at = fields.String(required=True, metadata=TIMESTAMP)


class LinkListSchema(Schema):
    links = fields.List(fields.Nested(LinkSchema), required=True)
    reconciled_at = fields.String(
        allow_none=True,
        metadata={
            **TIMESTAMP,
            "description": "When the links were last compared with Belvo's (null: not yet). Reading this "
            "list queues a new comparison, off the request, when the last one is a few minutes old: links "
            "made at Belvo but never reported, status changes and links deleted at Belvo show on a later "
            "read without waiting for Belvo's webhooks",
        },
    )


class PageQuerySchema(Schema):
    page = fields.Integer(validate=validate.Range(min=1), metadata={"description": "Belvo's page number"})
    page_size = fields.Integer(
        validate=validate.Range(min=1, max=1000), metadata={"description": "1 to 1000"}
    )


def _date_range(value: str) -> None:
    start, _, end = value.partition(",")
    try:
        if date.fromisoformat(start) > date.fromisoformat(end):
            raise ValidationError("Expected the first date not after the second")
    except ValueError:
        raise ValidationError("Expected two dates, YYYY-MM-DD,YYYY-MM-DD") from None


class TransactionsQuerySchema(PageQuerySchema):
    """Belvo's transaction filters most apps need (Belvo OpenAPI, ``GET /api/transactions/``)."""

    account = fields.UUID(metadata={"description": "Only this account's transactions"})
    value_date = fields.Date()
    value_date__gt = fields.Date()
    value_date__gte = fields.Date()
    value_date__lt = fields.Date()
    value_date__lte = fields.Date()
    value_date__range = fields.String(validate=_date_range, metadata={"description": "YYYY-MM-DD,YYYY-MM-DD"})

    @validates_schema
    def _one_way_per_bound(self, data: Mapping[str, Any], **_: Any) -> None:
        if "value_date__range" in data and any(
            key.startswith("value_date") for key in data if key != "value_date__range"
        ):
            raise ValidationError(
                "Use value_date__range alone, or the other value_date filters", "value_date__range"
            )


class PageSchema(Schema):
    """Belvo's pagination envelope, with ``next``/``previous`` pointing at this endpoint."""

    count = fields.Integer(allow_none=True)
    next = fields.String(allow_none=True)
    previous = fields.String(allow_none=True)
    results = fields.List(
        fields.Dict(), required=True, metadata={"description": "Belvo's objects, as Belvo sends them"}
    )


@bp.get("")
@bp.errors(401)
@bp.doc(security=BEARER)
@authenticated
@bp.response(200, LinkListSchema)
def list_links() -> dict[str, Any]:
    """The user's links, oldest first: each verified with Belvo before it was stored.

    The answer comes from what is stored (no Belvo call on the request); it also queues reconciling the
    links with Belvo when that was last done a few minutes ago or more."""
    db, user_id = get_session(), current_user_id()
    found = [links.link_view(link) for link in links.list_links(db, user_id)]
    fresh = reconcile.request(
        db, user_id, now(), settings().reconcile_after, webhook_queue().enqueue_reconcile
    )
    db.commit()
    reconciled_at = None if fresh.reconciled_at is None else isoformat_z(fresh.reconciled_at)
    return {"links": found, "reconciled_at": reconciled_at}


@bp.get("/<link_id>")
@bp.errors(401, 404)
@bp.doc(security=BEARER)
@authenticated
@bp.response(200, LinkSchema)
def get_link(link_id: str) -> dict[str, Any]:
    """One of the user's links: which resources are ready, and the consent state.

    Someone else's link is `404`, as is a link that does not exist."""
    return links.link_view(links.owned_link(get_session(), link_id, current_user_id()))


@bp.delete("/<link_id>")
@bp.errors(401, 404, 502, 503)
@bp.doc(security=BEARER)
@authenticated
@bp.response(204)
def delete_link(link_id: str) -> None:
    """Delete the link at Belvo, which revokes its Open Finance consent, then here.

    Already gone at Belvo: deleted here too, `204`. Belvo unreachable: `503` with `Retry-After` and the
    link is kept, so it can be deleted again. Someone else's link: `404`.
    """
    db = get_session()
    links.delete_link(db, belvo_client(), links.owned_link(db, link_id, current_user_id()))


def _page(
    link_id: str, resource: Resource, query: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    link = links.owned_link(get_session(), link_id, current_user_id())
    links.require_ready(link, resource)
    params = {
        key: value.isoformat() if isinstance(value, date) else str(value) for key, value in query.items()
    }
    page = links.fetch_page(belvo_client(), link, resource, params)
    endpoint = f"links.{resource.replace('-', '_')}"
    for key in ("next", "previous"):
        ours = page[key]
        page[key] = None if ours is None else url_for(endpoint, link_id=link.id, _external=True, **ours)
    return page, NO_STORE


DATA_DOC = (
    "Belvo's envelope `{count, next, previous, results}` is passed through; `next` and `previous` are "
    "this endpoint's URLs. `409 resource_not_ready` until Belvo's `historical_update` webhook for the "
    "resource has arrived (Belvo: read data only after it). Someone else's link: `404`. Belvo "
    "unreachable: `503` with `Retry-After`. Unknown query parameters are `422`: a misspelt filter must not "
    "silently return everything."
)


@bp.get("/<link_id>/accounts")
@bp.errors(401, 404, 409, 422, 502, 503)
@bp.doc(security=BEARER, description=DATA_DOC)
@authenticated
@bp.arguments(PageQuerySchema, location="query", unknown=RAISE)
@bp.response(200, PageSchema)
def accounts(query: dict[str, Any], link_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The link's accounts, one page at a time."""
    return _page(link_id, "accounts", query)


@bp.get("/<link_id>/owners")
@bp.errors(401, 404, 409, 422, 502, 503)
@bp.doc(security=BEARER, description=DATA_DOC)
@authenticated
@bp.arguments(PageQuerySchema, location="query", unknown=RAISE)
@bp.response(200, PageSchema)
def owners(query: dict[str, Any], link_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The link's owners: names and documents, for their owner's eyes only."""
    return _page(link_id, "owners", query)


@bp.get("/<link_id>/transactions")
@bp.errors(401, 404, 409, 422, 502, 503)
@bp.doc(security=BEARER, description=DATA_DOC)
@authenticated
@bp.arguments(TransactionsQuerySchema, location="query", unknown=RAISE)
@bp.response(200, PageSchema)
def transactions(query: dict[str, Any], link_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The link's transactions, filtered by value date or account."""
    return _page(link_id, "transactions", query)


@bp.get("/<link_id>/bills")
@bp.errors(401, 404, 409, 422, 502, 503)
@bp.doc(security=BEARER, description=DATA_DOC)
@authenticated
@bp.arguments(PageQuerySchema, location="query", unknown=RAISE)
@bp.response(200, PageSchema)
def bills(query: dict[str, Any], link_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The link's credit-card bills (closed periods only), one page at a time (`BILLS`)."""
    return _page(link_id, "bills", query)


@bp.get("/<link_id>/investments")
@bp.errors(401, 404, 409, 422, 502, 503)
@bp.doc(security=BEARER, description=DATA_DOC)
@authenticated
@bp.arguments(PageQuerySchema, location="query", unknown=RAISE)
@bp.response(200, PageSchema)
def investments(query: dict[str, Any], link_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The link's investments (Belvo's `/api/br/investments/`, `INVESTMENTS`)."""
    return _page(link_id, "investments", query)


@bp.get("/<link_id>/investment-transactions")
@bp.errors(401, 404, 409, 422, 502, 503)
@bp.doc(security=BEARER, description=DATA_DOC)
@authenticated
@bp.arguments(PageQuerySchema, location="query", unknown=RAISE)
@bp.response(200, PageSchema)
def investment_transactions(query: dict[str, Any], link_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The link's investment transactions (Belvo's `/api/br/investment-transactions/`,
    `INVESTMENT_TRANSACTIONS`)."""
    return _page(link_id, "investment-transactions", query)
