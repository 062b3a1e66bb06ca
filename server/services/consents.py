"""Open Finance consents: My Belvo Portal sessions, renewal, and the consent state of each link.

A Brazilian Open Finance consent lasts 3 to 12 months; when it expires the link stops updating and only
the user can renew it, in My Belvo Portal. Belvo's "My Belvo Portal" page (https://developers.belvo.com/)
prescribes a ``consent_management`` token, the portal URL ``<portal>?access_token=…`` for the user's own
consents, and the renew mode ``…&link_id=…&consent_id=…&institution=…&action=renew`` built from the
consent webhook's values. The consent webhooks (https://developers.belvo.com/docs/webhook-consents) keep
each link's ``consent`` current (docs/contract.md section 7).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from server.belvo import BelvoClient, BelvoError, WidgetToken, as_api_error
from server.clock import isoformat_z
from server.config import Settings
from server.errors import Conflict
from server.models import Link
from server.ofda import Consent, Identification, PortalTokenRequest, PortalWidget

log = logging.getLogger(__name__)


class ConsentStatus(StrEnum):
    ACTIVE = "active"
    ABOUT_TO_EXPIRE = "about_to_expire"
    EXPIRED = "expired"
    REVOKED = "revoked"


class ResourcesIssue(StrEnum):
    """What Belvo reported about the consent's resources (``openfinance_consent_with_…_resources``)."""

    UNRECOVERABLE = "unrecoverable"
    TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"


@dataclass(frozen=True)
class ConsentChange:
    """What a consent webhook says: a new status, or an issue with the consent's resources."""

    status: ConsentStatus | None = None
    resources_issue: ResourcesIssue | None = None


#: Every consent ``webhook_code`` Belvo documents, both spellings of the expiry (its My Belvo Portal page
#: says ``consent_expired``, its webhook page ``openfinance_consent_expired``).
#: ``openfinance_consent_revoked`` is not Belvo's: no revocation webhook is documented, so the emulator's
#: portal sends this one when a user revokes, and a revocation is also seen by the link becoming invalid.
CONSENT_WEBHOOKS: Final[Mapping[str, ConsentChange]] = {
    "openfinance_consent_about_to_expire": ConsentChange(ConsentStatus.ABOUT_TO_EXPIRE),
    "consent_about_to_expire": ConsentChange(ConsentStatus.ABOUT_TO_EXPIRE),
    "openfinance_consent_expired": ConsentChange(ConsentStatus.EXPIRED),
    "consent_expired": ConsentChange(ConsentStatus.EXPIRED),
    # The user renewed (or the bank changed the term): the consent runs again until its new due date.
    "openfinance_consent_expiration_changed": ConsentChange(ConsentStatus.ACTIVE),
    "openfinance_consent_with_unrecoverable_resources": ConsentChange(
        resources_issue=ResourcesIssue.UNRECOVERABLE
    ),
    "openfinance_consent_with_temporarily_unavailable_resources": ConsentChange(
        resources_issue=ResourcesIssue.TEMPORARILY_UNAVAILABLE
    ),
    "openfinance_consent_revoked": ConsentChange(ConsentStatus.REVOKED),
}
#: What the webhook's ``data`` may carry that the link's consent keeps (and the renew URL needs).
_KEPT: Final = ("consent_id", "institution", "institution_display_name", "institution_icon_logo")
_RENEWABLE: Final = frozenset({ConsentStatus.ACTIVE, ConsentStatus.ABOUT_TO_EXPIRE, ConsentStatus.EXPIRED})


def changed_consent(
    previous: Mapping[str, Any] | None, change: ConsentChange, data: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """The link's ``consent`` after a consent webhook (docs/contract.md section 7).

    >>> from datetime import UTC
    >>> moment = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    >>> soon = changed_consent(None, CONSENT_WEBHOOKS["openfinance_consent_about_to_expire"],
    ...     {"consent_id": "c-1", "consent_due_date": "2026-12-13T10:00:00.000Z", "action": "renew"}, moment)
    >>> soon["status"], soon["due_date"], soon["consent_id"], "action" in soon
    ('about_to_expire', '2026-12-13T10:00:00.000Z', 'c-1', False)
    >>> changed_consent(soon, CONSENT_WEBHOOKS["consent_expired"], {}, moment)["due_date"]
    '2026-12-13T10:00:00.000Z'
    """
    before = dict(previous or {})
    kept = {key: data[key] for key in _KEPT if isinstance(data.get(key), str)}
    due_date = data.get("consent_due_date")
    status = change.status or ConsentStatus(before.get("status", ConsentStatus.ACTIVE))
    issue = before.get("resources_issue")
    if change.resources_issue is not None:
        issue = change.resources_issue.value
    elif change.status is ConsentStatus.ACTIVE:
        issue = None  # a renewed consent starts over
    return {
        "status": status.value,
        "consent_id": before.get("consent_id"),
        "due_date": due_date if isinstance(due_date, str) else before.get("due_date"),
        "institution": before.get("institution"),
        "institution_display_name": before.get("institution_display_name"),
        "institution_icon_logo": before.get("institution_icon_logo"),
        **kept,
        "resources_issue": issue,
        "updated_at": isoformat_z(now),
    }


@dataclass(frozen=True)
class PortalSession:
    """A My Belvo Portal URL (it carries an access token: answered to its user only, never logged)."""

    url: str
    expires_at: datetime


def open_portal(
    client: BelvoClient, config: Settings, identification: Sequence[Identification]
) -> PortalSession:
    """A ``consent_management`` token for this person, and the customised portal URL that lists their
    consents."""
    token = _portal_token(client, config, identification)
    return PortalSession(_portal_url(config.portal_url, {"access_token": token.access}), token.expires_at)


def renew_link_consent(
    client: BelvoClient, config: Settings, link: Link, identification: Sequence[Identification]
) -> PortalSession:
    """The portal in renew mode for ``link``'s consent, from the values Belvo's consent webhooks gave;
    ``409 consent_not_renewable`` before any (or after a revocation: a revoked consent is gone, and the
    user links the bank again instead)."""
    consent = link.consent or {}
    status = consent.get("status")
    if status not in _RENEWABLE or not consent.get("consent_id"):
        raise Conflict(
            "This link has no consent to renew yet: Belvo has not reported one"
            if not consent
            else f"This link's consent is {status}; connect the bank again instead",
            code="consent_not_renewable",
        )
    token = _portal_token(client, config, identification)
    params = {
        "access_token": token.access,
        "link_id": link.id,
        "consent_id": consent["consent_id"],
        "institution": consent.get("institution") or link.institution,
        "institution_display_name": consent.get("institution_display_name") or "",
        "institution_icon_logo": consent.get("institution_icon_logo") or "",
        "action": "renew",
    }
    return PortalSession(_portal_url(config.portal_url, params), token.expires_at)


def _portal_token(
    client: BelvoClient, config: Settings, identification: Sequence[Identification]
) -> WidgetToken:
    request = PortalTokenRequest(
        widget=PortalWidget(
            consent=Consent(
                terms_and_conditions_url=config.widget.terms_url,
                permissions=config.widget.permissions,
                identification_info=tuple(identification),
            )
        )
    )
    try:
        token = client.create_widget_token(request.payload())
    except BelvoError as exc:
        raise as_api_error(exc) from exc
    log.info("portal token created", extra={"expires_at": isoformat_z(token.expires_at)})
    return token


def _portal_url(base_url: str, params: Mapping[str, str]) -> str:
    separator = "&" if urlsplit(base_url).query else "?"
    return f"{base_url}{separator}{urlencode(params)}"
