"""Request ids and JSON logs that cannot carry secrets or personal data.

Every request gets a fresh id (``g.request_id``), echoed in the ``X-Request-Id`` header and in every log
record emitted while it runs. Log lines are JSON objects. Code must never log secrets, tokens, widget URLs,
CPF/CNPJ or names in the first place; :class:`RedactingFilter` is the safety net for what slips through
(werkzeug's access log, for one, prints query strings, and widget URLs carry the access token).
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any, TextIO

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-Id"
#: Where each request leaves its route's template (``/v1/links/<link_id>``) in the WSGI environ, for the
#: server's access log (``server/gunicorn_conf.py``): a template names the endpoint without the ids,
#: names or document numbers a path can carry.
ROUTE_ENVIRON_KEY = "ofda.route"


def new_request_id() -> str:
    """A fresh request id: 32 hex digits, like ``uuid4().hex``.

    An id names a request in logs and support tickets and grants nothing, so it is drawn from ``random``
    (reseeded in each forked process) rather than the OS: ``uuid4`` reads ``getrandom``, a system call
    that lets go of the GIL on every request, and under load each hand-over costs more than the id.

    >>> len(new_request_id()), new_request_id() != new_request_id()
    (32, True)
    """
    return f"{random.getrandbits(128):032x}"


# JWTs (our app tokens and Belvo's access/refresh tokens), query parameters that carry credentials,
# CPF/CNPJ-shaped digit runs (formatted or not) and Authorization values.
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[jwt]"),
    (re.compile(r"(access_token|refresh|password|secret)=[^&\s\"']+", re.IGNORECASE), r"\1=[redacted]"),
    (re.compile(r"(authorization:?\s*)(basic|bearer)\s+\S+", re.IGNORECASE), r"\1\2 [redacted]"),
    (re.compile(r"\b\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}\b"), "[document]"),
    (re.compile(r"\b\d{3}\.?\d{3}\.?\d{3}-?\d{2}\b"), "[document]"),
)
#: What every match of those patterns contains: a document's 11 or more digits and separators in a row.
_DOCUMENT_LIKE = re.compile(r"\d[\d./-]{10}")


def may_need_redaction(text: str) -> bool:
    """Whether ``text`` could hold anything :func:`redact` masks: a JWT's ``eyJ``, a credential's ``=``,
    ``authorization``'s ``author`` (letters that, unlike its ``i``, match no other letter when case is
    ignored: ``re`` takes a dotless i, U+0131, for an ``i``) or a document-like run of digits. Most texts
    hold none, and these checks cost far less than searching the patterns themselves, which ``re`` tries
    one after the other at every character (valgrind, a widget session's log line: 15,000 instructions
    against 115,000).

    >>> may_need_redaction("ws_J7AMPDUoYt9-KtFBKydS3skJHIIOjR2c"), may_need_redaction("2026-12-08T02:29:23Z")
    (False, False)
    >>> may_need_redaction("cpf 761.092.776-73"), may_need_redaction("AUTHORIZATION: Basic x")
    (True, True)
    """
    return "eyJ" in text or "=" in text or "author" in text.lower() or _DOCUMENT_LIKE.search(text) is not None


def redact(text: str) -> str:
    """Mask credentials and document numbers in ``text``.

    >>> redact("GET /sandbox/widget/?access_token=abc.def&locale=pt")
    'GET /sandbox/widget/?access_token=[redacted]&locale=pt'
    >>> redact("cpf 761.092.776-73 and 76109277673")
    'cpf [document] and [document]'
    >>> redact("Authorization: Bearer abc")
    'Authorization: Bearer [redacted]'
    """
    if not may_need_redaction(text):
        return text
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


# The attributes every LogRecord has; any other attribute came from a call's ``extra=``.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "request_id"}


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in record.__dict__.items() if key not in _RECORD_ATTRIBUTES}


def current_request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


class RedactingFilter(logging.Filter):
    """Rewrites each record's message, and each text passed in ``extra=``, through :func:`redact`, and
    stamps the request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = record.getMessage()
        record.args = None
        texts = {key: value for key, value in _extra_fields(record).items() if isinstance(value, str)}
        # The record's texts are checked as one: a line holds nothing to redact nearly always. A text
        # that may hold something makes the joined one answer so too, and then each is rewritten alone.
        if may_need_redaction("\x00".join((record.msg, *texts.values()))):
            record.msg = redact(record.msg)
            for key, value in texts.items():
                setattr(record, key, redact(value))
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


