"""Emulator mode: mount the offline Belvo emulator at ``/sandbox`` and wire both sides in-process.

Belvo API calls from the backend reach the emulator through :class:`~server.inprocess.WSGIAdapter`, and
the emulator's webhooks reach the backend's ``/v1/webhooks/belvo`` the same way, so the whole flow runs
without a port being known in advance or any network at all.
"""

from __future__ import annotations

from typing import Any

import requests
from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from server import observability
from server.config import Settings
from server.inprocess import WSGIAdapter

EMULATOR_PREFIX = "/sandbox"


def mount_emulator(app: Flask, settings: Settings, overrides: dict[str, Any]) -> requests.Session:
    """Mount the emulator on ``app`` and return the ``requests.Session`` Belvo calls should use."""
    import emulator  # only emulator mode needs it

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

    belvo_session = requests.Session()
    belvo_session.mount(f"{settings.belvo_api_url}/", WSGIAdapter(emulator_app, script_name=EMULATOR_PREFIX))
    return belvo_session
