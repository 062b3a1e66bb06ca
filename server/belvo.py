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
Belvo's own Python SDK sends its POSTs without one (docs/belvo.md §5.1). Every upstream failure is
logged with method, path template, status, attempt and Belvo's ``request_id``, never a body
(docs/security.md F7). The calls go through a :class:`~server.transport.Transport`: over the network in
real mode, to the emulator in the same process in emulator mode.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlencode

from flask import Flask, current_app

from server.config import RetryPolicy, Secret
from server.errors import ApiError, UpstreamError, UpstreamUnavailable, retry_after
from server.settings import settings
from server.transport import Reply, Transport, TransportError

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
#: Sent on every call, asking for JSON (the transport adds the encodings it decodes); a call with a body
#: adds ``_JSON_BODY``'s.
_HEADERS = {"User-Agent": "ofda-widget-backend", "Accept": "application/json"}
_JSON_BODY = {**_HEADERS, "Content-Type": "application/json"}


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

    response: Reply | None
    error: TransportError | None = None


class BelvoClient:
    """Talks to one Belvo environment (``transport``'s) with one pair of secret keys.

    ``transport`` is shared by every request of the process (its connection pool). ``policy`` sets the
    retries, the deadline and the circuit breaker in front of them. ``sleep`` and ``clock`` (monotonic
    seconds) are injectable so tests can run the retry schedule, the deadline and the breaker's pause
    instantly.
    """

    def __init__(
        self,
        transport: Transport,
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
        self._transport = transport
        self._secret_id = secret_id
        self._secret_password = secret_password
        self._policy = policy
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:
        return f"BelvoClient({self._transport.base_url!r})"

    # -- the API ---------------------------------------------------------------------------------------

    def create_widget_token(self, payload: Mapping[str, Any]) -> WidgetToken:
        """``POST /api/token/`` with ``payload`` (the OFDA token request without credentials): the keys
        go in the JSON body, as Belvo's curl examples show (docs/belvo.md §1.1)."""
        body = {"id": self._secret_id.reveal(), "password": self._secret_password.reveal(), **payload}
        response = self._call("POST", "/api/token/", "/api/token/", payload=body, basic_auth=False)
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
        payload: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        basic_auth: bool = True,
    ) -> Reply:
        """Send through the circuit breaker with retries: a 2xx response or a :class:`BelvoError`."""
        probe = self._breaker.allow()
        try:
            response = self._retried(
                method,
                template,
                path,
                payload=payload,
                params=params,
                basic_auth=basic_auth,
                retries=not probe,
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
        payload: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        basic_auth: bool,
        retries: bool,
    ) -> Reply:
        """Send (with retries unless told otherwise); return a 2xx response or raise a
        :class:`BelvoError`."""
        policy = self._policy
        schedule = policy.schedule if retries else ()
        started = self._clock()
        headers = self._headers(basic_auth=basic_auth, body=payload is not None)
        if params is not None:
            path = f"{path}?{urlencode(params)}"
        # allow_nan=False: NaN is not JSON, and Belvo would refuse it (requests encodes JSON bodies so).
        body = None if payload is None else json.dumps(payload, allow_nan=False).encode()
        unexpected_errors = 0
        attempt = 0
        while True:
            attempt += 1
            remaining = policy.deadline - (self._clock() - started)
            timeout = (min(policy.connect_timeout, remaining), min(policy.read_timeout, remaining))
            outcome = self._send(method, path, headers, body, timeout)
            response = outcome.response
            if response is not None and response.status < 400:
                return response

            errors = _errors_of(response) if response is not None else ()
            request_id = next((e.request_id for e in errors if e.request_id), None)
            status = response.status if response is not None else None
            log.warning(
                "belvo call failed",
                extra={
                    "method": method,
                    "path": template,
                    "status": status,
                    "attempt": attempt,
                    "belvo_request_id": request_id,
                    "belvo_error_code": errors[0].code if errors else _cause(outcome.error),
                },
            )
            if response is not None and not _retryable(response.status, errors):
                raise _final_error(response.status, errors, request_id, response)
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

    def _headers(self, *, basic_auth: bool, body: bool) -> Mapping[str, str]:
        headers = _JSON_BODY if body else _HEADERS
        if not basic_auth:
            return headers
        keys = f"{self._secret_id.reveal()}:{self._secret_password.reveal()}".encode()
        return {**headers, "Authorization": f"Basic {base64.b64encode(keys).decode()}"}

    def _send(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: tuple[float, float],
    ) -> _Attempt:
        try:
            return _Attempt(self._transport.send(method, path, headers, body, timeout))
        except TransportError as exc:
            return _Attempt(None, exc)


def _cause(error: TransportError | None) -> str:
    """What a transport failure was, for the log: the error that caused it (``TimeoutError``...)."""
    cause = error.__cause__ if error is not None else None
    return type(cause if cause is not None else error).__name__


def _retryable(status: int, errors: Sequence[BelvoErrorDetail]) -> bool:
    """5xx always; 4xx only for ``too_many_sessions`` (docs/belvo.md §6.2)."""
    if status >= 500:
        return True
    return any(e.code == TOO_MANY_SESSIONS for e in errors)


def _final_error(
    status: int,
    errors: tuple[BelvoErrorDetail, ...],
    request_id: str | None,
    response: Reply,
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


def _errors_of(response: Reply) -> tuple[BelvoErrorDetail, ...]:
    """Belvo's error array; a stand-in detail when the body is something else (HTML from the WAF)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    items = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    details = tuple(BelvoErrorDetail.from_json(item) for item in items if isinstance(item, Mapping))
    if details:
        return details
    return (BelvoErrorDetail(code="unknown", message=f"HTTP {response.status} without an error array"),)


def _json_body(response: Reply, template: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise BelvoBadResponse(f"expected JSON from {template}, got {response.status} non-JSON") from None


def _json_object(response: Reply, template: str) -> dict[str, Any]:
    body = _json_body(response, template)
    if not isinstance(body, dict):
        raise BelvoBadResponse(f"expected a JSON object from {template}, got {type(body).__name__}")
    return body


# -- the app's client ----------------------------------------------------------------------------------


_EXTENSION = "ofda.belvo"


def init_app(app: Flask) -> None:
    """Build the app's :class:`BelvoClient` over ``app.extensions["ofda.belvo_transport"]``."""
    config = settings(app)
    app.extensions[_EXTENSION] = BelvoClient(
        app.extensions["ofda.belvo_transport"],
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
