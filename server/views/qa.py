"""``/qa``: the page mobile QA opens on a laptop during a test session (on in emulator mode, off by
default with real Belvo keys; ``QA_PAGE`` decides).

It creates a widget session for a test user and shows the widget URL as a QR code, so a phone's camera
opens it; with App2App on (``APPLICATION_LINK``), a second QR code is the application link as the bank
sends the user back to it, to fire the app's "back from the bank" path on a phone (a cold start too); it
lists a test user's links with their consents, moves a consent to "about to expire" or "expired" through
the emulator's control endpoint, and shows a link's renew URL (My Belvo Portal) as a QR code; and it
lists the deeplink fixture corpus with a QR code per deeplink (to fire it on a phone)
and a button that posts it to ``/v1/deeplinks/parse`` and shows the typed result beside the expected one.

The page acts without a bearer token, for whatever test user is typed in: that is why it only exists in
development.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, Response, abort, render_template, request
from marshmallow import ValidationError

from deeplinks.corpus import load_fixtures
from deeplinks.qr import QrTooLongError, qr_svg
from server.belvo import belvo_client
from server.clock import now
from server.errors import ApiError, Unprocessable, flatten_messages
from server.schemas import PortalRequestSchema, WidgetSessionRequestSchema
from server.services import consents, links, sessions
from server.settings import settings
from server.storage import database, get_session

# A plain Flask blueprint: the page is a tool, not part of the API or its OpenAPI document.
bp = Blueprint("qa", __name__, url_prefix="/qa")

# The Belvo documentation's own example person (docs/belvo.md §1.2).
DEFAULT_FORM = {"user_id": "qa-tester", "cpf": "76109277673", "name": "Ralph Bragg", "institution": ""}
NO_STORE = {"Cache-Control": "no-store"}


def _fixtures_by_name() -> dict[str, Any]:
    return {fixture.name: fixture for fixture in load_fixtures()}


@bp.get("")
def page() -> tuple[str, int, dict[str, str]]:
    return _render(DEFAULT_FORM), 200, NO_STORE


@bp.post("/sessions")
def create_session() -> tuple[str, int, dict[str, str]]:
    form = {key: request.form.get(key, "").strip() for key in DEFAULT_FORM}
    body: dict[str, Any] = {
        "identification_info": [{"type": "CPF", "number": form["cpf"], "name": form["name"]}]
    }
    if form["institution"]:
        body["institutions"] = [form["institution"]]
    try:
        session_request = WidgetSessionRequestSchema().load(body)
        moment = now()
        session = sessions.create_session(
            get_session,
            database(),
            belvo_client(),
            settings(),
            user_id=form["user_id"] or "qa-tester",
            request=session_request,
            now=moment,
        )
    except ValidationError as exc:
        errors = [f"{d.field}: {d.message}" if d.field else d.message for d in flatten_messages(exc.messages)]
        return _render(form, errors=errors), 422, NO_STORE
    except ApiError as exc:
        return _render(form, errors=[f"{exc.code}: {exc}"]), exc.status, NO_STORE
    created = sessions.created_view(session, moment)
    back = _back_from_the_bank(created)
    return (
        _render(
            form,
            session=created,
            session_qr=qr_svg(created["widget_url"]),
            back_from_the_bank=back,
            back_from_the_bank_qr=qr_svg(back) if back else None,
        ),
        201,
        NO_STORE,
    )


def _back_from_the_bank(created: dict[str, Any]) -> str | None:
    """The application link as the bank sends the user back to it, for this session's access token
    (https://developers.belvo.com/docs/hosted-widget-app2app-ofda); None without App2App. The consent
    id is made up: the emulator's widget ends such a return as the bank's refusal (``exit`` with
    ``login_error``), after the app has resumed; the consent of a real trip through the bank is on the
    page the application link shows in a browser."""
    link = created["callback_urls"].get("application_link")
    if link is None:
        return None
    token = dict(parse_qsl(urlsplit(created["widget_url"]).query))["access_token"]
    query = urlencode({"access_token": token, "consent_id": str(uuid.uuid4()), "locale": "pt"})
    return f"{link}?{query}"


@bp.post("/consents")
def consents_of_user() -> tuple[str, int, dict[str, str]]:
    """The test user's links and their consents; with ``link_id``, that link's renew URL too."""
    form = {key: request.form.get(key, "").strip() for key in DEFAULT_FORM}
    user_id = form["user_id"] or DEFAULT_FORM["user_id"]
    db = get_session()
    context: dict[str, Any] = {"links": [links.link_view(link) for link in links.list_links(db, user_id)]}
    link_id = request.form.get("link_id")
    if link_id:
        try:
            identification = PortalRequestSchema().load(
                {"identification_info": [{"type": "CPF", "number": form["cpf"], "name": form["name"]}]}
            )
            renewal = consents.renew_link_consent(
                belvo_client(), settings(), links.owned_link(db, link_id, user_id), identification
            )
        except ValidationError as exc:
            errors = [
                f"{d.field}: {d.message}" if d.field else d.message for d in flatten_messages(exc.messages)
            ]
            return _render(form, errors=errors, **context), 422, NO_STORE
        except ApiError as exc:
            return _render(form, errors=[f"{exc.code}: {exc}"], **context), exc.status, NO_STORE
        context.update(renew_link=link_id, renew_url=renewal.url, renew_qr=qr_svg(renewal.url))
    return _render(form, **context), 200, NO_STORE


@bp.get("/fixtures/<name>.svg")
def fixture_qr(name: str) -> Response:
    fixture = _fixtures_by_name().get(name)
    if fixture is None:
        abort(404)
    try:
        return Response(qr_svg(fixture.url), mimetype="image/svg+xml")
    except QrTooLongError:
        raise Unprocessable(
            f"{fixture.name} is too long for a QR code; replay it with `deeplinks replay` instead",
            code="qr_too_long",
        ) from None


def _render(form: dict[str, str], **context: Any) -> str:
    config = settings()
    # The emulator's control endpoint, which moves a consent at once (emulator mode only).
    control = f"{config.belvo_api_url}/_control/consents" if config.emulator_mode else None
    return render_template("qa.html", form=form, fixtures=load_fixtures(), consent_control=control, **context)
