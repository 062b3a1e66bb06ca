"""Configuration from the environment (12-factor), validated once at start-up.

A misconfigured deployment must refuse to start with a message naming the setting, instead of failing in
front of a user. ``create_app(config)`` reads ``os.environ`` and lets ``config`` override it; ``ofda``
(a Flask ``FlaskGroup``) also loads a ``.env`` file in development.

With none of ``BELVO_SECRET_ID``, ``BELVO_SECRET_PASSWORD`` and ``BELVO_API_URL`` set, the backend runs in
*emulator mode*: it mounts the offline Belvo emulator at ``/sandbox`` and talks to it instead of Belvo.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


class ConfigError(RuntimeError):
    """The configuration is unusable; the message names the setting and what it expected."""


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


# Schemes a callback URL may never use: they run code, read files or leave the app's control
# (threat model B1).
FORBIDDEN_CALLBACK_SCHEMES = frozenset(
    {"javascript", "data", "file", "intent", "about", "blob", "ftp", "http", "vbscript", "content"}
)

DEV_APP_JWT_SECRET = "dev-only-app-jwt-secret-not-for-production"  # noqa: S105 (emulator mode only)
DEV_WEBHOOK_AUTH = "Bearer dev-only-webhook-secret"


@dataclass(frozen=True)
class CallbackUrls:
    """The three callback URLs sent to Belvo (facts file decision 4: success, exit, event only)."""

    success: str
    exit: str
    event: str

    def to_dict(self) -> dict[str, str]:
        return {"success": self.success, "exit": self.exit, "event": self.event}


@dataclass(frozen=True)
class Settings:
    database_url: str
    public_base_url: str
    emulator_mode: bool
    belvo_api_url: str
    belvo_secret_id: Secret
    belvo_secret_password: Secret
    belvo_widget_url: str
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


class _Source:
    """Reads settings from the overrides first, then the environment."""

    def __init__(self, overrides: Mapping[str, Any], environ: Mapping[str, str]) -> None:
        self._overrides = overrides
        self._environ = environ

    def raw(self, key: str) -> Any:
        if key in self._overrides:
            return self._overrides[key]
        value = self._environ.get(key)
        return value if value not in (None, "") else None

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
        raise ConfigError(f"{key}: expected true or false, got {value!r}")

    def integer(self, key: str, default: int) -> int:
        value = self.raw(key)
        if value is None:
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected an integer, got {value!r}") from None

    def json_value(self, key: str) -> Any:
        value = self.raw(key)
        if value is None or not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{key}: expected JSON, got invalid JSON ({exc.msg})") from None


def validate_callback_url(key: str, url: str) -> str:
    """Refuse callback URLs that would be an open redirect or ambiguous to match (threat model B1).

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


def _callback_urls(src: _Source) -> CallbackUrls:
    scheme = src.text("CALLBACK_SCHEME", "ofdaapp")
    urls = {
        kind: validate_callback_url(
            f"CALLBACK_URL_{kind.upper()}",
            src.text(f"CALLBACK_URL_{kind.upper()}", f"{scheme}://belvo/{kind}") or "",
        )
        for kind in ("success", "exit", "event")
    }
    if len(set(urls.values())) != 3:
        raise ConfigError("CALLBACK_URL_*: the success, exit and event URLs must be distinct")
    return CallbackUrls(**urls)


def _base_url(key: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"{key}: expected an http(s) URL, got {url!r}")
    return url.rstrip("/")


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build :class:`Settings` from ``overrides`` on top of ``environ`` (``os.environ`` by default)."""
    src = _Source(overrides or {}, os.environ if environ is None else environ)

    belvo_keys = ("BELVO_SECRET_ID", "BELVO_SECRET_PASSWORD", "BELVO_API_URL")
    given = [key for key in belvo_keys if src.text(key)]
    if given and len(given) != len(belvo_keys):
        missing = ", ".join(key for key in belvo_keys if key not in given)
        raise ConfigError(f"Belvo credentials are partly configured: set {missing} too, or none")
    emulator_mode = not given

    public_base_url = _base_url("PUBLIC_BASE_URL", src.text("PUBLIC_BASE_URL", "http://127.0.0.1:8000") or "")
    if emulator_mode:
        # Imported here: only emulator mode needs the emulator package at all.
        from emulator import DEFAULT_SECRET_ID, DEFAULT_SECRET_PASSWORD

        belvo_api_url = f"{public_base_url}/sandbox"
        secret_id, secret_password = DEFAULT_SECRET_ID, DEFAULT_SECRET_PASSWORD
        default_widget_url = f"{public_base_url}/sandbox/widget/"
    else:
        belvo_api_url = _base_url("BELVO_API_URL", src.text("BELVO_API_URL") or "")
        secret_id = src.text("BELVO_SECRET_ID") or ""
        secret_password = src.text("BELVO_SECRET_PASSWORD") or ""
        default_widget_url = "https://widget.belvo.io/"

    jwt_secret = src.text("APP_JWT_SECRET")
    webhook_auth = [src.text("BELVO_WEBHOOK_AUTH"), src.text("BELVO_WEBHOOK_AUTH_PREVIOUS")]
    if not emulator_mode:
        # Fail closed (threat model C8): with real Belvo keys, no development secret may stand in.
        if not jwt_secret or len(jwt_secret) < 32:
            raise ConfigError("APP_JWT_SECRET: expected a secret of 32 or more characters")
        if not webhook_auth[0]:
            raise ConfigError("BELVO_WEBHOOK_AUTH: expected the Authorization value set at Belvo")

    return Settings(
        database_url=src.text("DATABASE_URL", "sqlite:///ofda.sqlite3") or "",
        public_base_url=public_base_url,
        emulator_mode=emulator_mode,
        belvo_api_url=belvo_api_url,
        belvo_secret_id=Secret(secret_id),
        belvo_secret_password=Secret(secret_password),
        belvo_widget_url=src.text("BELVO_WIDGET_URL", default_widget_url) or "",
        app_jwt_secret=Secret(jwt_secret or DEV_APP_JWT_SECRET),
        webhook_auth=tuple(
            Secret(value) for value in (webhook_auth if webhook_auth[0] else [DEV_WEBHOOK_AUTH]) if value
        ),
        callback_urls=_callback_urls(src),
        max_content_length=src.integer("MAX_CONTENT_LENGTH", 64 * 1024),
        qa_page=src.flag("QA_PAGE", emulator_mode),
        auto_migrate=src.flag("AUTO_MIGRATE", emulator_mode),
        log_level=src.text("LOG_LEVEL", "INFO") or "INFO",
        testing=src.flag("TESTING", False),
    )
