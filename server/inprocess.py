"""A ``requests`` transport that hands requests to a WSGI app in the same process.

In emulator mode the backend's Belvo client and the emulator's webhook sender talk to each other through
this: no port to know, no network, and the same code paths as with real HTTP, timeouts included: a call
given a timeout runs the app on a thread of its own and raises ``requests.ReadTimeout`` when the answer
takes longer, as a socket would (the app's thread finishes on its own, its answer dropped).
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
from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Response as WerkzeugResponse

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

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        path = url.path.removeprefix(self._script_name) or "/"
        body = request.body.encode() if isinstance(request.body, str) else request.body
        builder = EnvironBuilder(
            method=request.method or "GET",
            base_url=f"{url.scheme}://{url.netloc}{self._script_name}",
            path=path,
            query_string=url.query,
            headers=list(request.headers.items()),
            data=body or b"",
        )
        environ = builder.get_environ()
        builder.close()

        def answer() -> WerkzeugResponse:
            app_iter, status, headers = run_wsgi_app(self._app, environ, buffered=True)
            wrapped = WerkzeugResponse(app_iter, status, headers)
            wrapped.get_data()  # the whole body, on this thread
            return wrapped

        seconds = _read_timeout(timeout)
        wrapped = answer() if seconds is None else _within(answer, seconds, request)
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


def _read_timeout(timeout: Any) -> float | None:
    """The read part of a ``requests`` timeout: a number, or the second of (connect, read)."""
    if isinstance(timeout, tuple):
        timeout = timeout[1]
    return None if timeout is None else float(timeout)


def _within(
    answer: Callable[[], WerkzeugResponse], seconds: float, request: requests.PreparedRequest
) -> WerkzeugResponse:
    """``answer()`` if it returns within ``seconds``; else ``requests.ReadTimeout``. Its exceptions are
    raised here."""
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
    if not outcome:
        raise requests.ReadTimeout(f"in-process read timed out after {seconds:g} s", request=request)
    return outcome[0]
