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

    Written on the standard library's ``http.client``, because urllib3's pool and response layers around
    the same connection cost a call 54 µs more CPU (128 against 74 µs for a token call, one thread), a
    thirteenth of a widget session's; what this pool does besides is small: keep idle connections, drop one
    the server has closed before reusing it, and never reuse one a failure left in an unknown state.

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
        self._idle: deque[_Connection] = deque()
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
        connection = self._connection(connect)
        try:
            if connection.sock is None:
                connection.connect()
            assert connection.sock is not None
            connection.sock.settimeout(read)
            if body is not None:
                sent["Content-Length"] = str(len(body))
                connection.body = body
            connection.request(method, target, None, sent)
            answer = connection.getresponse()
            content = answer.read()
            if answer.getheader("Content-Encoding", "").lower() in {"gzip", "x-gzip"}:
                content = gzip.decompress(content)
        except (OSError, http.client.HTTPException, zlib.error) as exc:
            connection.close()  # in an unknown state: never reused
            raise TransportError(f"{method} {self.base_url}: {type(exc).__name__}") from exc
        if len(self._idle) < _IDLE_CONNECTIONS and not self._closed:
            self._idle.append(connection)  # closed by http.client already if the answer ended it
        else:
            connection.close()
        return Reply(answer.status, HTTPHeaderDict(answer.getheaders()), content)

    def _connection(self, connect_timeout: float) -> _Connection:
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
            return _Connection(host, port, timeout=connect_timeout)
        connection = _TlsConnection(host, port, timeout=connect_timeout, context=self._tls)
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


class _Connection(http.client.HTTPConnection):
    """``http.client``'s connection, writing a request's head and its ``body`` (set before the request,
    which is then sent without one) in one write: ``http.client`` writes the body on its own, a system call
    more, and with a read timeout set a poll before it, each a hand-over of the GIL; on the network, a
    segment more. One write took 2% off a widget session's CPU (one thread, against the stand-in)."""

    body: bytes | None = None

    def send(self, data: Any) -> None:
        # Called with the head once the headers are done; a CONNECT to a proxy goes before any body is set.
        if self.body is not None:
            data, self.body = data + self.body, None
        super().send(data)


class _TlsConnection(_Connection, http.client.HTTPSConnection):
    """:class:`_Connection` over TLS."""


#: Sent with every request: the one encoding ``send`` decodes (a caller's own choice would not be).
_ACCEPTED = {"Accept-Encoding": "gzip"}
#: Idle connections kept open: a gunicorn worker's threads each hold at most one.
_IDLE_CONNECTIONS = 32
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _dropped(sock: socket.socket) -> bool:
    """Whether an idle connection's socket has something to read: the server closed it (or broke the
    protocol); either way it is not to be used again (as urllib3 checks before reusing one).

    Peeked at without waiting, on the descriptor through the C socket type: in a gevent worker a poll,
    even one that does not wait, and gevent's own socket on a read that would block, both let the
    worker's other requests run before this one goes on."""
    peek = _socket.socket(fileno=sock.fileno())
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
