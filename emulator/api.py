"""Belvo's API as Belvo answers it: ``/api/token/``, links, owners, accounts, transactions, bills,
investments, consents and institutions, with HTTP Basic secret keys and Belvo's error array.

Filters are the ones of OpenAPI 1.35: ``link`` is required for transactions, bills and investments
(and optional for accounts and owners, where Belvo lists everything but advises against it). The POST
"retrieve" forms of accounts, owners and transactions (what Belvo's SDKs call ``create``/``retrieve``)
answer the link's items as a list: ``201`` when ``save_data`` is true (the default), ``200`` otherwise.
Link operations follow Belvo's OFDA guide: ``PATCH`` changes ``access_mode``,
``stale_in`` or ``fetch_resources``; ``POST .../refresh/`` answers ``202`` with a ``request_id`` and
refuses a second refresh within 10 minutes (``409 link_refreshed``); ``DELETE`` with
``X-Belvo-Request-Mode: async`` answers ``202`` and sends a ``link_deleted`` webhook.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, Literal

from flask import Blueprint, Response, jsonify, request, url_for

from emulator.app import current_emulator
from emulator.data import iso
from emulator.errors import (
    AuthenticationFailed,
    BelvoApiError,
    ErrorItem,
    NotFound,
    RequestInvalid,
    new_request_id,
)
from emulator.institutions import INSTITUTIONS, Institution
from emulator.listing import Field, apply_filters, paginate, shape
from emulator.state import ConsentGrant, Link
from emulator.tokens import mint, parse_fetch_resources, parse_stale_in, parse_token_request

Json = dict[str, Any]
api = Blueprint("api", __name__, url_prefix="/api")

# Open Finance Brasil permission names behind each consent group the widget asks for (facts file 4.5).
_PERMISSIONS = {
    "ACCOUNTS": [
        "ACCOUNTS_READ", "ACCOUNTS_BALANCES_READ", "ACCOUNTS_TRANSACTIONS_READ",
        "ACCOUNTS_OVERDRAFT_LIMITS_READ",
    ],
    "CREDIT_CARDS": [
        "CREDIT_CARDS_ACCOUNTS_READ", "CREDIT_CARDS_ACCOUNTS_BILLS_READ",
        "CREDIT_CARDS_ACCOUNTS_BILLS_TRANSACTIONS_READ", "CREDIT_CARDS_ACCOUNTS_LIMITS_READ",
        "CREDIT_CARDS_ACCOUNTS_TRANSACTIONS_READ",
    ],
    "CREDIT_OPERATIONS": [
        "LOANS_READ", "LOANS_WARRANTIES_READ", "LOANS_SCHEDULED_INSTALMENTS_READ", "LOANS_PAYMENTS_READ",
        "FINANCINGS_READ", "FINANCINGS_WARRANTIES_READ", "FINANCINGS_SCHEDULED_INSTALMENTS_READ",
        "FINANCINGS_PAYMENTS_READ", "UNARRANGED_ACCOUNTS_OVERDRAFT_READ", "INVOICE_FINANCINGS_READ",
    ],
    "RESOURCES": ["RESOURCES_READ"],
}  # fmt: skip


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _valid_keys(key_id: str | None, password: str | None) -> bool:
    config = current_emulator().config
    return _same(key_id, config.secret_id) & _same(password, config.secret_password)


@api.before_request
def _require_secret_keys() -> None:
    """Every endpoint but /api/token/ takes the secret keys as HTTP Basic credentials."""
    if request.endpoint == "api.token":
        return
    auth = request.authorization
    if auth is None or auth.type != "basic" or not _valid_keys(auth.username, auth.password):
        raise AuthenticationFailed


def _page(items: Sequence[Json]) -> Response:
    return jsonify(paginate(items, request.args, request.url))


def _uuid_param(name: str) -> str | None:
    value = request.args.get(name)
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise RequestInvalid((ErrorItem("invalid", f"“{value}” is not a valid UUID.", name),)) from None


@api.get("/")
def root() -> Response:
    """The login check Belvo's SDKs make on start (``GET /api/`` with the secret keys)."""
    names = ("links", "accounts", "owners", "transactions", "bills", "consents", "institutions")
    return jsonify({name: url_for(f"api.{name}", _external=True) for name in names})


def _json_body() -> Mapping[str, Any]:
    """The request's JSON object (a form too: DRF parses both), or Belvo's 400 ``parse_error``."""
    body = request.get_json(force=True, silent=True)
    if body is None and request.form:
        body = request.form.to_dict()
    if not isinstance(body, dict):
        raise RequestInvalid((ErrorItem("parse_error", "JSON parse error: expected a JSON object."),))
    return body


