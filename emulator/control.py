"""Test hooks under ``/_control/`` (no authentication: the emulator is a development tool only).

* ``POST/GET/DELETE /_control/faults``: fault injection (docs/contract.md section 5, see
  :mod:`emulator.faults`).
* ``POST /_control/links``: create a link without the widget, e.g. ``{"external_id": "ext-1",
  "institution": "ofmockbank_br_retail", "access_mode": "single", "fetch_resources": ["ACCOUNTS"]}``;
  optional ``identification_info`` (checked as in the token request), ``stale_in``, and
  ``send_webhooks`` (default false) to also send the ``historical_update`` webhooks a widget success
  sends. Answers 201 with the link as ``GET /api/links/{id}/`` shows it.
* ``PATCH /_control/links/{id}``: ``{"status": "invalid"}`` (or ``valid``, ``unconfirmed``,
  ``token_required``) changes the link's status as Belvo would, without any webhook: what a backend
  sees only by asking Belvo. Answers the link.
* ``POST /_control/webhooks``: send one webhook for a link now and answer with every delivery attempt,
  e.g. ``{"link_id": "...", "webhook_type": "CONSENT", "webhook_code": "openfinance_consent_expired",
  "data": {...}}`` (optional ``process_type``, default ``recurrent_update``).
* ``GET /_control/webhooks``: every delivery attempt so far, background ones included.
* ``POST /_control/consents``: ``{"link_id": "...", "state": "about_to_expire"|"expired"}`` moves a
  recurrent link's consent there at once (due in 7 days, or now) and sends the consent webhook Belvo
  would (docs/contract.md section 7), so nobody has to wait months; answers the webhook and its delivery.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal, cast

from flask import Blueprint, Response, jsonify, request, url_for

from emulator import consents
from emulator.core import current_emulator
from emulator.errors import ErrorItem, NotFound, RequestInvalid
from emulator.faults import parse_rule
from emulator.institutions import INSTITUTIONS, OFDA_RESOURCES
from emulator.resources import link_json
from emulator.tokens import parse_identification, parse_stale_in
from emulator.webhooks import webhook

control = Blueprint("control", __name__, url_prefix="/_control")
DEFAULT_FETCH_RESOURCES = ("ACCOUNTS", "OWNERS", "TRANSACTIONS")


def _json_object() -> Mapping[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise RequestInvalid((ErrorItem("parse_error", "JSON parse error: expected a JSON object."),))
    return body


def _string(body: Mapping[str, Any], key: str, problems: list[ErrorItem]) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        problems.append(ErrorItem("required", f"Expected a non-empty string, got {value!r}.", key))
        return ""
    return value


@control.post("/faults")
def add_fault() -> tuple[Response, int]:
    rule = current_emulator().faults.add(parse_rule(request.get_json(silent=True)))
    return jsonify(rule.to_json()), 201


@control.get("/faults")
def list_faults() -> Response:
    return jsonify([rule.to_json() for rule in current_emulator().faults.list()])


@control.delete("/faults")
def clear_faults() -> Response:
    current_emulator().faults.clear()
    return Response(status=204)


@control.post("/links")
def create_link() -> tuple[Response, int]:
    body = _json_object()
    problems: list[ErrorItem] = []
    institution = body.get("institution")
    if institution not in INSTITUTIONS:
        problems.append(
            ErrorItem(
                "invalid_choice",
                f"Expected one of {sorted(INSTITUTIONS)}, got {institution!r}.",
                "institution",
            )
        )
    access_mode = body.get("access_mode", "recurrent")
    if access_mode not in ("single", "recurrent"):
        problems.append(
            ErrorItem(
                "invalid_choice", f'Expected "single" or "recurrent", got {access_mode!r}.', "access_mode"
            )
        )
    external_id = body.get("external_id")
    if external_id is not None and not isinstance(external_id, str):
        problems.append(
            ErrorItem("invalid", f"Expected a string or null, got {external_id!r}.", "external_id")
        )
    fetch_resources = body.get("fetch_resources", list(DEFAULT_FETCH_RESOURCES))
    if not isinstance(fetch_resources, list) or not set(fetch_resources) <= set(OFDA_RESOURCES):
        problems.append(
            ErrorItem(
                "invalid",
                f"Expected a list of {', '.join(OFDA_RESOURCES)}, got {fetch_resources!r}.",
                "fetch_resources",
            )
        )
    if problems:
        raise RequestInvalid(tuple(problems))
    holder = (
        parse_identification(body["identification_info"], "identification_info")
        if "identification_info" in body
        else ()
    )
    emulator = current_emulator()
    link = emulator.create_link(
        institution=cast(str, institution),
        access_mode=cast(Literal["single", "recurrent"], access_mode),
        external_id=external_id,
        fetch_resources=tuple(dict.fromkeys(fetch_resources)),
        stale_in=parse_stale_in(body),
        credentials_storage=None,
        holder=holder,
        consent_days=None,
    )
    if body.get("send_webhooks") is True:
        emulator.send_historical_updates(link)
    return jsonify(link_json(link)), 201


#: A link's statuses at Belvo (Belvo's link object, https://developers.belvo.com/reference/links).
LINK_STATUSES = ("valid", "invalid", "unconfirmed", "token_required")


@control.patch("/links/<link_id>")
def change_link(link_id: str) -> Response:
    status = _json_object().get("status")
    if status not in LINK_STATUSES:
        raise RequestInvalid(
            (
                ErrorItem(
                    "invalid_choice", f"Expected one of {', '.join(LINK_STATUSES)}, got {status!r}.", "status"
                ),
            )
        )
    changed = current_emulator().state.update_link(link_id, lambda old: replace(old, status=status))
    if changed is None:
        raise NotFound(f"No link {link_id!r}.")
    return jsonify(link_json(changed))


@control.post("/webhooks")
def send_webhook() -> Response:
    body = _json_object()
    problems: list[ErrorItem] = []
    link_id = _string(body, "link_id", problems)
    webhook_type = _string(body, "webhook_type", problems)
    webhook_code = _string(body, "webhook_code", problems)
    data = body.get("data", {})
    if not isinstance(data, dict):
        problems.append(ErrorItem("invalid", f"Expected an object, got {data!r}.", "data"))
    process_type = body.get("process_type", "recurrent_update")
    if not isinstance(process_type, str):
        problems.append(ErrorItem("invalid", f"Expected a string, got {process_type!r}.", "process_type"))
    if problems:
        raise RequestInvalid(tuple(problems))
    emulator = current_emulator()
    if emulator.webhooks.url is None:
        raise RequestInvalid(
            (ErrorItem("webhook_not_configured", "EMULATOR_WEBHOOK_URL is not set: nowhere to send."),)
        )
    link = emulator.state.link(link_id)
    if link is None:
        raise NotFound(f"No link {link_id!r}.")
    payload = webhook(
        link.id,
        link.external_id,
        webhook_type,
        webhook_code,
        data,
        request_id=str(uuid.uuid4()),
        process_type=process_type,
    )
    attempts = emulator.webhooks.deliver_now(payload)
    return jsonify(
        {
            "webhook": payload,
            "delivered": any(a.delivered for a in attempts),
            "attempts": [a.to_json() for a in attempts],
        }
    )


@control.post("/consents")
def move_consent() -> Response:
    body = _json_object()
    problems: list[ErrorItem] = []
    link_id = _string(body, "link_id", problems)
    state = body.get("state")
    if state not in ("about_to_expire", "expired"):
        problems.append(
            ErrorItem("invalid_choice", f'Expected "about_to_expire" or "expired", got {state!r}.', "state")
        )
    if problems:
        raise RequestInvalid(tuple(problems))
    emulator = current_emulator()
    link, payload = consents.move_consent(
        emulator,
        link_id,
        cast(consents.ConsentState, state),
        url_for("static", filename="institution.svg", _external=True),
    )
    attempts = emulator.webhooks.deliver_now(payload) if emulator.webhooks.url else ()
    return jsonify(
        {
            "link": link_json(link),
            "webhook": payload,
            "delivered": any(a.delivered for a in attempts),
            "attempts": [a.to_json() for a in attempts],
        }
    )


@control.get("/webhooks")
def list_deliveries() -> Response:
    return jsonify([a.to_json() for a in current_emulator().webhooks.attempts])
