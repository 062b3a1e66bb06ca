"""Serving the emulator with werkzeug without writing access tokens into the access log.

Widget URLs carry the access token in their query string, and werkzeug's development server logs every
request line; :class:`QueryFreeRequestHandler` logs the path only. Pass it as ``request_handler`` to
``app.run``/``werkzeug.serving.run_simple``/``make_server`` (the backend has its own, ``server.serving``).
"""

from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler


class QueryFreeRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = getattr(self, "path", "").split("?", 1)[0]
        self.log("info", '"%s %s" %s %s', self.command, path, code, size)
