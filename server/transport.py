"""How the Belvo client's requests reach Belvo: one interface, :class:`Transport`, and its real
implementation over the network, :class:`HttpTransport`; emulator mode hands them to the emulator in the
same process instead (:class:`server.inprocess.WSGITransport`).

A transport is bound to one API's base URL and sends a method, a path (with its query) and bytes; it
answers a :class:`Reply` whatever the status, or raises :class:`TransportError` when no answer came.
Retries, the deadline and what a status means are the client's (``server/belvo.py``).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import certifi
import urllib3
from urllib3.exceptions import HTTPError

from server.config import ConfigError

#: Connections kept open per pool: a gunicorn worker's threads each hold at most one.
_CONNECTIONS_PER_POOL = 32


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
    """Belvo's API over HTTP(S) with urllib3: a pool of keep-alive connections to ``base_url``, the CA
    bundle and proxy that ``environ`` names (read once, here), no retries and no redirects (the client
    decides what to retry; Belvo's API does not redirect, and a redirect is never followed with our keys).

    It sends straight on urllib3's pool: requests' session and adapter around the same pool cost a widget
    session 60 to 75 µs of CPU per call (a quarter of the call's), for nothing a Belvo call uses.

    ``environ`` is read as requests reads its environment, so a deployment's settings keep their meaning:
    ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` (certifi's bundle otherwise), and the ``<scheme>_proxy``,
    ``all_proxy`` and ``no_proxy`` variables (lowercase first, as urllib reads them).
    """

    def __init__(self, base_url: str, environ: Mapping[str, str]) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        #: The path the API lives under (empty for Belvo's; a local stand-in may sit below a prefix).
        self._prefix = parts.path
        tls: dict[str, Any] = {
            "ca_certs": environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or certifi.where()
        }
        proxy = proxy_for(self.base_url, environ)
        manager: urllib3.PoolManager
        if proxy is None:
            manager = urllib3.PoolManager(maxsize=_CONNECTIONS_PER_POOL, **tls)
        elif urlsplit(proxy).scheme in {"http", "https"}:
            manager = urllib3.ProxyManager(proxy, maxsize=_CONNECTIONS_PER_POOL, **tls)
        else:
            raise ConfigError(f"expected an http:// or https:// proxy for {parts.scheme} URLs, got {proxy!r}")
        self._manager = manager
        #: Plain HTTP through a proxy is forwarded with the whole URL (the manager does that); HTTPS is
        #: tunnelled, and its pool then speaks to the origin as if directly.
        self._forwarded = proxy is not None and parts.scheme == "http"
        self._pool = manager.connection_from_url(self.base_url)

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
        options: dict[str, Any] = {
            "body": body,
            "headers": headers,
            "timeout": urllib3.Timeout(connect=connect, read=read),
            "retries": False,
            "redirect": False,
        }
        try:
            if self._forwarded:
                answer = self._manager.urlopen(method, self.base_url + path, **options)
            else:
                answer = self._pool.urlopen(method, self._prefix + path, **options)
        except (HTTPError, OSError) as exc:
            raise TransportError(f"{method} {self.base_url}: {type(exc).__name__}") from exc
        return Reply(answer.status, answer.headers, answer.data)

    def close(self) -> None:
        """Close the pooled connections; the transport is not to be used after."""
        self._pool.close()
        self._manager.clear()


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
