"""A ``requests`` transport that hands requests to a WSGI app in the same process.

In emulator mode the backend's Belvo client and the emulator's webhook sender talk to each other through
this: no port to know, no network, and the same code paths as with real HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
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
        try:
            app_iter, status, headers = run_wsgi_app(self._app, builder.get_environ(), buffered=True)
            wrapped = WerkzeugResponse(app_iter, status, headers)
            content = wrapped.get_data()
        finally:
            builder.close()

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
