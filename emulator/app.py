"""The emulator's Flask app: its factory, Belvo's error array for every failure and fault injection.

``create_app`` never reads the environment and never touches ``server``: the backend mounts the app with
werkzeug's ``DispatcherMiddleware`` (at ``/sandbox``) and every URL the emulator writes is built from the
request, so it is right at any mount point and behind any host name.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from emulator.api import api
from emulator.config import EmulatorConfig
from emulator.control import control
from emulator.core import EXTENSION, Emulator, current_emulator
from emulator.errors import BelvoApiError, ErrorItem, new_request_id
from emulator.portal import portal
from emulator.widget import widget


def belvo_error_response(error: BelvoApiError) -> Response:
    response = jsonify(error.body(new_request_id()))
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="api"'
    return response


def _is_json_path(path: str) -> bool:
    return path.startswith(("/api/", "/_control/")) or path == "/api"


def _http_error(error: HTTPException) -> Response | HTTPException:
    """404/405/415... on API and control paths answer Belvo's error array; widget pages keep HTML."""
    if not _is_json_path(request.path):
        return error
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.code or 0, "invalid")
    return belvo_error_response(BelvoApiError(error.code or 400, (ErrorItem(code, error.description or ""),)))


def _inject_faults() -> Response | None:
    """Apply the first live fault rule matching this path (control paths are never faulted)."""
    if request.path.startswith("/_control/"):
        return None
    rule = current_emulator().faults.take(request.path)
    if rule is None:
        return None
    if rule.delay_ms:
        time.sleep(rule.delay_ms / 1000)
    error = rule.error()
    return belvo_error_response(error) if error else None


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build an emulator app. Every config key is optional:

    ``EMULATOR_SECRET_ID`` / ``EMULATOR_SECRET_PASSWORD`` (the secret keys the API accepts),
    ``EMULATOR_SIGNING_KEY`` (HS512 key; random, kept in the state), ``EMULATOR_STATE_PATH`` (the SQLite
    file shared by every process and restart; in memory when unset), ``EMULATOR_ACCESS_TTL_SECONDS`` (600),
    ``EMULATOR_WEBHOOK_URL`` (no webhooks when unset), ``EMULATOR_WEBHOOK_AUTH`` (the ``Authorization``
    value sent), ``EMULATOR_WEBHOOK_SESSION`` (a ``requests.Session`` for deliveries),
    ``EMULATOR_WEBHOOK_RETRY_SCHEDULE`` (seconds between attempts), ``EMULATOR_WEBHOOK_DUPLICATES``
    (deliver every webhook twice), ``EMULATOR_NOW`` (a callable returning an aware datetime).

    >>> app = create_app({"EMULATOR_ACCESS_TTL_SECONDS": 60})
    >>> app.test_client().get("/api/").status_code
    401
    """
    app = Flask("emulator", static_folder="static", static_url_path="/widget/static")
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep Belvo's field order
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = Emulator(EmulatorConfig.from_mapping(config))
    app.before_request(_inject_faults)
    app.register_error_handler(BelvoApiError, belvo_error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_blueprint(api)
    app.register_blueprint(widget)
    app.register_blueprint(control)
    app.register_blueprint(portal)
    return app