#: One encoder for every line: ``json.dumps`` given options builds a new ``JSONEncoder`` on every call.
_LINE_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        entry.update(_extra_fields(record))
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return _LINE_ENCODER.encode(entry)


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes its lines in batches: a record below ``WARNING`` waits up to
    ``linger`` seconds for others to go out with it in one write; a warning or an error goes out at once,
    with whatever waits before it, and so does everything left when the process exits (``logging``
    flushes every handler then).

    A write to the stream is a system call that lets go of the GIL; under load, with a line per widget
    session, getting the GIL back cost more than formatting the line. The standard library's
    ``MemoryHandler`` flushes only by count or level (a quiet process would hold its lines for ever) and
    its target still writes record by record.

    A record is formatted and queued without the handler's lock: ``Handler.handle`` holds it around
    ``emit``, and a thread that lost the GIL while holding it (formatting, or writing a batch) made every
    other thread with a line to log wait, then wake, behind it. Only writing takes the lock, so that
    batches go out whole and in order.
    """

    def __init__(self, stream: TextIO | None = None, linger: float = 0.05) -> None:
        super().__init__(stream)
        self.linger = linger
        # Appending to and popping from a deque are atomic: threads queue lines without a lock.
        self._pending: deque[str] = deque()
        self._waiting = threading.Event()
        self._start_writer()
        os.register_at_fork(after_in_child=self._forked)

    def _start_writer(self) -> None:
        threading.Thread(target=self._write_batches, name="log-writer", daemon=True).start()

    def _forked(self) -> None:
        """A process forked with this handler (gunicorn --preload) writes its own lines with a writer of
        its own; the lines waiting at the fork are the parent's to write, not written twice."""
        self._pending = deque()
        self._waiting.clear()
        self._start_writer()

    def handle(self, record: logging.LogRecord) -> bool:
        """``Handler.handle`` without its lock around ``emit`` (the class's docstring says why)."""
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:  # logging's own convention: report it, never raise into the caller
            self.handleError(record)
            return
        self._pending.append(line)
        if record.levelno >= logging.WARNING:
            self.flush()
        elif not self._waiting.is_set():
            # The writer clears the event before it takes the queued lines: this line goes out with
            # the batch it wakes the writer for, or with the one already on its way.
            self._waiting.set()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            lines = [self._pending.popleft() for _ in range(len(self._pending))]
            if not lines:
                return
            try:
                self.stream.write("".join(lines))
                super().flush()
            except Exception:  # a closed or broken stream: reported as logging reports it, never raised
                self.handleError(logging.makeLogRecord({"msg": f"{len(lines)} log lines not written"}))

    def _write_batches(self) -> None:
        while True:
            self._waiting.wait()
            self._waiting.clear()
            time.sleep(self.linger)
            self.flush()


def configure_logging(level: str) -> None:
    """Install one JSON handler on the root logger, filtered through :class:`RedactingFilter`.

    The filter sits on the handler, not on loggers: a logger's filters never see its children's records,
    and every record, whoever logs it (werkzeug's access log included), leaves through this handler.
    """
    # Our lines never show the caller's file, thread or process: logging would look each up for every
    # record (the caller by walking the stack). https://docs.python.org/3/howto/logging.html#optimization
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = BatchingStreamHandler()
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    root.setLevel(level)
    # Alembic narrates every migration step at INFO, on every start in emulator mode.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))


def record_route() -> None:
    """Leave the matched route's template in the WSGI environ (a ``before_request`` hook; an unmatched
    request leaves nothing)."""
    if request.url_rule is not None:
        request.environ[ROUTE_ENVIRON_KEY] = request.script_root + request.url_rule.rule


def init_app(app: Flask) -> None:
    configure_logging(app.config.get("LOG_LEVEL", "INFO"))

    @app.before_request
    def _assign_request_id() -> None:
        g.request_id = new_request_id()

    app.before_request(record_route)

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        request_id = current_request_id()
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response