@api.post("/token/")
def token() -> Response:
    # Like Belvo's Django REST framework API: a JSON body whatever its content type, or a form (enough
    # for the flat SDK request; the OFDA request's nested ``widget`` needs JSON).
    body = _json_body()
    # The secret keys go in the body (facts file 1.1); the SDKs send Basic auth too, used when the
    # body has none.
    auth = request.authorization
    if "id" in body or "password" in body or auth is None:
        key_id, password = body.get("id"), body.get("password")
    else:
        key_id, password = auth.username, auth.password
    if not (isinstance(key_id, str) and isinstance(password, str) and _valid_keys(key_id, password)):
        raise AuthenticationFailed
    emulator = current_emulator()
    config = parse_token_request(body)
    settings = emulator.config
    api_url = request.host + request.script_root  # Belvo's is its host, "sandbox.belvo.com"
    pair = mint(emulator.state, config, settings.signing_key, emulator.now(), settings.access_ttl, api_url)
    # djangorestframework-simplejwt answers 200 with refresh first, as in Belvo's example (facts 1.6).
    return jsonify({"refresh": pair.refresh, "access": pair.access})


def link_json(link: Link) -> Json:
    """A link as ``GET /api/links/{id}/`` returns it (facts file 4.4)."""
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


_LINK_FIELDS = (
    Field("id", lambda v: v["id"]),
    Field("external_id", lambda v: v["external_id"]),
    Field("institution", lambda v: v["institution"]),
    Field("status", lambda v: v["status"]),
    Field("access_mode", lambda v: v["access_mode"]),
    Field("institution_user_id", lambda v: v["institution_user_id"]),
    Field("refresh_rate", lambda v: v["refresh_rate"]),
    Field("created_at", lambda v: v["created_at"], dated=True),
)


@api.get("/links/")
def links() -> Response:
    items = [link_json(link) for link in current_emulator().state.links()]
    return _page(apply_filters(items, request.args, _LINK_FIELDS))


def _link_or_404(link_id: str) -> Link:
    link = current_emulator().state.link(link_id)
    if link is None:
        raise NotFound
    return link


@api.get("/links/<link_id>/")
def link_detail(link_id: str) -> Response:
    return jsonify(link_json(_link_or_404(link_id)))


@api.delete("/links/<link_id>/")
def link_delete(link_id: str) -> Response:
    """Delete the link (which revokes its Open Finance consent): 204, or 202 and a ``link_deleted``
    webhook with ``X-Belvo-Request-Mode: async``."""
    emulator = current_emulator()
    link = emulator.forget(link_id)
    if link is None:
        raise NotFound
    if request.headers.get("X-Belvo-Request-Mode", "").lower() != "async":
        return Response(status=204)
    request_id = new_request_id()
    emulator.send_link_deleted(link, request_id)
    return _accepted(request_id)


def _accepted(request_id: str) -> Response:
    """Belvo's ``202`` for asynchronous work (OpenAPI 1.35 ``AsynchronousAccepted202``)."""
    response = jsonify({"request_id": request_id})
    response.status_code = 202
    return response


@api.patch("/links/<link_id>/")
def link_patch(link_id: str) -> Response:
    """Change ``access_mode``, ``stale_in`` or ``fetch_resources``; answers the link."""
    link = _link_or_404(link_id)
    body = _json_body()
    problems: list[ErrorItem] = []
    changes: dict[str, Any] = {}
    if "access_mode" in body:
        mode = body["access_mode"]
        if mode not in ("single", "recurrent"):
            problems.append(
                ErrorItem("invalid_choice", f'"{mode}" is not single or recurrent.', "access_mode")
            )
        else:
            changes["access_mode"] = mode
            changes["refresh_rate"] = "7d" if mode == "recurrent" else None
    if "stale_in" in body:
        try:
            changes["stale_in"] = parse_stale_in(body) or link.stale_in
        except RequestInvalid as exc:
            problems += exc.items
    try:
        if (resources := parse_fetch_resources(body)) is not None:
            changes["fetch_resources"] = resources
    except RequestInvalid as exc:
        problems += exc.items
    if problems:
        raise RequestInvalid(tuple(problems))
    updated = current_emulator().state.update_link(link.id, lambda current: replace(current, **changes))
    if updated is None:  # deleted meanwhile
        raise NotFound
    return jsonify(link_json(updated))


REFRESH_COOLDOWN = timedelta(minutes=10)


