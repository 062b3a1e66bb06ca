"""Open Finance consents of the emulated links: moving them through their life and telling the backend.

Belvo sends consent webhooks for recurrent links only (https://developers.belvo.com/docs/webhook-consents),
with ``data`` ``{consent_id, consent_due_date, action: "renew", institution, institution_display_name,
institution_icon_logo}`` (``consent_due_date`` left out once expired). Belvo documents no ``data`` for
``openfinance_consent_expiration_changed`` and no webhook at all for a revocation: the emulator sends the
expiry change with the same ``data`` and the new due date when a consent is renewed, and
``openfinance_consent_revoked`` (its own name) when one is revoked.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal

from emulator.app import Emulator
from emulator.errors import ErrorItem, NotFound, RequestInvalid
from emulator.institutions import INSTITUTIONS
from emulator.state import Link
from emulator.webhooks import Json, webhook

#: How long before its due date Belvo says a consent is about to expire ("within 7 days").
ABOUT_TO_EXPIRE = timedelta(days=7)
ConsentState = Literal["about_to_expire", "expired"]


def consent_data(link: Link, icon_url: str, *, with_due_date: bool = True) -> Json:
    """A consent webhook's ``data`` for ``link``; ``consent_due_date`` in Belvo's millisecond format."""
    data: dict[str, Any] = {"consent_id": link.consent.id}
    if with_due_date:
        due = link.consent.expires_at
        data["consent_due_date"] = due.strftime("%Y-%m-%dT%H:%M:%S.000Z") if due else None
    return {
        **data,
        "action": "renew",
        "institution": link.institution,
        "institution_display_name": INSTITUTIONS[link.institution].display_name,
        "institution_icon_logo": icon_url,
    }


def _recurrent_link(emulator: Emulator, link_id: str) -> Link:
    link = emulator.state.link(link_id)
    if link is None:
        raise NotFound(f"No link {link_id!r}.")
    if link.access_mode != "recurrent":
        raise RequestInvalid(
            (
                ErrorItem(
                    "invalid",
                    "Belvo sends consent webhooks for recurrent links only; this link is single.",
                    "link_id",
                ),
            )
        )
    return link


def _consent_webhook(link: Link, code: str, data: Json) -> Json:
    return webhook(link.id, link.external_id, "CONSENT", code, data, str(uuid.uuid4()), "recurrent_update")


def move_consent(emulator: Emulator, link_id: str, state: ConsentState, icon_url: str) -> tuple[Link, Json]:
    """Make the consent of ``link_id`` about to expire (due in 7 days) or expired (due now), as months
    passing would, and return the updated link and the webhook Belvo would send."""
    link = _recurrent_link(emulator, link_id)
    now = emulator.now()
    due = now + ABOUT_TO_EXPIRE if state == "about_to_expire" else now
    moved = emulator.state.update_link(
        link.id, lambda old: replace(old, consent=replace(old.consent, expires_at=due, revoked_at=None))
    )
    assert moved is not None  # found above; links are deleted only through the API
    code = f"openfinance_consent_{state}"
    return moved, _consent_webhook(
        moved, code, consent_data(moved, icon_url, with_due_date=state != "expired")
    )


def renew_consent(emulator: Emulator, link: Link, days: int, icon_url: str) -> tuple[Link, Json]:
    """The user renewed in My Belvo Portal: a new term of ``days`` from now."""
    due = emulator.now() + timedelta(days=days)
    renewed = emulator.state.update_link(
        link.id,
        lambda old: replace(
            old, status="valid", consent=replace(old.consent, expires_at=due, revoked_at=None)
        ),
    )
    if renewed is None:
        raise NotFound(f"No link {link.id!r}.")
    return renewed, _consent_webhook(
        renewed, "openfinance_consent_expiration_changed", consent_data(renewed, icon_url)
    )


def revoke_consent(emulator: Emulator, link: Link, icon_url: str) -> tuple[Link, Json]:
    """The user revoked in My Belvo Portal: the consent is gone and the link stops updating."""
    now = emulator.now()
    revoked = emulator.state.update_link(
        link.id, lambda old: replace(old, status="invalid", consent=replace(old.consent, revoked_at=now))
    )
    if revoked is None:
        raise NotFound(f"No link {link.id!r}.")
    return revoked, _consent_webhook(
        revoked, "openfinance_consent_revoked", consent_data(revoked, icon_url, with_due_date=False)
    )


def holder_document(link: Link) -> str | None:
    """The CPF of whoever consented (My Belvo Portal lists a person's consents by it)."""
    return next((i.number for i in link.holder if i.type == "CPF"), None)


def is_active(link: Link, now: datetime) -> bool:
    consent = link.consent
    return consent.revoked_at is None and (consent.expires_at is None or consent.expires_at > now)
