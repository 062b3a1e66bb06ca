"""Small helpers shared by the test packages."""

from __future__ import annotations

import re
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

import requests
import responses
from sqlalchemy import Engine, bindparam, create_engine, event, insert, text

from server.models import AppUser
from server.storage import normalise_url
from server.transport import HttpTransport, Reply, TransportError

#: A user's row, written by the request path's writes (``server.storage.write``) in storage tests.
NEW_USER = insert(AppUser).values(
    user_id=bindparam("owner"), external_id=bindparam("external_id"), created_at=bindparam("now")
)


def new_user(owner: str) -> dict[str, object]:
    """:data:`NEW_USER`'s values for ``owner``."""
    return {"owner": owner, "external_id": owner * 3, "now": datetime.now(UTC)}


class Callers:
    """Calls each run on a thread of its own, what each answered or raised kept by name, and how many
    connections ``engine``'s pool handed out meanwhile: to see what concurrent callers of the request
    path's writes got, and whether they shared connections. The block ends when every call has."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.results: dict[str, object] = {}
        self.checkouts = 0
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Callers:
        event.listen(self.engine, "checkout", self._counted)
        return self

    def __exit__(self, *_exc: object) -> None:
        for thread in self._threads:
            thread.join()
        event.remove(self.engine, "checkout", self._counted)

    def _counted(self, *_: object) -> None:
        self.checkouts += 1

    def start(self, name: str, call: Callable[[], object]) -> None:
        def keep() -> None:
            try:
                self.results[name] = call()
            except Exception as exc:  # what each caller got is what the test looks at
                self.results[name] = exc

        thread = threading.Thread(target=keep)
        thread.start()
        self._threads.append(thread)


@dataclass
class Clock:
    """A clock the test moves: pass it as ``create_app({"CLOCK": clock})`` (the emulator shares it) or
    as the emulator's ``EMULATOR_NOW``."""

    moment: datetime = field(default_factory=lambda: datetime(2026, 11, 21, 12, 0, tzinfo=UTC))

    @classmethod
    def now(cls) -> Clock:
        """Starting at the real time (for servers a browser talks to)."""
        return cls(datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float = 0, **delta: float) -> None:
        self.moment += timedelta(seconds=seconds, **delta)


def assert_error(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The response is an error in the contract's shape (section 2): ``status``, the first error's
    ``code`` and ``field``, and a request id echoed in ``X-Request-Id``."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"errors", "request_id"}
    assert body["errors"][0]["code"] == code
    assert body["errors"][0]["field"] == field
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    assert response.headers["X-Request-Id"] == body["request_id"]
    return body


@contextmanager
def postgres_schema(server_url: str) -> Iterator[str]:
    """A new, empty schema on the PostgreSQL server ``server_url`` names, dropped afterwards: the URL
    yielded puts it first on the search path, so tests (and the processes they start) stay apart."""
    base = normalise_url(server_url)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """``handler`` serving on a free port of 127.0.0.1 for the block, each request on a thread of its own:
    the server's base URL (``http://127.0.0.1:<port>``, or ``https://`` with a server-side ``tls``
    context)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"{'http' if tls is None else 'https'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def recorded_belvo() -> Iterator[responses.RequestsMock]:
    """Belvo as answers recorded with ``responses`` for the block: what the backend's transport to Belvo
    sends goes through ``requests`` instead of the network, where ``responses`` answers and records it (a
    request nothing was registered for, or an exception registered as its body, fails as a connection
    would). The transport itself is tested against real servers (tests/server/test_transport.py)."""
    with (
        responses.RequestsMock(assert_all_requests_are_fired=False) as recorded,
        mock.patch.object(HttpTransport, "send", _send_through_requests),
    ):
        yield recorded


def _send_through_requests(
    transport: HttpTransport,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    timeout: tuple[float, float],
) -> Reply:
    try:
        answer = requests.request(
            method,
            transport.base_url + path,
            headers=headers,
            data=body,
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise TransportError(f"{method} {transport.base_url}: {type(exc).__name__}") from exc
    return Reply(answer.status_code, answer.headers, answer.content)
