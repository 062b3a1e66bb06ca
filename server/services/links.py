"""The user's links: stored only once Belvo vouches for them, kept current by webhooks, read through Belvo.

A link id is not proof of anything (docs/security.md A5): an app can be handed any link id in a deeplink. So
a link is attached to a user only after ``GET /api/links/{id}/`` with our secret keys shows that its
``external_id`` is the one we gave Belvo for that user. The data endpoints then proxy Belvo's list
endpoints for the owner only, once the resource's ``historical_update`` webhook has arrived (Belvo's
checklist: "only send GETs after the webhook arrives", docs/belvo.md §4.1).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from deeplinks.events import is_link_id
from server.belvo import BelvoBadResponse, BelvoClient, BelvoError, BelvoNotFound, Resource, as_api_error
from server.clock import isoformat_z
from server.errors import ApiError, Conflict, Forbidden, NotFound
from server.models import Link
from server.storage import insert_ignore

log = logging.getLogger(__name__)

#: Our data endpoints (``/v1/links/{id}/<resource>``) and the webhook_type that announces each one.
DATA_RESOURCES: Final[Mapping[Resource, str]] = {
    "accounts": "ACCOUNTS",
    "owners": "OWNERS",
    "transactions": "TRANSACTIONS",
    "bills": "BILLS",
    "investments": "INVESTMENTS",
    "investment-transactions": "INVESTMENT_TRANSACTIONS",
}

PENDING: Final = "pending"
READY: Final = "ready"

#: A link's ``status`` at Belvo (Belvo's link object, https://developers.belvo.com/reference/links).
LINK_STATUSES: Final = ("valid", "invalid", "unconfirmed", "token_required")


class LinkNotOwned(Forbidden):
    """403 ``link_not_owned``: one message whatever the reason, so an attacker learns nothing about
    someone else's link (whether it exists, whose it is, where it was made)."""

    default_code = "link_not_owned"

    def __init__(self) -> None:
        super().__init__("The link was not created through this widget session for this user", field="url")


@dataclass(frozen=True)
class BelvoLink:
    """What Belvo says about a link (docs/belvo.md §4.4), reduced to what we check and keep.

    >>> link = BelvoLink.from_belvo({"id": "CB65F82C-DC93-4D3E-8270-9A27528397F5",
    ...     "institution": "ofmockbank_br_retail", "external_id": "u_1", "access_mode": "single",
    ...     "status": "valid", "fetch_resources": ["ACCOUNTS", "OWNERS"],
    ...     "created_at": "2026-11-21T12:00:00.5Z"})
    >>> link.id, link.fetch_resources, link.created_at.isoformat()
    ('cb65f82c-dc93-4d3e-8270-9a27528397f5', ('ACCOUNTS', 'OWNERS'), '2026-11-21T12:00:00.500000+00:00')
    """

    id: str
    institution: str
    external_id: str | None
    institution_user_id: str | None
    access_mode: str | None
    status: str | None
    fetch_resources: tuple[str, ...]
    created_at: datetime | None

    @classmethod
    def from_belvo(cls, body: Mapping[str, Any]) -> BelvoLink:
        link_id, institution = body.get("id"), _text(body.get("institution"), 128)
        if not is_link_id(link_id) or institution is None:
            raise BelvoBadResponse(
                "expected a link object with a UUID 'id' and an institution code from /api/links/{id}/"
            )
        fetch = body.get("fetch_resources")
        return cls(
            id=link_id.lower(),
            institution=institution,
            external_id=_text(body.get("external_id"), 64),
            institution_user_id=_text(body.get("institution_user_id"), 64),
            access_mode=_text(body.get("access_mode"), 16),
            status=_text(body.get("status"), 32),
            fetch_resources=tuple(r.upper() for r in fetch if isinstance(r, str))
            if isinstance(fetch, list)
            else (),
            created_at=_timestamp(body.get("created_at")),
        )


def _text(value: object, max_length: int) -> str | None:
    """A non-empty string that fits its column (the lengths of ``links``), else None: an external_id
    too long to be ours is as good as none."""
    return value if isinstance(value, str) and 0 < len(value) <= max_length else None


