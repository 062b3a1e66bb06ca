"""Configuration from the environment (12-factor), validated once at start-up.

A misconfigured deployment must refuse to start with a message naming the setting, instead of failing in
front of a user. ``create_app(config, environ)`` is the one place that reads the process environment
(``os.environ`` unless ``environ`` is given) and hands it to the loaders here; ``config`` overrides it.
``ofda`` (a Flask ``FlaskGroup``) also loads a ``.env`` file in development.

With none of ``BELVO_SECRET_ID``, ``BELVO_SECRET_PASSWORD`` and ``BELVO_API_URL`` set, the backend runs in
*emulator mode*: it mounts the offline Belvo emulator at ``/sandbox`` and talks to it instead of Belvo.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError

from deeplinks import DEFAULT_CALLBACK_URLS, CallbackUrls, DeeplinkError
from deeplinks._url import NEVER_CALLBACK_SCHEMES
from server import ofda
from server.errors import flatten_messages
from server.ofda import Branding, BrandingSchema, ThemeEntry, ThemeSchema


class ConfigError(RuntimeError):
    """The configuration is unusable. Each of ``problems`` names a setting and what it expected, and
    all of them are reported at once: one start-up shows everything to fix."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Secret:
    """A value that must never be printed: its ``repr`` and ``str`` are masked.

    >>> s = Secret("hunter2")
    >>> s, str(s), s.reveal()
    (Secret('********'), '********', 'hunter2')
    """

    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __bool__(self) -> bool:
        return bool(self._value)


# Schemes a callback URL may never use: those no Belvo callback can use (deeplinks refuses them too),
# plus those that leave the app's control or travel in clear text: http (an https link is verified,
# docs/security.md B2), ftp, and Android's content provider URLs (docs/security.md B1).
FORBIDDEN_CALLBACK_SCHEMES = NEVER_CALLBACK_SCHEMES | {"ftp", "http", "content"}

_LOCAL_BASE_URL = "http://127.0.0.1:8000"
T = TypeVar("T")

DEV_APP_JWT_SECRET = "dev-only-app-jwt-secret-not-for-production"  # noqa: S105 (emulator mode only)
DEV_WEBHOOK_AUTH = "Bearer dev-only-webhook-secret"


@dataclass(frozen=True)
class RetryPolicy:
    """How Belvo calls are timed out and retried (docs/belvo.md §6.2, docs/security.md F1-F4).

    ``schedule`` holds the waits before each retry (Belvo's: 3, 6, 12, 24, 48 s); ``deadline`` bounds a
    whole call, retries included, because a phone is waiting on it.
    """

    connect_timeout: float
    read_timeout: float
    schedule: tuple[float, ...]
    deadline: float
    #: Calls in a row that may end "unavailable" before Belvo is left alone for ``breaker_pause``
    #: seconds (docs/security.md F5); 0 turns the breaker off.
    breaker_failures: int = 5
    breaker_pause: float = 30.0
    #: The open breaker lets one call through (one attempt, no retries) after this many seconds, then
    #: after twice as long each time that probe fails, up to ``breaker_pause``.
    breaker_probe: float = 2.0


@dataclass(frozen=True)
class WidgetConfig:
    """The server-owned parts of every OFDA token request and widget URL (docs/contract.md section 4: never
    taken from the client)."""

    terms_url: str
    scopes: tuple[str, ...]
    permissions: tuple[str, ...]
    purpose: str
    fetch_resources: tuple[str, ...]
    stale_in: str | None
    access_mode: str
    branding: Branding | None
    theme: tuple[ThemeEntry, ...] | None
    color_scheme: str | None
    consent_duration_days: int | None
    show_close_dialog: bool | None
    show_abandon_survey: bool | None


@dataclass(frozen=True)
class SessionLimits:
    """How many widget sessions one user may create per minute and per day, and hold open at once
    (docs/security.md C1: every token request sends the user's CPF to Belvo, so a stolen app token must not
    turn into a stream of them)."""

    per_minute: int
    per_day: int
    max_pending: int
    #: Sessions per minute from one client IP address, whoever the users; ``None``: no such limit (the
    #: default: behind a router every request seems to come from the router, and Brazilian carriers put
    #: many phones behind one address, so it needs ``TRUSTED_PROXY_HOPS`` and a deliberate choice).
    per_ip_per_minute: int | None = None


