"""The Belvo API client: widget tokens, links and their data, with Belvo's retry policy and a deadline.

Errors (every call raises one of these or returns)::

    BelvoError                      (anything that kept a Belvo call from giving us an answer we can use)
    ├── BelvoAPIError               Belvo answered with its error array (status, errors, request_id);
    │   │                           a 4xx other than too_many_sessions: retrying would not help
    │   └── BelvoNotFound           404: no such link (or not visible with our keys)
    ├── BelvoUnavailable            connect errors, timeouts, 5xx or too_many_sessions after the retries or
    │                               the deadline, a 429 from Belvo's firewall, and 401 (our own keys are
    │                               wrong: the app user can do nothing about it, docs/security.md F8)
    └── BelvoBadResponse            a 2xx whose body is not what Belvo documents (e.g. no ``access`` token)

Belvo's retry policy (docs/belvo.md §6.2): 5xx and ``too_many_sessions`` are retried with exponential
backoff (3, 6, 12, 24, 48 s), ``500 unexpected_error`` at most 3 times, every other 4xx never. A phone is
waiting on our requests, so the schedule is cut short by a deadline (``BELVO_DEADLINE_SECONDS``); the
schedule itself is configuration so tests run with ``0,0,0`` or a fake ``sleep``.

Every call has a (connect, read) timeout: ``requests`` has none by default (docs/security.md F1), and
Belvo's own Python SDK sends its POSTs without one (docs/belvo.md §5.1). Every upstream failure is logged with
method, path template, status, attempt and Belvo's ``request_id``, never a body (docs/security.md F7).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import requests
from flask import Flask, current_app
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import ConnectionPool

from server.config import RetryPolicy, Secret
from server.errors import ApiError, UpstreamError, UpstreamUnavailable, retry_after
from server.settings import settings

log = logging.getLogger(__name__)

Resource = Literal["accounts", "owners", "transactions", "bills", "investments", "investment-transactions"]
#: Belvo's list endpoint of each resource; Brazil's investments live under ``/api/br/`` (Belvo's API
#: reference: ``/api/bills/``, ``/api/br/investments/``, ``/api/br/investment-transactions/``).
RESOURCE_PATHS: Mapping[Resource, str] = {
    "accounts": "/api/accounts/",
    "owners": "/api/owners/",
    "transactions": "/api/transactions/",
    "bills": "/api/bills/",
    "investments": "/api/br/investments/",
    "investment-transactions": "/api/br/investment-transactions/",
}
#: How many items one page of a list endpoint carries at most (Belvo's page_size limit).
_MAX_PAGE_SIZE = 1000

#: Belvo's error code for "a session is already open with the institution": the one 4xx to retry.
TOO_MANY_SESSIONS = "too_many_sessions"
#: Belvo: "500 unexpected_error: retry at most 3 times" (docs/belvo.md §6.2).
UNEXPECTED_ERROR = "unexpected_error"
MAX_UNEXPECTED_ERROR_RETRIES = 3
#: Retry-After we answer when Belvo's firewall rate-limits us without saying for how long.
DEFAULT_RATE_LIMIT_RETRY_AFTER = 60
#: Sent on every call: what a requests session would send, asking for JSON.
_HEADERS = {**requests.utils.default_headers(), "Accept": "application/json"}


@dataclass(frozen=True)
class BelvoErrorDetail:
    """One entry of Belvo's error array (docs/belvo.md §6.1).

    >>> BelvoErrorDetail.from_json({"request_id": "a6e1", "code": "required", "message": "x", "field": "f"})
    BelvoErrorDetail(code='required', message='x', field='f', request_id='a6e1')
    """

    code: str
    message: str
    field: str | None = None
    request_id: str | None = None

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> BelvoErrorDetail:
        def text(key: str) -> str | None:
            value = item.get(key)
            return None if value is None else str(value)

        return cls(
            code=text("code") or "unknown",
            message=text("message") or text("detail") or "",
            field=text("field"),
            request_id=text("request_id"),
        )


class BelvoError(Exception):
    """A Belvo call did not give us a usable answer."""


class BelvoAPIError(BelvoError):
    """Belvo answered ``status`` with its error array; the first ``request_id`` is kept for support."""

    def __init__(self, status: int, errors: tuple[BelvoErrorDetail, ...], request_id: str | None) -> None:
        self.status = status
        self.errors = errors
        self.request_id = request_id
        codes = ", ".join(e.code for e in errors) or "no error code"
        super().__init__(f"Belvo answered {status} ({codes}); request_id {request_id}")

    @property
    def code(self) -> str:
        return self.errors[0].code if self.errors else "unknown"


class BelvoNotFound(BelvoAPIError):
    """404: Belvo has no such object for our keys."""


class BelvoUnavailable(BelvoError):
    """Belvo cannot serve us now; the client may try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BelvoBadResponse(BelvoError):
    """Belvo answered 2xx with a body that is not what its API documents."""


