"""The backend's app factory, ``create_app`` (Flask tutorial style), which the package exports."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from server import api, belvo, commands, observability, storage, views, webhook_queue
from server.applinks import AppLinks, load_app_links
from server.clock import system_clock
from server.config import ConfigError, Settings, load_settings, origin
from server.emulation import EMULATOR_PREFIX, mount_emulator
from server.transport import HttpTransport, Transport
from server.views import app_link, index, qa


def create_app(
    config: dict[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    defaults: Mapping[str, str] | None = None,
) -> Flask:
    """Create the backend. ``config`` overrides the variables of the same names in ``environ``, the
    process environment unless given (the only place it is read); ``defaults`` stand in for settings
    neither gives.

    >>> app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"}, environ={})
    >>> app.test_client().get("/healthz").get_json()
    {'status': 'ok'}
    """
    app = Flask(__name__, instance_relative_config=True)
    overrides = dict(config or {})
    environ = os.environ if environ is None else environ
    local_database = f"sqlite:///{os.path.join(app.instance_path, 'ofda.sqlite3')}"
    settings, app_links = _configuration(
        overrides, environ, {"DATABASE_URL": local_database, **(defaults or {})}
    )
    if settings.database_url == local_database:
        os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(
        TESTING=settings.testing,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        LOG_LEVEL=settings.log_level,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["ofda.settings"] = settings
    if settings.trusted_proxy_hops:
        # The client's address as the platform's router saw it, for the per-address rate limit; only as
        # many X-Forwarded-For hops as are configured, so a client cannot claim another address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_hops)  # type: ignore[method-assign]
    app.extensions["ofda.applinks"] = app_links
    app.extensions["ofda.clock"] = overrides.get("CLOCK", system_clock)

    observability.init_app(app)
    commands.init_app(app)
    storage.init_app(app, settings.database_url, settings.database_pool_size)
    if settings.auto_migrate:
        storage.database(app).upgrade()
    webhook_queue.init_app(app)

    rest = api.init_app(app)

    @app.before_request
    def _json_bodies_only() -> None:
        # Webhooks check their body only once Belvo's Authorization passed: an anonymous caller learns
        # nothing, not even which content type is expected (their blueprint calls the same check).
        if (
            request.url_rule is not None
            and request.path.startswith("/v1/")
            and request.blueprint != "webhooks"
        ):
            api.require_json_body()

    views.register(rest)
    app.register_blueprint(index.bp)
    if settings.qa_page:
        app.register_blueprint(qa.bp)
    link = settings.callback_urls.application_link
    if link is not None and origin(link) == origin(settings.public_base_url):
        # What a browser without the app shows for the universal link (server/views/app_link.py).
        path = urlsplit(link).path.rstrip("/")
        if path.startswith((f"{EMULATOR_PREFIX}/", "/v1/", "/.well-known/")) or _served(app, path):
            raise ConfigError(f"APPLICATION_LINK: expected a path the backend does not serve, got {path!r}")
        app.register_blueprint(app_link.bp, url_prefix=path)

    if settings.emulator_mode:
        emulator_overrides = {k: v for k, v in overrides.items() if k.startswith("EMULATOR_")}
        # One clock for both sides, so token expiry and session expiry agree in tests.
        emulator_overrides.setdefault("EMULATOR_NOW", app.extensions["ofda.clock"])
        transport: Transport = mount_emulator(app, settings, emulator_overrides)
    else:
        transport = HttpTransport(settings.belvo_api_url, environ)
    app.extensions["ofda.belvo_transport"] = transport
    belvo.init_app(app)
    return app


def _served(app: Flask, path: str) -> bool:
    """Whether a route of ``app`` already answers ``path`` (any method)."""
    try:
        app.url_map.bind("localhost").match(path, method="GET")
    except HTTPException as exc:
        return exc.code != 404
    return True


def _configuration(
    overrides: Mapping[str, Any], environ: Mapping[str, str], defaults: Mapping[str, str]
) -> tuple[Settings, AppLinks]:
    """The settings and the app links, or a :class:`ConfigError` with every problem of both at once."""
    problems: list[str] = []
    settings: Settings | None = None
    try:
        settings = load_settings(overrides, environ, defaults)
    except ConfigError as error:
        problems += error.problems
    try:
        application_link = settings.callback_urls.application_link if settings else None
        app_links = load_app_links(overrides, environ, application_link=application_link)
    except ConfigError as error:
        problems += error.problems
    if settings is None or problems:
        raise ConfigError(*problems)
    return settings, app_links