def _timestamp(value: object) -> datetime | None:
    """Belvo's ISO-8601 ``created_at``; None when absent or unreadable (it is a second check only,
    the ``external_id`` match is the binding)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        log.warning("Belvo link created_at is not ISO-8601; skipping the created_at check")
        return None
    return parsed if parsed.tzinfo is not None else None


def fetch_link(client: BelvoClient, link_id: str) -> BelvoLink:
    """The link as Belvo has it; :class:`LinkNotOwned` when Belvo does not know it (we do not tell an
    attacker whether a link id exists), the API error for Belvo's other failures."""
    try:
        return BelvoLink.from_belvo(client.get_link(link_id))
    except BelvoNotFound:
        raise LinkNotOwned() from None
    except BelvoError as exc:
        raise as_api_error(exc) from None


def attach_link(db: Session, link: BelvoLink, user_id: str, session_id: str | None, now: datetime) -> Link:
    """Store a verified ``link`` for ``user_id`` unless it is stored already; return the stored row,
    which the caller must check belongs to ``user_id``. Does not commit.

    Insert-or-ignore on the primary key: ten concurrent identical successes (or a success racing the
    webhook that recovers the same link) store one row.
    """
    insert_ignore(
        db,
        Link,
        {
            "id": link.id,
            "user_id": user_id,
            "external_id": link.external_id or "",
            "session_id": session_id,
            "institution": link.institution,
            "institution_user_id": link.institution_user_id,
            "access_mode": link.access_mode,
            "status": link.status,
            "resources": {name: resource_state(PENDING) for name in link.fetch_resources},
            "consent": None,
            "created_at": now,
            "updated_at": now,
        },
    )
    stored = db.get(Link, link.id, populate_existing=True)
    assert stored is not None  # inserted above, or already there; links are deleted only by their owner
    if stored.user_id == user_id and stored.session_id is None and session_id is not None:
        # Recovered from a webhook first; the app's success names the session it came from.
        stored.session_id = session_id
    return stored