@dataclass(frozen=True)
class WidgetToken:
    """The tokens ``POST /api/token/`` returns; ``access`` goes into the widget URL, ``refresh`` nowhere.

    ``expires_at`` is the access token's ``exp`` claim (docs/belvo.md §0.6: never assume 10 minutes).
    The tokens are bearer credentials, hence kept out of ``repr``.
    """

    access: str = field(repr=False)
    refresh: str = field(repr=False)
    expires_at: datetime

    @classmethod
    def from_json(cls, body: Any) -> WidgetToken:
        """Read Belvo's answer. The JWT is Belvo's (HS512 with Belvo's key), so its claims are read
        without verifying the signature: we only need to know when it stops working.

        >>> import jwt
        >>> token = jwt.encode({"exp": 1_800_000_000}, "belvo-side-key-" * 5, algorithm="HS512")
        >>> WidgetToken.from_json({"access": token, "refresh": "r"})
        WidgetToken(expires_at=datetime.datetime(2027, 1, 15, 8, 0, tzinfo=datetime.timezone.utc))
        """
        if not isinstance(body, Mapping):
            raise BelvoBadResponse(f"expected a JSON object from /api/token/, got {type(body).__name__}")
        access, refresh = body.get("access"), body.get("refresh")
        if not isinstance(access, str) or not isinstance(refresh, str):
            raise BelvoBadResponse("expected string 'access' and 'refresh' tokens from /api/token/")
        claims = _unverified_claims(access)
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise BelvoBadResponse("the access token from /api/token/ has no numeric 'exp' claim")
        return cls(access=access, refresh=refresh, expires_at=datetime.fromtimestamp(exp, UTC))


def _unverified_claims(token: str) -> Mapping[str, Any]:
    """The claims of a JWT whose signature is not ours to check.

    PyJWT's unverified decode still validates the header and each character of every segment: a sixth
    of a widget session's own CPU time (bench/sessions.py), for a token that only Belvo verifies.

    >>> import jwt
    >>> _unverified_claims(jwt.encode({"exp": 1}, "k" * 32, algorithm="HS256"))
    {'exp': 1}
    """
    header, _, rest = token.partition(".")
    payload, dot, _signature = rest.partition(".")
    try:
        if not (header and payload and dot):
            raise ValueError("not three segments")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        raise BelvoBadResponse("the access token from /api/token/ is not a JWT") from None
    if not isinstance(claims, dict):
        raise BelvoBadResponse("the access token from /api/token/ has no claims object")
    return claims