@dataclass(frozen=True)
class Settings:
    database_url: str
    #: Connections each process keeps open per pool (``DATABASE_POOL_SIZE``): at least the requests it has
    #: at the database at once, or on SQLite the ones beyond are opened and closed again for every query,
    #: on PostgreSQL (a server process each) they wait for one.
    database_pool_size: int
    public_base_url: str
    emulator_mode: bool
    belvo_api_url: str
    belvo_secret_id: Secret
    belvo_secret_password: Secret
    belvo_widget_url: str
    #: My Belvo Portal, where users manage and renew their consents (docs/contract.md section 7).
    portal_url: str
    app_jwt_secret: Secret
    #: Accepted ``Authorization`` values for Belvo's webhooks; two during a rotation.
    webhook_auth: tuple[Secret, ...]
    callback_urls: CallbackUrls
    max_content_length: int
    qa_page: bool
    #: Apply migrations when the app starts (default in emulator mode, so a laptop needs no step);
    #: deployments run ``ofda db upgrade`` as a release step instead (Procfile).
    auto_migrate: bool
    log_level: str
    testing: bool
    widget: WidgetConfig
    belvo_retry: RetryPolicy
    session_limits: SessionLimits
    #: How many proxies in front of the app append to ``X-Forwarded-For`` (the platform's router: 1);
    #: the client's address is read that many hops back. 0: the connection's own address.
    trusted_proxy_hops: int
    #: A new link to the same person at the same bank as one the user holds replaces it (deleted at
    #: Belvo), as Belvo's link guide recommends; ``DUPLICATE_LINKS=keep`` keeps both.
    replace_duplicate_links: bool = True
    #: Every user's links are reconciled with Belvo at least this often (``RECONCILE_EVERY_SECONDS``)...
    reconcile_every: timedelta = timedelta(hours=1)
    #: ...and on ``GET /v1/links`` when the last reconcile was queued this long ago or more
    #: (``RECONCILE_AFTER_SECONDS``): an app reading its links often costs Belvo one call per interval.
    reconcile_after: timedelta = timedelta(minutes=5)
    #: Emulator mode: the SQLite file of the emulator's state (default: derived from ``database_url``).
    emulator_state_path: str | None = None