def lock_link(db: Session, link_id: str, now: datetime) -> Link | None:
    """The link row, locked for a read-modify-write of its JSON columns until the transaction ends.

    Writing first takes the row lock on PostgreSQL and the write lock on SQLite before we read, so two
    webhooks for the same link (ACCOUNTS and OWNERS ready at once) cannot overwrite each other's
    ``resources``. ``SELECT ... FOR UPDATE`` would do on PostgreSQL only.
    """
    touched = db.execute(
        update(Link)
        .where(Link.id == link_id)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if touched.rowcount == 0:  # type: ignore[attr-defined]
        return None
    return db.get(Link, link_id, populate_existing=True)


def resource_state(status: str, **changes: Any) -> dict[str, Any]:
    """One entry of ``Link.resources``.

    >>> resource_state("pending")
    {'status': 'pending', 'ready_at': None, 'new_data_at': None, 'totals': {}}
    """
    return {"status": status, "ready_at": None, "new_data_at": None, "totals": {}, **changes}


def owned_link(db: Session, link_id: str, user_id: str) -> Link:
    """The user's link; 404 for a link that is someone else's or does not exist (no enumeration)."""
    # Belvo link ids are UUIDs; anything else cannot be stored, and NUL bytes would upset PostgreSQL.
    link = db.get(Link, link_id.lower()) if is_link_id(link_id) else None
    if link is None or link.user_id != user_id:
        raise NotFound("No such link")
    return link


def list_links(db: Session, user_id: str) -> list[Link]:
    return list(db.scalars(select(Link).where(Link.user_id == user_id).order_by(Link.created_at, Link.id)))


def delete_link(db: Session, client: BelvoClient, link: Link) -> None:
    """Delete at Belvo first (which revokes the Open Finance consent, docs/belvo.md §4.4), then here.

    Belvo's 404 means it is gone already: delete here too. Belvo unreachable: keep our row (the user can
    retry) and answer 503, so we never forget a link Belvo still holds.
    """
    try:
        client.delete_link(link.id)
    except BelvoNotFound:
        log.info("link already gone at Belvo; deleting it locally", extra={"link_id": link.id})
    except BelvoError as exc:
        raise as_api_error(exc) from None
    db.delete(link)
    db.commit()


@dataclass(frozen=True)
class Duplicate:
    """Another link of the user to the same person at the same bank, and what became of it: Belvo's
    link guide asks to avoid duplicated links (each one spends the user's Open Finance operational
    limits), so by default the new link replaces it."""

    link_id: str
    action: Literal["replaced", "kept"]

    def to_dict(self) -> dict[str, str]:
        return {"link_id": self.link_id, "action": self.action}


def settle_duplicates(db: Session, client: BelvoClient, link_id: str, *, replace: bool) -> list[Duplicate]:
    """The user's other links with the same ``institution_user_id`` as ``link_id``: deleted at Belvo
    and here when ``replace`` (which revokes their consents), else kept. A link Belvo could not delete
    now is kept, and said so: the user can still delete it."""
    link = db.get(Link, link_id)
    if link is None or link.institution_user_id is None:
        return []
    others = db.scalars(
        select(Link).where(
            Link.user_id == link.user_id,
            Link.institution_user_id == link.institution_user_id,
            Link.id != link.id,
        )
    ).all()
    settled = []
    for other in others:
        if not replace:
            settled.append(Duplicate(other.id, "kept"))
            continue
        try:
            delete_link(db, client, other)
        except ApiError:
            db.rollback()
            log.warning("duplicate link kept: Belvo did not delete it", extra={"link_id": other.id})
            settled.append(Duplicate(other.id, "kept"))
        else:
            log.info("duplicate link replaced", extra={"link_id": other.id, "by": link.id})
            settled.append(Duplicate(other.id, "replaced"))
    return settled


def link_view(link: Link) -> dict[str, Any]:
    """A link as the API shows it to its owner."""
    return {
        "id": link.id,
        "institution": link.institution,
        "access_mode": link.access_mode,
        "status": link.status,
        "session_id": link.session_id,
        "resources": link.resources,
        "consent": link.consent,
        "created_at": isoformat_z(link.created_at),
        "updated_at": isoformat_z(link.updated_at),
    }


def require_ready(link: Link, resource: Resource) -> None:
    """409 ``resource_not_ready`` until Belvo's ``historical_update`` for the resource has arrived."""
    name = DATA_RESOURCES[resource]
    state = link.resources.get(name)
    if state is not None and state.get("status") == READY:
        return
    if state is None and link.resources:
        why = f"{name} is not among the resources this link fetches"
    else:
        why = f"Belvo has not sent the {name} historical_update webhook yet; try again once it has"
    raise Conflict(f"The link's {resource} are not ready: {why}", code="resource_not_ready")


def fetch_page(
    client: BelvoClient, link: Link, resource: Resource, params: Mapping[str, str]
) -> dict[str, Any]:
    """One page of the link's ``resource`` from Belvo: ``{count, next, previous, results}``, with
    ``next``/``previous`` reduced to the query parameters of our own endpoint (Belvo's URLs are
    useless to the app: they need our secret keys). ``link`` is always ours, never the client's."""
    try:
        page = client.list_page(resource, {**params, "link": link.id})
    except BelvoError as exc:
        raise as_api_error(exc) from None
    return {
        "count": page.get("count"),
        "next": page_params(page.get("next"), params),
        "previous": page_params(page.get("previous"), params),
        "results": page["results"],
    }


def page_params(belvo_url: object, params: Mapping[str, str]) -> dict[str, str] | None:
    """The query of our endpoint for the page Belvo's ``next``/``previous`` URL names: the client's own
    parameters with Belvo's ``page`` (absent on Belvo's first page).

    >>> page_params("https://sandbox.belvo.com/api/accounts/?link=x&page=3&page_size=2", {"page_size": "2"})
    {'page_size': '2', 'page': '3'}
    >>> page_params("https://sandbox.belvo.com/api/accounts/?link=x", {"page": "2", "page_size": "2"})
    {'page_size': '2'}
    >>> page_params(None, {}) is None
    True
    """
    if not isinstance(belvo_url, str) or not belvo_url:
        return None
    page = dict(parse_qsl(urlsplit(belvo_url).query)).get("page")
    ours = {key: value for key, value in params.items() if key != "page"}
    if page is not None:
        if not page.isdigit():
            raise as_api_error(
                BelvoBadResponse(f"expected a page number in Belvo's page URL, got {page[:20]!r}")
            )
        ours["page"] = page
    return ours
