"""The whole backend (emulator mode) served on a real port, for Debian's Chromium to open its widget.

The browser fixtures (``browser``, ``mobile_page``) and helpers come from ``tests/browser.py``.
The backend must know its own address before it starts (``PUBLIC_BASE_URL`` goes into widget URLs), so the
port is bound first and the server takes over that socket: no race for a "free" port.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from emulator import emulator_of
from emulator.serving import QueryFreeRequestHandler
from server.storage import database
from server.webhook_queue import webhook_queue
from tests.conftest import make_app
from tests.support import Clock


@dataclass(frozen=True)
class Backend:
    app: Flask
    url: str  # e.g. http://127.0.0.1:41234
    clock: Clock  # the backend's and the emulator's time (real time until a test moves it)

    def settle(self) -> None:
        """Wait until the emulator's webhooks are delivered and the backend has applied them."""
        assert emulator_of(self.app.extensions["ofda.emulator"]).webhooks.drain()
        webhook_queue(self.app).drain()


@pytest.fixture
def clock() -> Clock:
    return Clock.now()


@pytest.fixture
def backend(database_url: str, clock: Clock) -> Iterator[Backend]:
    with running_backend(database_url, clock) as running:
        yield running


@contextmanager
def running_backend(
    database_url: str, clock: Clock, configure: Callable[[str], dict[str, Any]] = lambda url: {}
) -> Iterator[Backend]:
    """The backend on a free port of 127.0.0.1; ``configure(url)`` gives settings that name its address."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    app = make_app(
        database_url,
        PUBLIC_BASE_URL=url,
        EMULATOR_WEBHOOK_RETRY_SCHEDULE=[0, 0],
        CLOCK=clock,
        **configure(url),
    )
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=QueryFreeRequestHandler, fd=listener.fileno()
    )
    thread = threading.Thread(target=server.serve_forever, name="e2e-backend", daemon=True)
    thread.start()
    try:
        yield Backend(app, url, clock)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        listener.close()
        webhook_queue(app).drain()
        emulator_of(app.extensions["ofda.emulator"]).webhooks.close()
        database(app).dispose()
