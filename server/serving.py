"""The backend's access log under werkzeug's server (``ofda run``).

werkzeug's request handler writes each request line with its query string, in terminal colours; widget
URLs carry Belvo's access token in theirs. This one logs method, path (no query string), status and size
as one record of the ``server.access`` logger, which leaves through the JSON handler and its redaction.
"""

from __future__ import annotations

import logging

from werkzeug.serving import WSGIRequestHandler

access_log = logging.getLogger("server.access")


class QueryFreeAccessLog(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = getattr(self, "path", "").partition("?")[0]
        access_log.info("%s %s %s %s", self.command, path, code, size)
