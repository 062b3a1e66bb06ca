"""gunicorn's settings for the Procfile's ``web`` process (``gunicorn -c python:server.gunicorn_conf``).

The application's own records are redacted (:mod:`server.observability`); this module does the same for
what gunicorn writes itself:

- the access log names each request by its route's template (``GET /v1/links/<link_id> 200``): no query
  string, no path values, no referrer, no client address, user or request header, so no CPF, name or
  widget URL (whose query string carries Belvo's access token) reaches it, whatever ``access_log_format``
  an operator picks;
- the error log's lines are JSON objects like the application's, through the same
  :class:`~server.observability.RedactingFilter`, and gunicorn's debug line for each request (its raw
  path) is not written;
- the answers gunicorn writes before the application sees a request (a request line over
  ``limit_request_line``: 414; a header over ``limit_request_field_size`` or more than
  ``limit_request_fields`` headers: 431; anything that is not valid HTTP/1.1: 400) use the contract's
  error shape, and their log line names the error, never the request's text.

What the server cannot shape: a connection closed before a request was read (gunicorn's ``timeout``, a
client that stops sending) gets no answer at all, and a TLS failure happens before HTTP.

Connections are spread over the workers by the kernel: on Linux, with TCP addresses, each worker listens
on a socket of its own (``SO_REUSEPORT``) and a stopping worker leaves at once (:func:`on_starting`).

The workers are gevent's (:class:`GeventWorker`), on either database: every wait of a request (Belvo,
PostgreSQL, Redis, SQLite's write lock) lets the worker's other requests go on, so a request waiting on
Belvo holds a greenlet, not a thread, and one worker serves as many at once as arrive (bench/sessions.py,
README). SQLite's statements themselves run in the worker's one thread: each takes a fraction of a
millisecond, and a wait for its write lock is a pause in Python (:mod:`server.storage`), not in SQLite.

Command-line flags override these settings; the Procfile passes only the process's size and address.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from http import HTTPStatus
from typing import Any

from gunicorn import util
from gunicorn.glogging import Logger
from gunicorn.http import errors as http
from gunicorn.workers.ggevent import GeventWorker as GunicornGeventWorker

from server.errors import (
    ApiError,
    Forbidden,
    HeaderFieldsTooLarge,
    InvalidRequest,
    UriTooLong,
)
from server.observability import (
    REQUEST_ID_HEADER,
    ROUTE_ENVIRON_KEY,
    JsonFormatter,
    RedactingFilter,
    new_request_id,
)

#: What the access log shows for a request no route matched (404, 405): its path may be anything.
UNMATCHED = "<unmatched>"

#: The access log stays off unless asked for (``--access-logfile -``): the platform's router logs requests.
#: gunicorn's control socket sits at one path per user (``~/.gunicorn/gunicorn.ctl``), so two web
#: instances on one host would take it from each other; nothing here uses it.
control_socket_disable = True
access_log_format = "%(m)s %(U)s %(s)s %(b)s bytes %(M)s ms"


class PrivateLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, writing JSON through the application's redaction, with access-log atoms that
    hold the method, our route template, our status, sizes and times: nothing else a client sent."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)  # run again on a configuration reload (SIGHUP)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                    handler.addFilter(RedactingFilter())
                if getattr(handler, "_gunicorn", False):  # gunicorn's own handlers, not logconfig's
                    handler.setFormatter(JsonFormatter())

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        # With a socket per worker the master holds none, and gunicorn's arbiter would announce
        # "Listening at:  (<pid>)"; on_starting has said where the workers listen instead.
        if msg.startswith("Listening at: ") and args and not args[0]:
            return
        super().info(msg, *args, **kwargs)

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> dict[str, Any]:
        route = environ.get(ROUTE_ENVIRON_KEY) or UNMATCHED
        protocol = environ.get("SERVER_PROTOCOL", "-")
        status = str(resp.status).split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        return {
            "h": "-",
            "l": "-",
            "u": "-",
            "t": self.now(),
            "r": f"{environ.get('REQUEST_METHOD')} {route} {protocol}",
            "s": status,
            "m": environ.get("REQUEST_METHOD"),
            "U": route,
            "q": "-",
            "H": protocol,
            "b": str(sent) if sent is not None else "-",
            "B": sent,
            "f": "-",
            "a": "-",
            "T": request_time.seconds,
            "D": request_time // timedelta(microseconds=1),
            "M": request_time // timedelta(milliseconds=1),
            "L": f"{request_time.total_seconds():.6f}",
            "p": f"<{os.getpid()}>",
            # Our own response headers only (the request id); never the request's headers or environ.
            "{x-request-id}o": dict(resp.headers).get(REQUEST_ID_HEADER, "-"),
        }

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        self.access_log.info(
            self.cfg.access_log_format,
            self.atoms_wrapper_class(atoms),
            extra={"request_id": dict(resp.headers).get(REQUEST_ID_HEADER)},
        )


def post_worker_init(worker: Any) -> None:
    """Once the worker has loaded the application: what the imports and the app's start-up made lives as
    long as the process, and the collector's full passes stop walking it on every request's behalf
    (https://docs.python.org/3/library/gc.html#gc.freeze)."""
    gc.freeze()


def own_socket_per_worker(addresses: Sequence[str], platform: str = sys.platform) -> bool:
    """Whether every worker can listen on a socket of its own at ``addresses`` (gunicorn's ``bind``) and
    have the kernel spread new connections over them: Linux (elsewhere ``SO_REUSEPORT`` lets sockets
    share an address without spreading connections), TCP addresses with a fixed port (a Unix socket's
    path, an inherited ``fd://`` or port 0 cannot be shared that way).

    >>> own_socket_per_worker(["0.0.0.0:8000"], "linux")
    True
    >>> own_socket_per_worker(["0.0.0.0:8000", "unix:/run/web.sock"], "linux")
    False
    """
    return platform == "linux" and all(
        not address.startswith(("unix:", "fd://")) and not address.endswith(":0") for address in addresses
    )


def on_starting(server: Any) -> None:
    """Give every worker a listening socket of its own where the kernel can spread connections over them.

    With the one socket the workers share, whichever worker is awake accepts a burst of new connections,
    and a kept-alive connection stays with the worker that accepted it. The backend alone under the
    Procfile's server (then gunicorn's threaded workers), 10 s of widget sessions from keep-alive
    clients: at 32 clients one of the two workers served 2,949 requests and the other 1,298, requests
    waiting for a thread of the busy one (overhead p50 45.6 ms, against 3.5 ms with a socket per worker);
    at 8 clients one worker served them all. Not where a socket cannot be shared
    (:func:`own_socket_per_worker`), nor under systemd's socket activation, whose sockets are the ones to
    use."""
    if own_socket_per_worker(server.cfg.bind) and "LISTEN_FDS" not in os.environ:
        server.cfg.set("reuse_port", True)
        # gunicorn's own "Listening at" line would be empty then (the master holds no socket): this
        # one says where, and PrivateLogger leaves the empty one out.
        server.log.info("Listening at: %s (a socket per worker)", ",".join(server.cfg.bind))


#: A reload (``SIGHUP``) reads this module again, with ``reuse_port`` back to off: its workers would then
#: look for the one socket the master never opened, and nothing would listen.
on_reload = on_starting


def pre_request(worker: Any, req: Any) -> None:
    """Replaces gunicorn's default hook, which logs each request's raw path at debug level; the access
    log has the request's route."""


def answer_for(exc: BaseException, cfg: Any) -> ApiError:
    """The contract error for what gunicorn refused before the application saw a request."""
    match exc:
        case http.LimitRequestLine():
            return UriTooLong(f"The request line is longer than {cfg.limit_request_line} bytes")
        case http.LimitRequestHeaders():
            return HeaderFieldsTooLarge(
                f"The request has a header longer than {cfg.limit_request_field_size} bytes "
                f"or more than {cfg.limit_request_fields} headers"
            )
        case http.ForbiddenProxyRequest():
            return Forbidden("Requests through this proxy are not accepted")
        case http.InvalidResponseHeader() | http.InvalidResponseHeaderName() | http.ConfigurationProblem():
            return ApiError("Internal error; quote the request id to support")
        case http.ParseException():
            return InvalidRequest("The request is not valid HTTP/1.1")
        case _:
            return ApiError("Internal error; quote the request id to support")


class ContractErrors:
    """What gunicorn refuses itself (before any application code runs), answered in the contract's error
    shape: gunicorn writes these answers (HTML) from ``handle_error``, has no setting for their body, and
    its log line for them quotes the request's text."""

    cfg: Any
    log: Any

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        error = answer_for(exc, self.cfg)
        request_id = new_request_id()
        if error.status >= 500:
            self.log.error(
                "request failed in the server: %s", type(exc).__name__, extra={"request_id": request_id}
            )
        else:
            self.log.warning(
                "request refused by the server: %s %s",
                error.status,
                type(exc).__name__,
                extra={"request_id": request_id},
            )
        body = json.dumps(error.body(request_id)).encode()
        head = (
            f"HTTP/1.1 {error.status} {HTTPStatus(error.status).phrase}\r\n"
            "Connection: close\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"{REQUEST_ID_HEADER}: {request_id}\r\n"
            "\r\n"
        )
        try:
            util.write_nonblock(client, head.encode("latin-1") + body)
        except OSError:
            self.log.debug("the client left before its error answer was sent")


class GeventWorker(ContractErrors, GunicornGeventWorker):  # type: ignore[misc]
    """gunicorn's gevent worker (a greenlet per connection, up to ``worker_connections``), answering
    what it refuses in the contract's error shape. A stopping one closes its listening sockets at once
    (gunicorn's own ``run``): new connections go to the other workers' sockets."""


worker_class = GeventWorker
logger_class = PrivateLogger
