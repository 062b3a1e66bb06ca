"""How the Belvo client's requests reach Belvo: one interface, :class:`Transport`, and its real
implementation over the network, :class:`HttpTransport`; emulator mode hands them to the emulator in the
same process instead (:class:`server.inprocess.WSGITransport`).

A transport is bound to one API's base URL and sends a method, a path (with its query) and bytes; it
answers a :class:`Reply` whatever the status, or raises :class:`TransportError` when no answer came.
Retries, the deadline and what a status means are the client's (``server/belvo.py``).
"""

from __future__ import annotations

import _socket
import gzip
import http.client
import json
import re
import socket
import ssl
import urllib.request
import zlib
from base64 import b64encode
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import certifi
import httptools
from urllib3 import HTTPHeaderDict

from server.config import ConfigError


@dataclass(frozen=True)
class Reply:
    """An HTTP answer, read whole: its status, its headers (case-insensitive) and its body.

    >>> Reply(200, {"Content-Type": "application/json"}, b'{"ok": true}').json()
    {'ok': True}
    """

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` when it is not JSON (or not UTF-8)."""
        return json.loads(self.body)


class TransportError(Exception):
    """No answer came: the connection could not be made, broke, or the answer took too long."""


class Transport(Protocol):
    """Sends requests to one API; ``path`` starts with ``/`` and carries the query, if any."""

    base_url: str

    def send(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: tuple[float, float],
    ) -> Reply:
        """The answer to one request (any status), within ``timeout`` (connect, read seconds); raises
        :class:`TransportError` when none came."""
        ...


class HttpTransport:
    """Belvo's API over HTTP(S): keep-alive connections to ``base_url``, the CA bundle and proxy that
    ``environ`` names (read once, here), gzipped answers asked for and decoded, no retries and no
    redirects (the client decides what to retry; Belvo's API does not redirect, and a redirect is never
    followed with our keys).

    Its connections are the standard library's (``http.client``: connecting, TLS, a proxy's tunnel); a
    request goes out as one write, head and body, and its answer is read with llhttp, Node's HTTP parser
    (``httptools``). urllib3's pool and response layers cost a token call 54 µs more CPU than
    ``http.client`` (128 against 74 µs, one thread), and ``http.client`` reads an answer's headers with
    the ``email`` package's parser: 54 µs against 9 for the whole answer with llhttp. What this pool does
    besides is small: keep idle connections, drop one the server has closed before reusing it, and never
    reuse one a failure, or the server, left in an unknown state.

    ``environ`` is read as requests reads its environment, so a deployment's settings keep their meaning:
    ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` (certifi's bundle otherwise), and the ``<scheme>_proxy``,
    ``all_proxy`` and ``no_proxy`` variables (lowercase first, as urllib reads them). A proxy is spoken to
    in plain HTTP (``http://``, credentials in its URL sent as ``Proxy-Authorization``): an HTTPS API
    is reached through a ``CONNECT`` tunnel, TLS end to end; plain HTTP is forwarded with the whole URL.
    """

    def __init__(self, base_url: str, environ: Mapping[str, str]) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigError(f"expected an http:// or https:// URL for Belvo's API, got {base_url!r}")
        #: The path the API lives under (empty for Belvo's; a local stand-in may sit below a prefix).
        self._prefix = parts.path
        self._origin = (parts.hostname, parts.port or _DEFAULT_PORTS[parts.scheme])
        #: The ``Host`` header: the origin's, with its port unless the scheme's default (as ``http.client``).
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        self._host = host if self._origin[1] == _DEFAULT_PORTS[parts.scheme] else f"{host}:{self._origin[1]}"
        self._tls: ssl.SSLContext | None = None
        if parts.scheme == "https":
            ca = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or certifi.where()
            self._tls = ssl.create_default_context(cafile=ca)
        self._proxy: tuple[str, int] | None = None
        self._proxy_headers: dict[str, str] = {}
        if (proxy := proxy_for(self.base_url, environ)) is not None:
            # A proxy named without a scheme is an HTTP one, as requests takes it.
            address = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            if address.scheme != "http" or not address.hostname:
                # Its URL is not quoted: it may hold the proxy's password.
                raise ConfigError(
                    f"expected an http:// proxy for {parts.scheme} URLs, got a {address.scheme}:// one"
                )
            self._proxy = (address.hostname, address.port or _DEFAULT_PORTS["http"])
            if address.username is not None:
                credentials = f"{unquote(address.username)}:{unquote(address.password or '')}".encode()
                self._proxy_headers["Proxy-Authorization"] = f"Basic {b64encode(credentials).decode()}"
        #: Plain HTTP through a proxy is forwarded with the whole URL; HTTPS is tunnelled, and its
        #: connection then speaks to the origin as if directly.
        self._forwarded = self._proxy is not None and self._tls is None
        #: For the proxy, with each forwarded request (a tunnel sends them once, with its CONNECT).
        self._forwarded_headers = self._proxy_headers if self._forwarded else {}
        #: Idle connections, the most recently used last (deque's appends and pops are thread-safe).
        self._idle: deque[http.client.HTTPConnection] = deque()
        self._closed = False

    def __repr__(self) -> str:
        return f"HttpTransport({self.base_url!r})"

    def send(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: tuple[float, float],
    ) -> Reply:
        connect, read = timeout
        target = self.base_url + path if self._forwarded else self._prefix + path
        sent = {**self._forwarded_headers, **headers, **_ACCEPTED}
        if body is not None or method in _METHODS_WITH_BODY:
            sent["Content-Length"] = str(len(body or b""))
        # Refused before anything is sent, as http.client refuses them: a path or header value able to end
        # its line would let whoever chose it add headers, or a request, of their own.
        if _NOT_IN_TARGET.search(target):
            raise ValueError("Expected a request target without spaces or control characters, got one with")
        lines = "".join(f"{name}: {value}\r\n" for name, value in sent.items())
        if lines.count("\r") + lines.count("\n") != 2 * len(sent):
            raise ValueError("Expected header names and values without line breaks, got one with")
        request = f"{method} {target} HTTP/1.1\r\nHost: {self._host}\r\n{lines}\r\n".encode("latin-1")
        connection = self._connection(connect)
        try:
            if connection.sock is None:
                connection.connect()
            sock = connection.sock
            assert sock is not None
            sock.settimeout(read)
            sock.sendall(request + body if body else request)
            answer = _read_answer(sock, head_only=method == "HEAD")
        except (OSError, http.client.HTTPException, httptools.HttpParserError, zlib.error) as exc:
            connection.close()  # in an unknown state: never reused
            raise TransportError(f"{method} {self.base_url}: {type(exc).__name__}") from exc
        if answer.reusable and len(self._idle) < _IDLE_CONNECTIONS and not self._closed:
            self._idle.append(connection)
        else:
            connection.close()
        return Reply(answer.status, answer.headers, answer.body)

    def _connection(self, connect_timeout: float) -> http.client.HTTPConnection:
        """An idle connection still open, or a new one (not yet connected)."""
        if self._closed:
            raise TransportError(f"{self.base_url}: the transport is closed")
        while True:
            try:
                connection = self._idle.pop()
            except IndexError:
                break
            if connection.sock is None or not _dropped(connection.sock):
                connection.timeout = connect_timeout
                return connection
            connection.close()  # the server closed it while it was idle
        host, port = self._proxy or self._origin
        if self._tls is None:
            return http.client.HTTPConnection(host, port, timeout=connect_timeout)
        connection = http.client.HTTPSConnection(host, port, timeout=connect_timeout, context=self._tls)
        if self._proxy is not None:
            connection.set_tunnel(*self._origin, headers=self._proxy_headers)
        return connection

    def close(self) -> None:
        """Close the idle connections; the transport is not to be used after."""
        self._closed = True
        while True:
            try:
                self._idle.pop().close()
            except IndexError:  # none left, even if a request took the last meanwhile
                return


@dataclass(frozen=True)
class _Answer:
    """An answer read whole, and whether its connection may carry another request."""

    status: int
    headers: HTTPHeaderDict
    body: bytes
    reusable: bool


class _Reading:
    """What llhttp reports of one answer as it parses it (``httptools``' callbacks): informational answers
    (1xx) are skipped, and anything after the answer makes its connection one not to reuse."""

    def __init__(self, head_only: bool) -> None:
        self.head_only = head_only
        self.parser = httptools.HttpResponseParser(self)
        self.headers = HTTPHeaderDict()
        self.chunks: list[bytes] = []
        self.headers_done = self.done = self.keep_alive = False

    def on_message_begin(self) -> None:
        if self.done:  # more than the answer came: the connection is in no known state
            self.keep_alive = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.done:
            self.headers.add(name.decode("latin-1"), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        if self.head_only:  # an answer to HEAD has no body, whatever its Content-Length says
            self.on_message_complete()

    def on_body(self, body: bytes) -> None:
        if not self.done:
            self.chunks.append(body)

    def on_message_complete(self) -> None:
        if self.done:
            return
        if self.parser.get_status_code() < 200:  # 100 Continue, 103 Early Hints: the answer follows
            self.headers, self.chunks, self.headers_done = HTTPHeaderDict(), [], False
            return
        # Asked now: llhttp forgets it once it starts on what may follow.
        self.keep_alive = self.parser.should_keep_alive()
        self.done = True


def _read_answer(sock: socket.socket, head_only: bool) -> _Answer:
    """The answer to the request just sent on ``sock``, its body decoded if gzipped. An answer the server
    ends by closing the connection (no length given) is whole when it closes; any other that stops short
    is an error."""
    reading = _Reading(head_only)
    while not reading.done:
        data = sock.recv(_READ_SIZE)
        if data:
            reading.parser.feed_data(data)
        elif reading.headers_done and _until_closed(reading.headers):
            reading.done = True  # and, closed, not kept alive
        else:
            raise http.client.RemoteDisconnected("the server closed the connection before the answer ended")
    body = b"".join(reading.chunks)
    if reading.headers.get("Content-Encoding", "").lower() in {"gzip", "x-gzip"}:
        body = gzip.decompress(body)
    return _Answer(reading.parser.get_status_code(), reading.headers, body, reading.keep_alive)


def _until_closed(headers: HTTPHeaderDict) -> bool:
    """Whether an answer with ``headers`` ends where its connection does (no length, not chunked)."""
    return "Content-Length" not in headers and "Transfer-Encoding" not in headers


#: Sent with every request: the one encoding ``send`` decodes (a caller's own choice would not be).
_ACCEPTED = {"Accept-Encoding": "gzip"}
#: Methods whose requests carry a length even without a body (``Content-Length: 0``), as ``http.client``'s.
_METHODS_WITH_BODY = frozenset({"PATCH", "POST", "PUT"})
#: What a request target cannot hold (``http.client``'s check).
_NOT_IN_TARGET = re.compile("[\x00-\x20\x7f]")
#: Bytes asked of the socket per read: a Belvo answer is a few kilobytes.
_READ_SIZE = 65536
#: Idle connections kept open: a gunicorn worker's threads each hold at most one.
_IDLE_CONNECTIONS = 32
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _dropped(sock: socket.socket) -> bool:
    """Whether an idle connection's socket has something to read: the server closed it (or broke the
    protocol); either way it is not to be used again (as urllib3 checks before reusing one).

    Peeked at without waiting, on the descriptor through the C socket type: in a gevent worker a poll,
    even one that does not wait, and gevent's own socket on a read that would block, both let the
    worker's other requests run before this one goes on."""
    # Given its kind, the C socket does not ask the system for it (two calls fewer).
    peek = _socket.socket(sock.family, sock.type, sock.proto, sock.fileno())
    try:
        peek.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)  # bytes, or b"" at the end: either way, done
    except BlockingIOError:
        return False  # nothing to read: still open
    except OSError:
        return True  # reset
    finally:
        peek.detach()
    return True


def proxy_for(url: str, environ: Mapping[str, str]) -> str | None:
    """The proxy ``environ`` names for ``url``: ``<scheme>_proxy``, else ``all_proxy`` (the lowercase
    spelling wins over the uppercase, as urllib reads them); none when ``no_proxy`` names the host.

    >>> proxy_for("https://api.belvo.com", {"HTTPS_PROXY": "http://proxy:3128"})
    'http://proxy:3128'
    >>> proxy_for("https://api.belvo.com", {"https_proxy": "http://p:1", "no_proxy": ".belvo.com"}) is None
    True
    """
    found: dict[str, str] = {}
    for name in sorted(environ, key=lambda name: name.islower()):  # lowercase last: it wins
        if name.lower().endswith("_proxy") and environ[name]:
            found[name.lower().removesuffix("_proxy")] = environ[name]
    parts = urlsplit(url)
    # proxy_bypass_environment is what urllib.request.proxy_bypass runs; typeshed does not list it.
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if bypass(parts.hostname or "", found):
        return None
    return found.get(parts.scheme) or found.get("all")