@api.post("/links/<link_id>/refresh/")
def link_refresh(link_id: str) -> Response:
    """Fetch the link's resources again (optional ``fetch_resources``): 202 with the ``request_id`` the
    ``recurrent_update`` webhooks carry; a second refresh within 10 minutes is 409 ``link_refreshed``."""
    emulator = current_emulator()
    link = _link_or_404(link_id)
    body = request.get_json(force=True, silent=True)
    resources = (parse_fetch_resources(body) if isinstance(body, dict) else None) or link.fetch_resources
    now = emulator.now()

    def refreshed(current: Link) -> Link:
        if current.refreshed_at is not None and now - current.refreshed_at < REFRESH_COOLDOWN:
            raise BelvoApiError(
                409,
                (
                    ErrorItem(
                        "link_refreshed",
                        "The link was refreshed less than 10 minutes ago; try again later.",
                    ),
                ),
            )
        return replace(current, refreshed_at=now, last_accessed_at=now)

    updated = emulator.state.update_link(link.id, refreshed)
    if updated is None:  # deleted meanwhile
        raise NotFound
    request_id = new_request_id()
    emulator.send_recurrent_updates(updated, resources, request_id)
    return _accepted(request_id)


def _scoped_links() -> list[Link]:
    """The links named by ``link``/``link__in``, or all of them."""
    state = current_emulator().state
    one = _uuid_param("link")
    many = request.args.get("link__in")
    if one is not None:
        return [link] if (link := state.link(one)) else []
    if many is not None:
        wanted = set(many.split(","))
        return [link for link in state.links() if link.id in wanted]
    return state.links()


_OWNER_FIELDS = (Field("id", lambda v: v["id"]), Field("email", lambda v: v["email"]))
_ACCOUNT_FIELDS = (
    Field("id", lambda v: v["id"]),
    Field("category", lambda v: v["category"]),
    Field("currency", lambda v: v["currency"]),
    Field("type", lambda v: v["type"]),
    Field("number", lambda v: v["number"]),
    Field("institution", lambda v: v["institution"]["name"]),
)
_TRANSACTION_FIELDS = (
    Field("id", lambda v: v["id"]),
    Field("account", lambda v: v["account"]["id"]),
    Field("account_type", lambda v: v["account"]["type"]),
    Field("type", lambda v: v["type"]),
    Field("status", lambda v: v["status"]),
    Field("currency", lambda v: v["currency"]),
    Field("reference", lambda v: v["reference"]),
    Field("amount", lambda v: v["amount"], numeric=True),
    Field("account__balance__current", lambda v: v["account"]["balance"]["current"], numeric=True),
    Field("account__balance__available", lambda v: v["account"]["balance"]["available"], numeric=True),
    Field(
        "credit_card_data__bill_name",
        lambda v: (v["credit_card_data"] or {}).get("bill_name"),
    ),
    Field("value_date", lambda v: v["value_date"], dated=True),
    Field("accounting_date", lambda v: v["accounting_date"], dated=True),
    Field("collected_at", lambda v: v["collected_at"], dated=True),
    Field("created_at", lambda v: v["created_at"], dated=True),
)
_BILL_FIELDS = (
    Field("id", lambda v: v["id"]),
    Field("account", lambda v: v["account"]["id"]),
    Field("bill_name", lambda v: v["bill_name"]),
    Field("due_date", lambda v: v["due_date"], dated=True),
    Field("total_amount", lambda v: v["total_amount"], numeric=True),
)
_INVESTMENT_FIELDS = (
    Field("id", lambda v: v["id"]),
    Field("type", lambda v: v["type"]),
    Field("subtype", lambda v: v["subtype"]),
)
_INVESTMENT_TRANSACTION_FIELDS = (
    Field("id", lambda v: v["id"]),
    Field("investment", lambda v: v["investment_id"]),
    Field("type", lambda v: v["type"]),
    Field("value_date", lambda v: v["value_date"], dated=True),
)


@api.get("/owners/")
def owners() -> Response:
    emulator = current_emulator()
    items = [o for link in _scoped_links() for o in emulator.data(link).owners]
    return _page(apply_filters(items, request.args, _OWNER_FIELDS))


@api.get("/accounts/")
def accounts() -> Response:
    emulator = current_emulator()
    items = [a for link in _scoped_links() for a in emulator.data(link).accounts]
    return _page(apply_filters(items, request.args, _ACCOUNT_FIELDS))


def _require_link() -> None:
    if "link" not in request.args:
        # Required for these resources in Belvo's API (OpenAPI 1.35 ListTransactions; the API reference's
        # bills and Brazil investments lists).
        raise RequestInvalid((ErrorItem("required", "This field is required.", "link"),))


