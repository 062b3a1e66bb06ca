"""My Belvo Portal at ``/portal/``: where a person sees, renews and revokes their Open Finance consents.

Belvo's "My Belvo Portal" page (https://developers.belvo.com/) describes three ways in, all served here:
``?mode=landing`` (the public portal: here the person types their CPF, standing in for the portal's own
sign-in), ``?access_token=…`` (a ``consent_management`` token: that person's consents), and the renew
mode ``?access_token=…&link_id=…&consent_id=…&action=renew`` (one consent, to renew). Renewing and
revoking change the emulated consent and send the consent webhook :mod:`emulator.consents` describes.

The token travels in the first URL only; the forms post it back in their body, never in a URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

from flask import Blueprint, abort, g, render_template, request, url_for
from flask import Response as Page
from werkzeug.wrappers import Response

from brdocs import DocumentError, mask_document, normalise_document
from emulator.app import current_emulator
from emulator.consents import holder_document, is_active, renew_consent, revoke_consent
from emulator.institutions import INSTITUTIONS
from emulator.pages import DURATIONS, secure
from emulator.state import Link
from emulator.tokens import PORTAL_FEATURE, RejectedToken, check_access_token

portal = Blueprint("portal", __name__, url_prefix="/portal")
secure(portal)
_RENEW_DAYS = DURATIONS[-1][0]  # what the renew form preselects: 12 months


def _render(status: int = 200, **context: Any) -> Response:
    html = render_template(
        "portal/portal.html",
        nonce=g.csp_nonce,
        theme_variables=(),
        dark=False,
        branding=None,
        sid=None,
        durations=DURATIONS,
        renew_days=_RENEW_DAYS,
        mask=mask_document,
        **context,
    )
    return Page(html, status=status, mimetype="text/html")


def _refuse(status: int, message: str) -> NoReturn:
    abort(_render(status, error=message, consents=(), document=None))


def _document_from(values: Any) -> tuple[str, dict[str, str]]:
    """Whose consents: the CPF of a ``consent_management`` token, or the one typed on the landing page,
    and the form fields that carry it to the next request."""
    emulator = current_emulator()
    token = values.get("access_token")
    if token:
        checked = check_access_token(
            emulator.state, token, emulator.config.signing_key, emulator.now(), feature=PORTAL_FEATURE
        )
        if isinstance(checked, RejectedToken):
            _refuse(401, "Este link do portal expirou ou não é válido. Volte ao aplicativo e abra de novo.")
        document = checked.token.config.document("CPF")
        if document is None:  # the token request requires one CPF
            _refuse(401, "Este link do portal não identifica ninguém.")
        return document.number, {"access_token": token}
    try:
        number = normalise_document("CPF", values.get("document", ""))
    except DocumentError:
        _refuse(400, "Informe um CPF válido.")
    return number, {"document": number}


def _consents(document: str) -> list[Link]:
    return [link for link in current_emulator().state.links() if holder_document(link) == document]


def _view(link: Link) -> dict[str, Any]:
    now = current_emulator().now()
    consent = link.consent
    if consent.revoked_at is not None:
        state, label = "revoked", "Revogado"
    elif not is_active(link, now):
        state, label = "expired", "Expirado"
    else:
        state, label = "active", "Ativo"
    return {
        "link": link,
        "institution": INSTITUTIONS[link.institution],
        "state": state,
        "label": label,
        "due": consent.expires_at.strftime("%d/%m/%Y") if consent.expires_at else "Indeterminado",
        "renewable": state != "revoked" and link.access_mode == "recurrent",
    }


def _page(document: str, carry: dict[str, str], only: str | None = None, **context: Any) -> Response:
    links: Sequence[Link] = _consents(document)
    if only is not None:
        links = [link for link in links if link.id == only]
        if not links:
            _refuse(404, "Este consentimento não foi encontrado.")
    return _render(
        consents=[_view(link) for link in links],
        document=document,
        carry=carry,
        renew_mode=only is not None,
        **context,
    )


@portal.get("/")
def home() -> Response:
    if request.args.get("mode") == "landing" or not (
        request.args.get("access_token") or "document" in request.args
    ):
        return _render(landing=True, consents=(), document=None)
    document, carry = _document_from(request.args)
    only = request.args.get("link_id") if request.args.get("action") == "renew" else None
    return _page(document, carry, only=only)


def _owned(document: str) -> Link:
    link_id = request.form.get("link_id", "")
    link = next((link for link in _consents(document) if link.id == link_id), None)
    if link is None:
        _refuse(404, "Este consentimento não foi encontrado.")
    return link


@portal.post("/renew")
def renew() -> Response:
    document, carry = _document_from(request.form)
    link = _owned(document)
    raw = request.form.get("consent_duration", "")
    days = int(raw) if raw.isdigit() and int(raw) in dict(DURATIONS) else _RENEW_DAYS
    emulator = current_emulator()
    _, payload = renew_consent(emulator, link, days, _icon_url())
    emulator.webhooks.enqueue(payload)
    return _page(document, carry, notice="Consentimento renovado.")


@portal.post("/revoke")
def revoke() -> Response:
    document, carry = _document_from(request.form)
    link = _owned(document)
    emulator = current_emulator()
    _, payload = revoke_consent(emulator, link, _icon_url())
    emulator.webhooks.enqueue(payload)
    return _page(document, carry, notice="Consentimento revogado.")


def _icon_url() -> str:
    return url_for("static", filename="institution.svg", _external=True)