class _Source:
    """Reads settings from the overrides first, then the environment, then the caller's defaults."""

    def __init__(
        self, overrides: Mapping[str, Any], environ: Mapping[str, str], defaults: Mapping[str, str]
    ) -> None:
        self._overrides = overrides
        self._environ = environ
        self._defaults = defaults
        #: Every problem found so far; reading goes on past one, so that all are reported together.
        self.problems: list[str] = []

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def checked(self, fallback: T, compute: Callable[..., T], *args: Any) -> T:
        """``compute(*args)``, or ``fallback`` once the problems it raised are noted."""
        try:
            return compute(*args)
        except ConfigError as error:
            self.problems.extend(error.problems)
            return fallback

    def raw(self, key: str) -> Any:
        if key in self._overrides:
            return self._overrides[key]
        value = self._environ.get(key)
        return value if value not in (None, "") else self._defaults.get(key)

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.raw(key)
        return default if value is None else str(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        self.problem(f"{key}: expected true or false, got {value!r}")
        return default

    def optional_flag(self, key: str) -> bool | None:
        return None if self.raw(key) is None else self.flag(key, False)

    def integer(self, key: str, default: int) -> int:
        value = self.raw(key)
        if value is None:
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            self.problem(f"{key}: expected an integer, got {value!r}")
            return default

    def number(self, key: str, default: float) -> float:
        value = self.raw(key)
        if value is None:
            return default
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.problem(f"{key}: expected a number of seconds, got {value!r}")
            return default
        if not math.isfinite(number) or number <= 0:
            self.problem(f"{key}: expected a positive number of seconds, got {value!r}")
            return default
        return number

    def words(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """A comma-separated list (also accepted: a JSON array, or a list given as an override)."""
        value = self.raw(key)
        if value is None:
            return default
        items = value if isinstance(value, list | tuple) else str(value).split(",")
        return tuple(str(item).strip() for item in items if str(item).strip())

    def choice(self, key: str, allowed: tuple[Any, ...], default: Any = None) -> Any:
        value = self.raw(key)
        if value is None:
            return default
        for option in allowed:
            if str(option) == str(value).strip():
                return option
        self.problem(f"{key}: expected one of {', '.join(map(str, allowed))}, got {value!r}")
        return default

    def json_value(self, key: str) -> Any:
        value = self.raw(key)
        if value is None or not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            self.problem(f"{key}: expected JSON, got invalid JSON ({exc.msg})")
            return None


def validate_callback_url(key: str, url: str) -> str:
    """Refuse callback URLs that would be an open redirect or ambiguous to match (docs/security.md B1).

    >>> validate_callback_url("X", "ofdaapp://belvo/success")
    'ofdaapp://belvo/success'
    >>> validate_callback_url("X", "javascript:alert(1)")
    Traceback (most recent call last):
    ...
    server.config.ConfigError: X: scheme 'javascript' is not allowed for a callback URL
    """
    if not url.isascii() or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ConfigError(f"{key}: expected an ASCII URL without spaces, got {url!r}")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not scheme:
        raise ConfigError(f"{key}: expected an absolute URL with a scheme, got {url!r}")
    if scheme in FORBIDDEN_CALLBACK_SCHEMES:
        raise ConfigError(f"{key}: scheme {scheme!r} is not allowed for a callback URL")
    if not parts.netloc or "@" in parts.netloc or parts.port is not None:
        raise ConfigError(f"{key}: expected a host without user info or port, got {url!r}")
    if parts.query or parts.fragment:
        raise ConfigError(f"{key}: expected no query or fragment (Belvo appends its own), got {url!r}")
    return url


def _callback_urls(src: _Source, public_base_url: str, emulator_mode: bool) -> CallbackUrls:
    scheme = src.text("CALLBACK_SCHEME", "ofdaapp")
    urls = {
        kind: src.checked(
            None,
            validate_callback_url,
            f"CALLBACK_URL_{kind.upper()}",
            src.text(f"CALLBACK_URL_{kind.upper()}", f"{scheme}://belvo/{kind}") or "",
        )
        for kind in ("success", "exit", "event")
    }
    link = src.text("APPLICATION_LINK")
    if link is not None:
        link = src.checked(None, validate_application_link, link, public_base_url, emulator_mode)
    if None in urls.values():
        return DEFAULT_CALLBACK_URLS  # each wrong URL is reported already
    if len(set(urls.values())) != 3:
        raise ConfigError("CALLBACK_URL_*: the success, exit and event URLs must be distinct")
    if link is not None and link in urls.values():
        raise ConfigError("APPLICATION_LINK: expected a URL distinct from the CALLBACK_URL_* ones")
    try:
        return CallbackUrls(**cast(dict[str, str], urls), application_link=link)
    except DeeplinkError as error:
        raise ConfigError(f"CALLBACK_URL_*: {error.message}") from None


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lowercased: what a browser compares to tell two sites apart.

    >>> origin("HTTP://127.0.0.1:8000/belvo/app")
    'http://127.0.0.1:8000'
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def validate_application_link(url: str, public_base_url: str, emulator_mode: bool) -> str:
    """The app's universal link / Android App Link for the App2App flow: https on the default port (the
    only kind iOS and Android verify and hand to an app without asking), with a path and no query (the
    bank appends its own: https://developers.belvo.com/docs/hosted-widget-app2app-ofda). In emulator
    mode the backend's own address also does, http included, so the round trip runs on a laptop.

    >>> validate_application_link("https://app.example.br/belvo-widget", "http://127.0.0.1:8000", False)
    'https://app.example.br/belvo-widget'
    >>> validate_application_link("http://127.0.0.1:8000/belvo/app", "http://127.0.0.1:8000", True)
    'http://127.0.0.1:8000/belvo/app'
    """
    expected = "an https URL with a path and no port, query or fragment" + (
        f" (or one on this backend's own address, {origin(public_base_url)})" if emulator_mode else ""
    )
    parts = urlsplit(url) if url.isascii() and not any(ch.isspace() for ch in url) else None
    try:
        port = parts.port if parts is not None else None
    except ValueError:  # a port that is not a number
        parts = None
    own = emulator_mode and parts is not None and origin(url) == origin(public_base_url)
    if (
        parts is None
        or not parts.hostname
        or "@" in parts.netloc
        or parts.query
        or parts.fragment
        or "?" in url
        or "#" in url
        or parts.path.strip("/") == ""
        or not (own or (parts.scheme.lower() == "https" and port is None))
    ):
        raise ConfigError(f"APPLICATION_LINK: expected {expected}, got {url!r}")
    return url


def _base_url(key: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"{key}: expected an http(s) URL, got {url!r}")
    return url.rstrip("/")


def _load_with(key: str, schema: Schema, data: Any) -> Any:
    """Validate configuration with the schema that describes it on the wire; name what is wrong."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{detail.field}: {detail.message}" if detail.field else detail.message
            for detail in flatten_messages(exc.messages)
        )
        raise ConfigError(f"{key}: {problems}") from None


def _exactly(key: str, src: _Source, expected: tuple[str, ...]) -> tuple[str, ...]:
    """Settings Belvo fixes (docs/belvo.md §0.9): they may be spelt out, never changed."""
    given = src.words(key, expected)
    if sorted(given) != sorted(expected):
        raise ConfigError(
            f"{key}: Belvo requires exactly {','.join(expected)} (docs/belvo.md §1.3), got {','.join(given)}"
        )
    return expected


def _terms_url(src: _Source, emulator_mode: bool) -> str:
    # A harmless stand-in for an offline laptop; a real deployment must name its own terms.
    terms_url = src.text("TERMS_URL", "https://example.com/terms" if emulator_mode else None)
    if terms_url is None:
        raise ConfigError(
            "TERMS_URL: expected the https URL of your terms and conditions (shown in the consent)"
        )
    try:
        ofda.https_url(terms_url)
    except ValidationError as exc:
        raise ConfigError(f"TERMS_URL: {exc.messages[0]}") from None
    return terms_url


def _purpose(src: _Source) -> str:
    purpose = src.text("WIDGET_PURPOSE", ofda.DEFAULT_PURPOSE) or ""
    if not 1 <= len(purpose) <= ofda.PURPOSE_MAX_LENGTH:
        raise ConfigError(
            f"WIDGET_PURPOSE: expected 1 to {ofda.PURPOSE_MAX_LENGTH} characters, got {len(purpose)}"
        )
    return purpose


def _fetch_resources(src: _Source) -> tuple[str, ...]:
    fetch_resources = src.words("FETCH_RESOURCES", _DEFAULT_FETCH_RESOURCES)
    unknown = [name for name in fetch_resources if name not in ofda.FETCH_RESOURCES]
    if unknown or not fetch_resources or len(set(fetch_resources)) != len(fetch_resources):
        raise ConfigError(
            f"FETCH_RESOURCES: expected distinct values among {','.join(ofda.FETCH_RESOURCES)}, "
            f"got {','.join(fetch_resources) or 'nothing'}"
        )
    return fetch_resources


def _stale_in(src: _Source) -> str | None:
    stale_in = src.text("STALE_IN")
    if stale_in is not None and not ofda.STALE_IN.fullmatch(stale_in):
        raise ConfigError(f"STALE_IN: expected a number of days such as 300d (1d to 365d), got {stale_in!r}")
    return stale_in


_DEFAULT_FETCH_RESOURCES = ("ACCOUNTS", "OWNERS", "TRANSACTIONS")


def _widget_config(src: _Source, emulator_mode: bool) -> WidgetConfig:
    branding = src.json_value("BRANDING_JSON")
    theme = src.json_value("THEME_JSON")
    return WidgetConfig(
        terms_url=src.checked("", _terms_url, src, emulator_mode),
        scopes=src.checked(ofda.OFDA_SCOPES, _exactly, "BELVO_SCOPES", src, ofda.OFDA_SCOPES),
        permissions=src.checked(
            ofda.CONSENT_PERMISSIONS, _exactly, "BELVO_CONSENT_PERMISSIONS", src, ofda.CONSENT_PERMISSIONS
        ),
        purpose=src.checked("", _purpose, src),
        fetch_resources=src.checked(_DEFAULT_FETCH_RESOURCES, _fetch_resources, src),
        stale_in=src.checked(None, _stale_in, src),
        access_mode=src.choice("DEFAULT_ACCESS_MODE", ofda.ACCESS_MODES, "recurrent"),
        branding=None
        if branding is None
        else src.checked(None, _load_with, "BRANDING_JSON", BrandingSchema(), branding),
        theme=None if theme is None else src.checked(None, _theme, theme),
        color_scheme=src.choice("COLOR_SCHEME", ofda.COLOR_SCHEMES),
        consent_duration_days=src.choice("DEFAULT_CONSENT_DURATION_DAYS", ofda.CONSENT_DURATION_DAYS),
        show_close_dialog=src.optional_flag("WIDGET_SHOW_CLOSE_DIALOG"),
        show_abandon_survey=src.optional_flag("WIDGET_SHOW_ABANDON_SURVEY"),
    )


def _theme(theme: Any) -> tuple[ThemeEntry, ...]:
    return tuple(_load_with("THEME_JSON", ThemeSchema(), {"theme": theme})["theme"])


def _retry_schedule(src: _Source) -> tuple[float, ...]:
    schedule = src.words("BELVO_RETRY_SCHEDULE", ("3", "6", "12", "24", "48"))
    try:
        delays = tuple(float(step) for step in schedule)
    except ValueError:
        raise ConfigError(
            f"BELVO_RETRY_SCHEDULE: expected comma-separated seconds such as 3,6,12, got {','.join(schedule)}"
        ) from None
    if any(not math.isfinite(d) or d < 0 for d in delays):
        raise ConfigError(
            f"BELVO_RETRY_SCHEDULE: expected waits of 0 seconds or more, got {','.join(schedule)}"
        )
    return delays


def _retry_policy(src: _Source) -> RetryPolicy:
    return RetryPolicy(
        connect_timeout=src.number("BELVO_CONNECT_TIMEOUT", 3.05),
        read_timeout=src.number("BELVO_READ_TIMEOUT", 10.0),
        schedule=src.checked((), _retry_schedule, src),
        deadline=src.number("BELVO_DEADLINE_SECONDS", 10.0),
        breaker_failures=max(0, src.integer("BELVO_BREAKER_FAILURES", 5)),
        breaker_pause=src.number("BELVO_BREAKER_PAUSE_SECONDS", 30.0),
        breaker_probe=src.number("BELVO_BREAKER_PROBE_SECONDS", 2.0),
    )


def load_settings(
    overrides: Mapping[str, Any] | None,
    environ: Mapping[str, str],
    defaults: Mapping[str, str] | None = None,
) -> Settings:
    """Build :class:`Settings` from ``overrides`` on top of ``environ``; ``defaults`` stand in for
    settings neither gives (``create_app`` puts the database in its instance folder, ``ofda run`` makes
    ``PUBLIC_BASE_URL`` follow ``--host`` and ``--port``)."""
    src = _Source(overrides or {}, environ, defaults or {})

    belvo_keys = ("BELVO_SECRET_ID", "BELVO_SECRET_PASSWORD", "BELVO_API_URL")
    given = [key for key in belvo_keys if src.text(key)]
    if given and len(given) != len(belvo_keys):
        missing = ", ".join(key for key in belvo_keys if key not in given)
        src.problem(f"Belvo credentials are partly configured: set {missing} too, or none")
    emulator_mode = not given

    public_base_url = src.checked(
        _LOCAL_BASE_URL,
        _base_url,
        "PUBLIC_BASE_URL",
        src.text("PUBLIC_BASE_URL", _LOCAL_BASE_URL) or "",
    )
    if emulator_mode:
        # Imported here: only emulator mode needs the emulator package at all.
        from emulator import DEFAULT_SECRET_ID, DEFAULT_SECRET_PASSWORD

        belvo_api_url = f"{public_base_url}/sandbox"
        secret_id, secret_password = DEFAULT_SECRET_ID, DEFAULT_SECRET_PASSWORD
        default_widget_url = f"{public_base_url}/sandbox/widget/"
        default_portal_url = f"{public_base_url}/sandbox/portal/"
    else:
        api_url = src.text("BELVO_API_URL")  # when missing, the partial credentials are reported
        belvo_api_url = "" if api_url is None else src.checked("", _base_url, "BELVO_API_URL", api_url)
        secret_id = src.text("BELVO_SECRET_ID") or ""
        secret_password = src.text("BELVO_SECRET_PASSWORD") or ""
        default_widget_url = "https://widget.belvo.io/"
        default_portal_url = "https://meuportal.belvo.com/"

    jwt_secret = src.text("APP_JWT_SECRET")
    webhook_auth = [src.text("BELVO_WEBHOOK_AUTH"), src.text("BELVO_WEBHOOK_AUTH_PREVIOUS")]
    if not emulator_mode:
        # Fail closed (docs/security.md C8): with real Belvo keys, no development secret may stand in.
        if not jwt_secret or len(jwt_secret) < 32:
            src.problem("APP_JWT_SECRET: expected a secret of 32 or more characters")
        if not webhook_auth[0]:
            src.problem("BELVO_WEBHOOK_AUTH: expected the Authorization value set at Belvo")

    loaded = Settings(
        database_url=src.text("DATABASE_URL", "sqlite:///ofda.sqlite3") or "",
        database_pool_size=src.checked(16, _positive, src, "DATABASE_POOL_SIZE", 16),
        public_base_url=public_base_url,
        emulator_mode=emulator_mode,
        belvo_api_url=belvo_api_url,
        belvo_secret_id=Secret(secret_id),
        belvo_secret_password=Secret(secret_password),
        belvo_widget_url=src.text("BELVO_WIDGET_URL", default_widget_url) or "",
        portal_url=src.checked(
            "", _portal_url, src.text("PORTAL_URL", default_portal_url) or "", emulator_mode
        ),
        app_jwt_secret=Secret(jwt_secret or DEV_APP_JWT_SECRET),
        webhook_auth=tuple(
            Secret(value) for value in (webhook_auth if webhook_auth[0] else [DEV_WEBHOOK_AUTH]) if value
        ),
        callback_urls=src.checked(DEFAULT_CALLBACK_URLS, _callback_urls, src, public_base_url, emulator_mode),
        max_content_length=src.integer("MAX_CONTENT_LENGTH", 64 * 1024),
        qa_page=src.flag("QA_PAGE", emulator_mode),
        auto_migrate=src.flag("AUTO_MIGRATE", emulator_mode),
        log_level=src.text("LOG_LEVEL", "INFO") or "INFO",
        testing=src.flag("TESTING", False),
        widget=_widget_config(src, emulator_mode),
        belvo_retry=_retry_policy(src),
        session_limits=SessionLimits(
            per_minute=src.checked(10, _positive, src, "SESSION_RATE_LIMIT_PER_MINUTE", 10),
            per_day=src.checked(30, _positive, src, "SESSION_RATE_LIMIT_PER_DAY", 30),
            max_pending=src.checked(3, _positive, src, "SESSION_MAX_PENDING", 3),
            per_ip_per_minute=None
            if src.raw("SESSION_RATE_LIMIT_PER_IP_PER_MINUTE") in (None, "")
            else src.checked(None, _positive, src, "SESSION_RATE_LIMIT_PER_IP_PER_MINUTE", 1),
        ),
        trusted_proxy_hops=src.checked(0, _non_negative, src, "TRUSTED_PROXY_HOPS", 0),
        replace_duplicate_links=src.choice("DUPLICATE_LINKS", ("replace", "keep"), "replace") == "replace",
        emulator_state_path=src.text("EMULATOR_STATE_PATH"),
        reconcile_every=timedelta(seconds=src.number("RECONCILE_EVERY_SECONDS", 3600.0)),
        reconcile_after=timedelta(seconds=src.number("RECONCILE_AFTER_SECONDS", 300.0)),
    )
    if src.problems:
        raise ConfigError(*src.problems)
    return loaded


def _portal_url(url: str, emulator_mode: bool) -> str:
    """My Belvo Portal's address: https (the emulated one on the backend's own address may be http)."""
    if not emulator_mode:
        try:
            ofda.https_url(url)
        except ValidationError as exc:
            raise ConfigError(f"PORTAL_URL: {exc.messages[0]}") from None
    return url


def _non_negative(src: _Source, key: str, default: int) -> int:
    value = src.integer(key, default)
    if value < 0:
        raise ConfigError(f"{key}: expected a whole number of 0 or more, got {value}")
    return value


def _positive(src: _Source, key: str, default: int) -> int:
    value = src.integer(key, default)
    if value < 1:
        raise ConfigError(f"{key}: expected a whole number of 1 or more, got {value}")
    return value