def _listed(kind: str, fields: Sequence[Field]) -> Response:
    emulator = current_emulator()
    items: list[Json] = [i for link in _scoped_links() for i in getattr(emulator.data(link), kind)]
    return _page(apply_filters(items, request.args, fields))


@api.get("/transactions/")
def transactions() -> Response:
    _require_link()
    return _listed("transactions", _TRANSACTION_FIELDS)


@api.get("/bills/")
def bills() -> Response:
    _require_link()
    return _listed("bills", _BILL_FIELDS)


@api.get("/br/investments/")
def investments() -> Response:
    _require_link()
    return _listed("investments", _INVESTMENT_FIELDS)


@api.get("/br/investment-transactions/")
def investment_transactions() -> Response:
    _require_link()
    return _listed("investment_transactions", _INVESTMENT_TRANSACTION_FIELDS)


# -- the POST "retrieve" forms (OpenAPI 1.35 RetrieveAccounts, RetrieveOwners, RetrieveTransactions) ----


def _retrieve_link(body: Mapping[str, Any], problems: list[ErrorItem]) -> Link | None:
    value = body.get("link")
    if value is None:
        problems.append(ErrorItem("required", "This field is required.", "link"))
        return None
    try:
        link_id = str(uuid.UUID(str(value)))
    except ValueError:
        problems.append(ErrorItem("invalid", f"“{value}” is not a valid UUID.", "link"))
        return None
    link = current_emulator().state.link(link_id)
    if link is None:
        problems.append(
            ErrorItem("does_not_exist", f'Invalid pk "{link_id}" - object does not exist.', "link")
        )
    elif link.status != "valid":
        problems.append(ErrorItem("invalid_link", "The link is invalid; it cannot be used to retrieve data."))
    return link


def _save_data(body: Mapping[str, Any], problems: list[ErrorItem]) -> bool:
    value = body.get("save_data", True)
    if value is None:  # the Node SDK sends its undefined options as absent, a form as ""
        return True
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", ""):
        return value.lower() in ("true", "1", "")
    if not isinstance(value, bool):
        problems.append(ErrorItem("invalid", "Must be a valid boolean.", "save_data"))
        return True
    return value


def _retrieved(items: Sequence[Json], save_data: bool) -> Response:
    response = jsonify([shape(item, request.args) for item in items])
    response.status_code = 201 if save_data else 200
    return response


def _retrieve(kind: Literal["accounts", "owners"]) -> Response:
    body = _json_body()
    problems: list[ErrorItem] = []
    link = _retrieve_link(body, problems)
    save_data = _save_data(body, problems)
    if problems or link is None:
        raise RequestInvalid(tuple(problems))
    return _retrieved(getattr(current_emulator().data(link), kind), save_data)


@api.post("/accounts/")
def retrieve_accounts() -> Response:
    return _retrieve("accounts")


@api.post("/owners/")
def retrieve_owners() -> Response:
    return _retrieve("owners")


def _day(body: Mapping[str, Any], field: str, problems: list[ErrorItem]) -> date | None:
    value = body.get(field)
    if value is None:
        problems.append(ErrorItem("required", "This field is required.", field))
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.append(ErrorItem("invalid", f"Enter a valid date (YYYY-MM-DD), got {value!r}.", field))
        return None


@api.post("/transactions/")
def retrieve_transactions() -> Response:
    """The link's transactions with a ``value_date`` from ``date_from`` to ``date_to`` (both required, in
    order, ``date_to`` not in the future), optionally of one ``account``."""
    body = _json_body()
    problems: list[ErrorItem] = []
    link = _retrieve_link(body, problems)
    save_data = _save_data(body, problems)
    start, end = _day(body, "date_from", problems), _day(body, "date_to", problems)
    today = current_emulator().now().date()
    if start is not None and end is not None and start > end:
        problems.append(ErrorItem("invalid", "date_from cannot be greater than date_to.", "date_from"))
    if end is not None and end > today:
        problems.append(ErrorItem("invalid", "date_to cannot be greater than today's date.", "date_to"))
    account = body.get("account")
    if problems or link is None or start is None or end is None:
        raise RequestInvalid(tuple(problems))
    items = [
        t
        for t in current_emulator().data(link).transactions
        if start <= date.fromisoformat(t["value_date"]) <= end
        and (account is None or t["account"]["id"] == account)
    ]
    return _retrieved(items, save_data)


def _find(kind: str, item_id: str) -> Json:
    emulator = current_emulator()
    for link in emulator.state.links():
        items: tuple[Json, ...] = getattr(emulator.data(link), kind)
        found = next((i for i in items if i["id"] == item_id), None)
        if found is not None:
            return found
    raise NotFound