class CircuitBreaker:
    """Leaves Belvo alone once ``failures`` calls in a row ended unavailable: during an outage each app
    request gets its 503 at once instead of after the whole deadline, and Belvo is not hammered while it
    recovers. Shared by the threads of a process; with ``failures`` 0 it never opens.

    Open, it lets one call through after ``probe`` seconds: the probe, sent once without retries so its
    outcome comes within one timeout. A success closes the breaker, so calls resume seconds after Belvo
    does; each failed probe doubles the wait before the next, up to ``pause``, so a long outage costs
    Belvo one call per ``pause`` seconds per process.

    >>> now = [0.0]
    >>> breaker = CircuitBreaker(failures=2, pause=30, probe=2, clock=lambda: now[0])
    >>> breaker.record(ok=False); breaker.record(ok=False)
    >>> breaker.allow()
    Traceback (most recent call last):
    ...
    server.belvo.BelvoUnavailable: Belvo failed repeatedly; not calling it for 2 seconds
    >>> now[0] = 2.0
    >>> breaker.allow()  # this call is the probe
    True
    >>> breaker.record(ok=False, probe=True)  # still down: the next probe waits twice as long
    >>> breaker.allow()
    Traceback (most recent call last):
    ...
    server.belvo.BelvoUnavailable: Belvo failed repeatedly; not calling it for 4 seconds
    >>> now[0] = 6.0
    >>> breaker.allow()
    True
    >>> breaker.record(ok=True, probe=True); breaker.allow()  # closed: calls are no probes
    False
    """

    def __init__(
        self,
        failures: int,
        pause: float,
        probe: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._failures = failures
        self._pause = pause
        self._first_wait = min(probe, pause)
        self._clock = clock
        self._lock = threading.Lock()
        self._in_a_row = 0
        self._wait = self._first_wait
        self._open_until: float | None = None

    def allow(self) -> bool:
        """Raise :class:`BelvoUnavailable` while the breaker is open; True when this call is the probe."""
        with self._lock:
            if self._open_until is None:
                return False
            remaining = self._open_until - self._clock()
            if remaining > 0:
                seconds = retry_after(remaining)
                raise BelvoUnavailable(
                    f"Belvo failed repeatedly; not calling it for {seconds} seconds", seconds
                )
            # Half-open: this call is the probe; the others are refused until its outcome, or until
            # another wait has passed if it never comes back.
            self._open_until = self._clock() + self._wait
            return True

    def record(self, *, ok: bool, probe: bool = False) -> None:
        with self._lock:
            if ok:
                if self._open_until is not None:
                    log.info("Belvo answered again; calls resume")
                self._in_a_row, self._open_until, self._wait = 0, None, self._first_wait
                return
            self._in_a_row += 1
            if self._failures and self._in_a_row >= self._failures:
                if self._open_until is None:
                    log.error("Belvo failed %d calls in a row; pausing calls", self._in_a_row)
                elif probe:
                    self._wait = min(self._wait * 2, self._pause)
                self._open_until = self._clock() + self._wait


@dataclass(frozen=True)
class _Attempt:
    """The outcome of one HTTP attempt: a response, or the transport error that replaced it."""

    response: requests.Response | None
    error: requests.RequestException | None = None


class BelvoClient:
    """Talks to one Belvo environment (``base_url``) with one pair of secret keys.

    ``session`` is shared by every request of the process: the adapter it mounts for Belvo's URL (its
    connection pools), its TLS settings, proxies and response hooks are used; its default headers,
    auth, cookies and redirects are not (every call sets its own headers and keys; Belvo's API neither
    sets cookies nor redirects). ``policy`` sets the retries, the deadline and the circuit breaker in
    front of them. ``sleep`` and ``clock`` (monotonic seconds) are injectable so tests can run the retry
    schedule, the deadline and the breaker's pause instantly.
    """

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        secret_id: Secret,
        secret_password: Secret,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._breaker = CircuitBreaker(
            policy.breaker_failures, policy.breaker_pause, policy.breaker_probe, clock
        )
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._secret_id = secret_id
        self._secret_password = secret_password
        self._policy = policy
        self._sleep = sleep
        self._clock = clock
        #: Requests prepared once per method, path and authentication, for the paths with nothing of the
        #: caller's in them (the token's): each call copies one and adds its body. Preparing a request
        #: anew parses and quotes its URL and builds its headers: a tenth of a widget session's own CPU.
        self._templates: dict[tuple[str, str, bool], requests.PreparedRequest] = {}

    def __repr__(self) -> str:
        return f"BelvoClient({self._base_url!r})"

    # -- the API ---------------------------------------------------------------------------------------

    def create_widget_token(self, payload: Mapping[str, Any]) -> WidgetToken:
        """``POST /api/token/`` with ``payload`` (the OFDA token request without credentials): the keys
        go in the JSON body, as Belvo's curl examples show (docs/belvo.md §1.1)."""
        body = {"id": self._secret_id.reveal(), "password": self._secret_password.reveal(), **payload}
        response = self._call("POST", "/api/token/", "/api/token/", json=body, basic_auth=False)
        return WidgetToken.from_json(_json_body(response, "/api/token/"))

    def get_link(self, link_id: str) -> dict[str, Any]:
        """``GET /api/links/{id}/``: the link object (docs/belvo.md §4.4)."""
        response = self._call("GET", "/api/links/{id}/", f"/api/links/{quote(link_id, safe='')}/")
        return _json_object(response, "/api/links/{id}/")

    def delete_link(self, link_id: str) -> None:
        """``DELETE /api/links/{id}/``: deletes the link and, for OFDA, revokes its consent."""
        self._call("DELETE", "/api/links/{id}/", f"/api/links/{quote(link_id, safe='')}/")

    def list_page(self, resource: Resource, params: Mapping[str, str]) -> dict[str, Any]:
        """One page of the resource's list (``link``, ``page``, ``page_size``, date filters...):
        Belvo's envelope ``{count, next, previous, results}``."""
        return self._page(RESOURCE_PATHS[resource], params)

    def list_institutions(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """Every institution of ``GET /api/institutions/`` matching ``params``, page after page."""
        return self._every_page("/api/institutions/", params)

    def list_links(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """Every link of ``GET /api/links/`` matching ``params`` (``external_id``, ``status``...: Belvo's
        list filters, OpenAPI 1.35), page after page."""
        return self._every_page("/api/links/", params)

    def _every_page(self, template: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """The ``results`` of every page of a list endpoint, the largest pages Belvo serves."""
        found: list[dict[str, Any]] = []
        page_number = 1
        while True:
            page = self._page(
                template, {**params, "page_size": str(_MAX_PAGE_SIZE), "page": str(page_number)}
            )
            found += [item for item in page["results"] if isinstance(item, dict)]
            if not page.get("next"):
                return found
            page_number += 1

    def _page(self, template: str, params: Mapping[str, str]) -> dict[str, Any]:
        response = self._call("GET", template, template, params=params)
        page = _json_object(response, template)
        if not isinstance(page.get("results"), list):
            raise BelvoBadResponse(f"expected a paginated envelope with 'results' from {template}")
        return page

    # -- transport, retries and the deadline ----------------------------------------------------------

    def _call(
        self,
        method: str,
        template: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        basic_auth: bool = True,
    ) -> requests.Response:
        """Send through the circuit breaker with retries: a 2xx response or a :class:`BelvoError`."""
        probe = self._breaker.allow()
        try:
            response = self._retried(
                method, template, path, json=json, params=params, basic_auth=basic_auth, retries=not probe
            )
        except BelvoUnavailable:
            self._breaker.record(ok=False, probe=probe)
            raise
        except BelvoError:
            self._breaker.record(ok=True, probe=probe)  # Belvo answered (a 4xx is an answer): it is up
            raise
        self._breaker.record(ok=True, probe=probe)
        return response

    def _retried(
        self,
        method: str,
        template: str,
        path: str,
        *,
        json: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        basic_auth: bool,
        retries: bool,
    ) -> requests.Response:
        """Send (with retries unless told otherwise); return a 2xx response or raise a
        :class:`BelvoError`."""
        policy = self._policy
        schedule = policy.schedule if retries else ()
        started = self._clock()
        auth = (self._secret_id.reveal(), self._secret_password.reveal()) if basic_auth else None
        unexpected_errors = 0
        attempt = 0
        while True:
            attempt += 1
            remaining = policy.deadline - (self._clock() - started)
            timeout = (min(policy.connect_timeout, remaining), min(policy.read_timeout, remaining))
            prepared = self._prepare(method, template, path, json=json, params=params, auth=auth)
            outcome = self._send(prepared, timeout)
            response = outcome.response
            if response is not None and response.status_code < 400:
                return response

            errors = _errors_of(response) if response is not None else ()
            request_id = next((e.request_id for e in errors if e.request_id), None)
            status = response.status_code if response is not None else None
            log.warning(
                "belvo call failed",
                extra={
                    "method": method,
                    "path": template,
                    "status": status,
                    "attempt": attempt,
                    "belvo_request_id": request_id,
                    "belvo_error_code": errors[0].code if errors else type(outcome.error).__name__,
                },
            )
            if response is not None and not _retryable(response.status_code, errors):
                raise _final_error(response.status_code, errors, request_id, response)
            if errors and errors[0].code == UNEXPECTED_ERROR:
                unexpected_errors += 1

            retries_done = attempt - 1
            if retries_done >= len(schedule) or unexpected_errors > MAX_UNEXPECTED_ERROR_RETRIES:
                raise BelvoUnavailable(
                    f"Belvo {method} {template} failed {attempt} times",
                    retry_after(schedule[-1] if schedule else 1),
                )
            delay = schedule[retries_done]
            if self._clock() - started + delay >= policy.deadline:
                raise BelvoUnavailable(
                    f"Belvo {method} {template} failed; the next retry would pass the deadline",
                    retry_after(delay),
                )
            self._sleep(delay)

    def _prepare(
        self,
        method: str,
        template: str,
        path: str,
        *,
        json: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
    ) -> requests.PreparedRequest:
        # Headers and keys are explicit here, so the request is not merged with the session's defaults
        # (the merge took a sixth of the client's CPU time per call).
        if path != template or params is not None:
            return requests.Request(
                method,
                self._base_url + path,
                headers=_HEADERS,
                json=json,
                params=params,
                auth=auth,
            ).prepare()
        key = (method, path, auth is not None)
        if (prototype := self._templates.get(key)) is None:
            prototype = requests.Request(method, self._base_url + path, headers=_HEADERS, auth=auth).prepare()
            self._templates[key] = prototype
        prepared = prototype.copy()
        if json is not None:
            prepared.prepare_body(None, None, json)
        return prepared

    def _send(self, prepared: requests.PreparedRequest, timeout: tuple[float, float]) -> _Attempt:
        # Straight to the adapter: ``Session.send`` would add a cookie jar shared by every caller and a
        # redirect check, a tenth of the call's CPU time. Belvo's API does not redirect: a redirect is
        # answered as it is, never followed with the keys.
        session = self._session
        try:
            response = session.get_adapter(prepared.url or "").send(
                prepared,
                timeout=timeout,
                verify=True if session.verify is None else session.verify,
                cert=session.cert,
                proxies=session.proxies,
            )
            for hook in session.hooks["response"]:  # as requests runs them: a hook may replace the answer
                response = hook(response) or response
        except (requests.ConnectionError, requests.Timeout) as exc:
            return _Attempt(None, exc)
        return _Attempt(response)


def _retryable(status: int, errors: Sequence[BelvoErrorDetail]) -> bool:
    """5xx always; 4xx only for ``too_many_sessions`` (docs/belvo.md §6.2)."""
    if status >= 500:
        return True
    return any(e.code == TOO_MANY_SESSIONS for e in errors)


def _final_error(
    status: int,
    errors: tuple[BelvoErrorDetail, ...],
    request_id: str | None,
    response: requests.Response,
) -> BelvoError:
    match status:
        case 401:
            # Our secret keys are wrong or rotated: an operator must act, the app user cannot.
            log.error("Belvo rejected our secret keys (401); check BELVO_SECRET_ID/BELVO_SECRET_PASSWORD")
            return BelvoUnavailable(
                "Belvo rejected the backend's secret keys", DEFAULT_RATE_LIMIT_RETRY_AFTER
            )
        case 429:
            header = response.headers.get("Retry-After", "")
            seconds = int(header) if header.isdigit() else DEFAULT_RATE_LIMIT_RETRY_AFTER
            return BelvoUnavailable("Belvo is rate-limiting the backend", max(1, seconds))
        case 404:
            return BelvoNotFound(status, errors, request_id)
        case _:
            return BelvoAPIError(status, errors, request_id)


def _errors_of(response: requests.Response) -> tuple[BelvoErrorDetail, ...]:
    """Belvo's error array; a stand-in detail when the body is something else (HTML from the WAF)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    items = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    details = tuple(BelvoErrorDetail.from_json(item) for item in items if isinstance(item, Mapping))
    if details:
        return details
    return (BelvoErrorDetail(code="unknown", message=f"HTTP {response.status_code} without an error array"),)


def _json_body(response: requests.Response, template: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise BelvoBadResponse(
            f"expected JSON from {template}, got {response.status_code} non-JSON"
        ) from None


def _json_object(response: requests.Response, template: str) -> dict[str, Any]:
    body = _json_body(response, template)
    if not isinstance(body, dict):
        raise BelvoBadResponse(f"expected a JSON object from {template}, got {type(body).__name__}")
    return body


# -- the app's client ----------------------------------------------------------------------------------


def pooled_session(api_url: str, environ: Mapping[str, str]) -> requests.Session:
    """The process's HTTP session to Belvo: pooled connections (one TLS handshake per worker thread, not
    per request), and the proxy and CA variables ``requests`` knows taken from ``environ`` once, here:
    left to ``requests``, every call would scan the whole environment again."""
    session = requests.Session()
    adapter = _PoolKeepingAdapter(pool_connections=4, pool_maxsize=32)
    session.mount("https://", adapter)
    session.mount("http://", adapter)  # a local stand-in for Belvo (bench/sessions.py) pools the same way
    session.proxies.update(_proxies(api_url, environ))
    session.verify = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or True
    session.trust_env = False
    return session


class _PoolKeepingAdapter(HTTPAdapter):
    """requests' adapter, keeping the connection pool it found for an origin and TLS settings. requests
    works it out again for every request (the URL parsed, the TLS settings turned into the pool manager's
    key, the key normalized): 140,000 instructions, 3% of a widget session's (valgrind, 300 sessions),
    for a client that only ever calls Belvo. A pool the pool manager lets go of stays open (urllib3 2
    closes none it drops) and is still used; ``close`` lets go of them all. Requests through a proxy are
    left to requests: its choice depends on the session's proxies of the moment."""

    def __init__(self, *, pool_connections: int, pool_maxsize: int) -> None:
        super().__init__(pool_connections=pool_connections, pool_maxsize=pool_maxsize)
        self._pools: dict[
            tuple[str, str, bool | str | None, tuple[str, str] | str | None], ConnectionPool
        ] = {}

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: tuple[str, str] | str | None = None,
    ) -> ConnectionPool:
        if proxies:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        # A prepared URL always has a path: scheme://host[:port]/...
        scheme, _, rest = (request.url or "").partition("://")
        key = (scheme, rest.partition("/")[0], verify, cert)
        if (pool := self._pools.get(key)) is None:
            pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
            self._pools[key] = pool
        return pool

    def close(self) -> None:
        super().close()
        self._pools.clear()


def _proxies(api_url: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The ``<scheme>_proxy`` variables of ``environ`` (lowercase spelling first, as urllib reads them),
    none when ``no_proxy`` names the host. ``requests.utils.get_environ_proxies`` would apply the same
    rules, but only to ``os.environ``; urllib's bypass check takes the mapping."""
    found: dict[str, str] = {}
    for name in sorted(environ, key=lambda name: name.islower()):  # lowercase last: it wins
        if name.lower().endswith("_proxy") and environ[name]:
            found[name.lower().removesuffix("_proxy")] = environ[name]
    # proxy_bypass_environment is what urllib.request.proxy_bypass runs; typeshed does not list it.
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if bypass(urlsplit(api_url).hostname or "", found):
        return {}
    found.pop("no", None)
    return found


_EXTENSION = "ofda.belvo"


def init_app(app: Flask) -> None:
    """Build the app's :class:`BelvoClient` over ``app.extensions["ofda.belvo_session"]``."""
    config = settings(app)
    app.extensions[_EXTENSION] = BelvoClient(
        app.extensions["ofda.belvo_session"],
        config.belvo_api_url,
        config.belvo_secret_id,
        config.belvo_secret_password,
        config.belvo_retry,
    )


def belvo_client() -> BelvoClient:
    """The running app's Belvo client."""
    client: BelvoClient = current_app.extensions[_EXTENSION]
    return client


def as_api_error(exc: BelvoError) -> ApiError:
    """What the app's client is told when a Belvo call fails (docs/contract.md section 2).

    >>> as_api_error(BelvoUnavailable("down", 6)).headers()
    {'Retry-After': '6'}
    >>> error = as_api_error(BelvoAPIError(400, (BelvoErrorDetail("invalid", "x"),), "ab12"))
    >>> error.status, error.code, str(error)
    (502, 'upstream_error', 'Belvo refused the request (400 invalid); Belvo request_id ab12')
    """
    match exc:
        case BelvoUnavailable():
            return UpstreamUnavailable(
                "Belvo is unavailable right now; try again later", retry_after=exc.retry_after
            )
        case BelvoAPIError():
            # Belvo's code and request_id help support; its message is not passed on (it may echo
            # what we sent).
            return UpstreamError(
                f"Belvo refused the request ({exc.status} {exc.code}); Belvo request_id {exc.request_id}"
            )
        case _:
            return UpstreamError(f"Belvo sent an unexpected answer: {exc}")
