"""The emulator's Flask app and the per-app context its blueprints share.

``create_app`` never reads the environment and never touches ``server``: the backend mounts the app with
werkzeug's ``DispatcherMiddleware`` (at ``/sandbox``) and every URL the emulator writes is built from the
request, so it is right at any mount point and behind any host name.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from emulator.config import EmulatorConfig
from emulator.data import LinkData, generate
from emulator.errors import BelvoApiError, ConfigError, ErrorItem, new_request_id
from emulator.faults import FaultRules
from emulator.state import ConsentGrant, EmulatorState, Identification, Link
from emulator.store import Store
from emulator.webhooks import (
    WebhookDispatcher,
    historical_data,
    historical_update,
    link_deleted,
    new_data_available,
)

EXTENSION = "emulator"


class Emulator:
    """Config, state, webhook dispatcher and fault rules of one emulator app."""

    def __init__(self, config: EmulatorConfig) -> None:
        store = Store(config.state_path)
        # One signing key for every process sharing the store, unless one is configured.
        key = config.signing_key or store.setdefault_meta("signing_key", secrets.token_bytes(64))
        self.config = replace(config, signing_key=key)
        self.state = EmulatorState(store)
        self.faults = FaultRules(store)
        self.webhooks = WebhookDispatcher(
            url=config.webhook_url,
            authorization=config.webhook_auth,
            session=config.webhook_session,
            retry_schedule=config.webhook_retry_schedule,
            duplicates=config.webhook_duplicates,
            now=self.now,
        )
        self._data_lock = threading.Lock()
        self._data: dict[str, LinkData] = {}
        self.now()  # a clock returning naive datetimes fails here, at start-up, not mid-request

    def now(self) -> datetime:
        moment = self.config.now()
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            raise ConfigError(f"EMULATOR_NOW: expected an aware datetime, got {moment!r}")
        return moment

    def data(self, link: Link) -> LinkData:
        """The link's generated data, built once per link."""
        with self._data_lock:
            cached = self._data.get(link.id)
        if cached is None:
            cached = generate(link)
            with self._data_lock:
                self._data[link.id] = cached
        return cached

    def forget(self, link_id: str) -> Link | None:
        with self._data_lock:
            self._data.pop(link_id, None)
        return self.state.delete_link(link_id)

    def create_link(
        self,
        *,
        institution: str,
        access_mode: Literal["single", "recurrent"],
        external_id: str | None,
        fetch_resources: tuple[str, ...],
        stale_in: str | None,
        credentials_storage: str | None,
        holder: tuple[Identification, ...],
        consent_days: int | None,
    ) -> Link:
        """Store a new valid link with the fields of Belvo's Link object (facts file 4.4)."""
        now = self.now()
        link_id = str(uuid.uuid4())
        # Same user at the same institution gives the same institution_user_id (Belvo uses it to spot
        # duplicated links); without documents the link is its own user.
        who = ",".join(i.number for i in holder) or link_id
        user_id = base64.urlsafe_b64encode(hashlib.sha256(f"{institution}:{who}".encode()).digest())
        link = Link(
            id=link_id,
            institution=institution,
            access_mode=access_mode,
            status="valid",
            created_by=self.state.belvo_user_id,
            external_id=external_id,
            institution_user_id=user_id.decode(),
            refresh_rate="7d" if access_mode == "recurrent" else None,
            # Recurrent links must store credentials; single ones default to 365 days (facts file 1.3).
            credentials_storage=credentials_storage or ("store" if access_mode == "recurrent" else "365d"),
            stale_in=stale_in or "365d",
            fetch_resources=fetch_resources,
            created_at=now,
            last_accessed_at=now,
            holder=holder,
            consent=ConsentGrant(
                id=str(uuid.uuid4()),
                created_at=now,
                expires_at=now + timedelta(days=consent_days) if consent_days else None,
            ),
        )
        self.state.add_link(link)
        return link

    def send_historical_updates(self, link: Link) -> None:
        """Queue one ``historical_update`` per fetched resource, sharing one request id (facts 4.2)."""
        if self.webhooks.url is None:
            return
        data = self.data(link)
        request_id = str(uuid.uuid4())
        for resource in link.fetch_resources:
            self.webhooks.enqueue(
                historical_update(
                    link.id, link.external_id, resource, historical_data(resource, data), request_id
                )
            )

    def send_recurrent_updates(self, link: Link, resources: tuple[str, ...], request_id: str) -> None:
        """Queue what a refresh of ``resources`` sends, under the refresh's ``request_id``."""
        for resource in resources:
            self.webhooks.enqueue(new_data_available(link.id, link.external_id, resource, request_id))

    def send_link_deleted(self, link: Link, request_id: str) -> None:
        self.webhooks.enqueue(link_deleted(link.id, link.external_id, request_id))


def current_emulator() -> Emulator:
    return cast(Emulator, current_app.extensions[EXTENSION])


def emulator_of(app: Flask) -> Emulator:
    """The :class:`Emulator` behind an app from :func:`create_app` (tests use it to drain webhooks)."""
    return cast(Emulator, app.extensions[EXTENSION])


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
    from emulator.api import api
    from emulator.control import control
    from emulator.portal import portal
    from emulator.widget import widget

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
