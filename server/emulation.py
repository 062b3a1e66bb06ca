"""Emulator mode: mount the offline Belvo emulator at ``/sandbox`` and wire both sides in-process.

Belvo API calls from the backend reach the emulator through :class:`~server.inprocess.WSGITransport`,
and the emulator's webhooks reach the backend's ``/v1/webhooks/belvo`` through
:class:`~server.inprocess.WSGIAdapter`, so the whole flow runs without a port being known in advance or
any network at all.

The emulator keeps its state in a SQLite file of its own (``EMULATOR_STATE_PATH``), by default beside
the backend's SQLite database, or in the instance folder when the backend's is PostgreSQL: a restarted
``ofda run`` serves the same links and data the backend stored, and every gunicorn worker sees one
emulator (one signing key, the same links and fault rules).
"""

from __future__ import annotations

import os
from typing import Any

import requests
from flask import Flask
from sqlalchemy.engine import make_url
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from server import observability
from server.config import Settings
from server.inprocess import WSGIAdapter, WSGITransport

EMULATOR_PREFIX = "/sandbox"


def state_path(database_url: str, instance_path: str) -> str | None:
    """Where the emulator's state goes for the backend's database: beside a SQLite file, in the instance
    folder for a server database, nowhere (memory) for an in-memory SQLite database.

    >>> state_path("sqlite:////srv/ofda/ofda.sqlite3", "/srv/instance")
    '/srv/ofda/ofda.emulator.sqlite3'
    >>> state_path("postgresql+psycopg://u@db/ofda", "/srv/instance")
    '/srv/instance/emulator.sqlite3'
    >>> state_path("sqlite://", "/srv/instance") is None
    True
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return os.path.join(instance_path, "emulator.sqlite3")
    if not url.database or url.database == ":memory:":
        return None
    stem, _ = os.path.splitext(url.database)
    return f"{stem}.emulator.sqlite3"


def mount_emulator(app: Flask, settings: Settings, overrides: dict[str, Any]) -> WSGITransport:
    """Mount the emulator on ``app`` and return the transport Belvo calls should use."""
    import emulator  # only emulator mode needs it

    overrides.setdefault(
        "EMULATOR_STATE_PATH",
        settings.emulator_state_path or state_path(settings.database_url, app.instance_path),
    )
    if overrides["EMULATOR_STATE_PATH"] is not None:
        os.makedirs(os.path.dirname(os.path.abspath(overrides["EMULATOR_STATE_PATH"])), exist_ok=True)

    backend_wsgi = app.wsgi_app
    webhook_session = requests.Session()
    webhook_session.mount(f"{settings.public_base_url}/", WSGIAdapter(backend_wsgi))
    emulator_app = emulator.create_app(
        {
            "EMULATOR_WEBHOOK_URL": f"{settings.public_base_url}/v1/webhooks/belvo",
            "EMULATOR_WEBHOOK_AUTH": settings.webhook_auth[0].reveal(),
            "EMULATOR_WEBHOOK_SESSION": webhook_session,
            **overrides,
        }
    )
    app.extensions["ofda.emulator"] = emulator_app
    emulator_app.before_request(observability.record_route)  # its widget URLs carry access tokens
    app.wsgi_app = DispatcherMiddleware(backend_wsgi, {EMULATOR_PREFIX: emulator_app})  # type: ignore[method-assign]

    return WSGITransport(emulator_app, settings.belvo_api_url, script_name=EMULATOR_PREFIX)
