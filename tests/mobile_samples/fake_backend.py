"""A stand-in for the backend that answers what a real one cannot be made to: a resume answer whose
widget URL is on another origin (a compromised or misconfigured backend), and event answers that are
slow or fail on demand, so the samples' flows can be tested for what they must refuse and for
serialised forwarding. Each answer follows the contract's shapes (sections 2, 4 and 6)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

WIDGET_ORIGIN = "https://widget.example"
HOSTILE_ORIGIN = "https://evil.example"
APPLICATION_LINK = "https://app.example.com/belvo/return"
CALLBACK_URLS = {
    "success": "ofdaapp://belvo/success",
    "exit": "ofdaapp://belvo/exit",
    "event": "ofdaapp://belvo/event",
}
# What the backend finds by the link's token when the app names no session.
SESSION_FOUND_BY_TOKEN = "session-found-by-token"


@dataclass
class FakeBackend:
    """The running stand-in: its base URL, and the request bodies it received, by path."""

    base_url: str
    received: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """What the platforms' ResumeTests programs read."""
        return {
            "OFDA_BASE_URL": self.base_url,
            "OFDA_TOKEN": "fake-token",
            "OFDA_WIDGET_ORIGIN": WIDGET_ORIGIN,
            "OFDA_APPLICATION_LINK": APPLICATION_LINK,
        }


def _session(session_id: str, widget_url: str) -> dict[str, Any]:
    return {
        "id": session_id,
        "status": "pending",
        "widget_url": widget_url,
        "expires_at": "2030-01-01T00:00:00Z",
        "callback_urls": CALLBACK_URLS,
        "events": [],
    }


def _warning() -> dict[str, Any]:
    return {"type": "warning", "code": "institution_disabled", "message": None, "extra": {}}


class _Handler(BaseHTTPRequestHandler):
    backend: FakeBackend

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test's output is the platforms' programs."""

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str) -> None:
        self._answer(status, {"errors": [{"code": code, "message": code}], "request_id": "fake"})

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.backend.received.append(("GET", path, {}))
        session_id = path.removeprefix("/v1/widget-sessions/")
        self._answer(200, _session(session_id, f"{WIDGET_ORIGIN}/?access_token=first"))

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
        self.backend.received.append(("POST", path, body))
        url = str(body.get("url", ""))
        if path == "/v1/widget-sessions/resume":
            link, expected = urlsplit(url), urlsplit(APPLICATION_LINK)
            # One trailing slash ignored, as the backend does.
            if (link.scheme, link.netloc.lower(), link.path.removesuffix("/")) != expected[:3]:
                return self._error(422, "invalid_deeplink")
            query = urlsplit(url).query
            # A link whose query asks for it gets a widget URL on another origin: what the app must refuse.
            origin = HOSTILE_ORIGIN if "hostile" in query else WIDGET_ORIGIN
            session_id = str(body.get("session_id") or SESSION_FOUND_BY_TOKEN)
            session = _session(session_id, f"{WIDGET_ORIGIN}/?access_token=first")
            event = {"type": "resume", "consent_id": None, "locale": None, "query": query, "extra": {}}
            return self._answer(200, {"session": session, "event": event, "widget_url": f"{origin}/?{query}"})
        if path.endswith("/events"):
            session_id = path.removeprefix("/v1/widget-sessions/").removesuffix("/events")
            if "slow" in url:
                time.sleep(1.0)
            if "unavailable" in url:
                return self._error(503, "belvo_unavailable")
            session = _session(session_id, f"{WIDGET_ORIGIN}/?access_token=first")
            return self._answer(200, {"event": _warning(), "session": session})
        return self._error(404, "not_found")


@contextmanager
def fake_backend() -> Iterator[FakeBackend]:
    """The stand-in on a free loopback port, for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    backend = FakeBackend(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = type("Handler", (_Handler,), {"backend": backend})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield backend
    finally:
        server.shutdown()
        server.server_close()