@api.get("/owners/<item_id>/")
def owner_detail(item_id: str) -> Response:
    return jsonify(_find("owners", item_id))


@api.get("/accounts/<item_id>/")
def account_detail(item_id: str) -> Response:
    return jsonify(_find("accounts", item_id))


@api.get("/transactions/<item_id>/")
def transaction_detail(item_id: str) -> Response:
    return jsonify(_find("transactions", item_id))


@api.get("/bills/<item_id>/")
def bill_detail(item_id: str) -> Response:
    return jsonify(_find("bills", item_id))


@api.get("/br/investments/<item_id>/")
def investment_detail(item_id: str) -> Response:
    return jsonify(_find("investments", item_id))


@api.get("/br/investment-transactions/<item_id>/")
def investment_transaction_detail(item_id: str) -> Response:
    return jsonify(_find("investment_transactions", item_id))


def consent_status(consent: ConsentGrant, now: datetime) -> str:
    """Belvo's consent ``status``; a revoked consent is Open Finance Brasil's ``REJECTED``."""
    if consent.revoked_at is not None:
        return "REJECTED"
    if consent.expires_at is not None and consent.expires_at <= now:
        return "EXPIRED"
    return "AUTHORISED"


def consent_json(link: Link, now: datetime) -> Json:
    """The Open Finance consent behind ``link`` (fields of facts file 4.5)."""
    consent = link.consent
    business = any(i.type == "CNPJ" for i in link.holder)
    register = (
        ["CUSTOMERS_BUSINESS_IDENTIFICATIONS_READ", "CUSTOMERS_BUSINESS_ADITTIONALINFO_READ"]
        if business
        else ["CUSTOMERS_PERSONAL_IDENTIFICATIONS_READ", "CUSTOMERS_PERSONAL_ADITTIONALINFO_READ"]
    )  # Open Finance Brasil's own spelling of ADITTIONALINFO
    cpf = next((i.number for i in link.holder if i.type == "CPF"), None)
    return {
        "id": consent.id,
        "display_name": INSTITUTIONS[link.institution].display_name,
        "document_number": cpf,
        "belvo_institution_name": link.institution,
        "expired_at": iso(consent.expires_at) if consent.expires_at else None,
        "undefined_consent_expiration": consent.expires_at is None,
        "created_at": iso(consent.created_at),
        "status": consent_status(consent, now),
        "permissions": {"REGISTER": register, **_PERMISSIONS},
    }


@api.get("/consents/")
def consents() -> Response:
    document = request.args.get("user_document")
    if not document:
        raise RequestInvalid((ErrorItem("required", "This field is required.", "user_document"),))
    emulator = current_emulator()
    now = emulator.now()
    items = [
        consent_json(link, now)
        for link in emulator.state.links()
        if any(i.number == document for i in link.holder)
    ]
    return _page(items)


@api.get("/consents/<consent_id>/")
def consent_detail(consent_id: str) -> Response:
    emulator = current_emulator()
    link = next((k for k in emulator.state.links() if k.consent.id == consent_id), None)
    if link is None:
        raise NotFound
    return jsonify(consent_json(link, emulator.now()))


def institution_json(institution: Institution) -> Json:
    """An institution in the shape of OpenAPI 1.35 ``Institution``."""
    return {
        "id": institution.id,
        "name": institution.code,
        "type": "bank",
        "website": institution.website,
        "display_name": institution.display_name,
        "country_codes": ["BR"],
        "primary_color": institution.primary_color,
        "logo": None,
        "icon_logo": None,
        "text_logo": None,
        "form_fields": [],
        "features": [],
        "resources": list(institution.resources),
        "integration_type": "openbanking",
        "status": institution.status,
    }


_INSTITUTION_FIELDS = (
    Field("name", lambda v: v["name"]),
    Field("type", lambda v: v["type"]),
    Field("status", lambda v: v["status"]),
    Field("display_name", lambda v: v["display_name"]),
    Field("website", lambda v: v["website"]),
    Field("country_code", lambda v: "BR"),
)


@api.get("/institutions/")
def institutions() -> Response:
    items = [institution_json(i) for i in INSTITUTIONS.values()]
    items = apply_filters(items, request.args, _INSTITUTION_FIELDS)
    if needed := request.args.get("resources__allin"):
        items = [i for i in items if set(needed.split(",")) <= set(i["resources"])]
    return _page(items)


@api.get("/institutions/<int:institution_id>/")
def institution_detail(institution_id: int) -> Response:
    found = next((i for i in INSTITUTIONS.values() if i.id == institution_id), None)
    if found is None:
        raise NotFound
    return jsonify(institution_json(found))
