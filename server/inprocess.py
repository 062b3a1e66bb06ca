"""Requests handed to a WSGI app in the same process: a ``requests`` adapter, and a
:class:`~server.transport.Transport` for the Belvo client.

In emulator mode the backend's Belvo client and the emulator's webhook sender talk to each other through
these: no port to know, no network, and the same code paths as with real HTTP, timeouts included: a call
given a timeout runs the app on a thread of its own and fails as a socket's read would when the answer
takes longer (the app's thread finishes on its own, its answer dropped).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3 import HTTPHeaderDict
from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Response as WerkzeugResponse

from server.transport import Reply, TransportError
from server.wsgi_types import WSGIApplication


class WSGIAdapter(BaseAdapter):
    """Mount on a ``requests.Session`` at a URL prefix; ``script_name`` is where the app is mounted.

    The app sees ``SCRIPT_NAME=script_name`` and the rest of the path as ``PATH_INFO``, exactly as behind
    werkzeug's ``DispatcherMiddleware``.
    """

    def __init__(self, app: WSGIApplication, script_name: str = "") -> None:
        super().__init__()
        self._app = app
        self._script_name = script_name.rstrip("/")

    def send(  # noqa: PLR0917 (requests' BaseAdapter.send signature)
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        body = request.body.encode() if isinstance(request.body, str) else request.body
        seconds = _read_timeout(timeout)
        wrapped = _answer(
            self._app,
            base_url=f"{url.scheme}://{url.netloc}{self._script_name}",
            method=request.method or "GET",
            path=url.path.removeprefix(self._script_name) or "/",
            query=url.query,
            headers=request.headers,
            body=body,
            seconds=seconds,
        )
        if wrapped is None:
            raise requests.ReadTimeout(f"in-process read timed out after {seconds:g} s", request=request)
        content = wrapped.get_data()

        response = requests.Response()
        response.status_code = wrapped.status_code
        response.reason = wrapped.status.partition(" ")[2]
        response.headers = CaseInsensitiveDict(dict(wrapped.headers.items()))
        response.raw = BytesIO(content)
        response._content = content
        response.url = request.url or ""
        response.request = request
        response.encoding = wrapped.mimetype_params.get("charset")
        return response

    def close(self) -> None:
        """Nothing to release: no sockets."""


class WSGITransport:
    """The Belvo client's transport to a WSGI app mounted at ``script_name`` (the emulator at
    ``/sandbox``); ``base_url`` is the URL the app is reached at from outside."""

    def __init__(self, app: WSGIApplication, base_url: str, script_name: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self._app = app
        parts = urlsplit(self.base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._script_name = script_name.rstrip("/")

    def __repr__(self) -> str:
        return f"WSGITransport({self.base_url!r})"

    def send(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: tuple[float, float],
    ) -> Reply:
        path, _, query = path.partition("?")
        seconds = timeout[1]
        wrapped = _answer(
            self._app,
            base_url=self._origin + self._script_name,
            method=method,
            path=path,
            query=query,
            headers=headers,
            body=body,
            seconds=seconds,
        )
        if wrapped is None:
            raise TransportError(f"{method} {self.base_url}: in-process read timed out after {seconds:g} s")
        return Reply(wrapped.status_code, HTTPHeaderDict(wrapped.headers.items()), wrapped.get_data())


def _answer(
    app: WSGIApplication,
    *,
    base_url: str,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes | None,
    seconds: float | None,
) -> WerkzeugResponse | None:
    """``app``'s whole answer to the request, or ``None`` when it takes longer than ``seconds``. The
    app's exceptions are raised here."""
    builder = EnvironBuilder(
        method=method,
        base_url=base_url,
        path=path,
        query_string=query,
        headers=list(headers.items()),
        data=body or b"",
    )
    environ = builder.get_environ()
    builder.close()

    def answer() -> WerkzeugResponse:
        app_iter, status, response_headers = run_wsgi_app(app, environ, buffered=True)
        wrapped = WerkzeugResponse(app_iter, status, response_headers)
        wrapped.get_data()  # the whole body, on this thread
        return wrapped

    return answer() if seconds is None else _within(answer, seconds)


def _read_timeout(timeout: Any) -> float | None:
    """The read part of a ``requests`` timeout: a number, or the second of (connect, read)."""
    if isinstance(timeout, tuple):
        timeout = timeout[1]
    return None if timeout is None else float(timeout)


def _within(answer: Callable[[], WerkzeugResponse], seconds: float) -> WerkzeugResponse | None:
    """``answer()`` if it returns within ``seconds``; else ``None``. Its exceptions are raised here."""
    outcome: list[WerkzeugResponse] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(answer())
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    worker = threading.Thread(target=run, name="inprocess-wsgi", daemon=True)
    worker.start()
    worker.join(max(seconds, 0.0))
    if failure:
        raise failure[0]
    return outcome[0] if outcome else None
