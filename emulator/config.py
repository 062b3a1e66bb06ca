"""The emulator's settings, read once from the mapping given to ``create_app``.

Every key is optional. A value of the wrong kind raises :class:`~emulator.errors.ConfigError` naming the
key, what it expects and what it got, so a typo in a test fails at start-up rather than mid-flow.

>>> cfg = EmulatorConfig.from_mapping({"EMULATOR_ACCESS_TTL_SECONDS": 60})
>>> cfg.access_ttl.total_seconds(), cfg.secret_id, cfg.webhook_url is None
(60.0, 'sandbox-secret-id', True)
>>> EmulatorConfig.from_mapping({"EMULATOR_WEBHOOK_DUPLICATES": "yes"})
Traceback (most recent call last):
...
emulator.errors.ConfigError: EMULATOR_WEBHOOK_DUPLICATES: expected a bool, got str 'yes'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests

from emulator.errors import ConfigError

# Public sandbox defaults, not secrets: the emulator holds no real data.
DEFAULT_SECRET_ID = "sandbox-secret-id"  # noqa: S105
DEFAULT_SECRET_PASSWORD = "sandbox-secret-password"  # noqa: S105

# Belvo's current aggregation webhook retry schedule is unconfirmed; an older Belvo page says a failed
# notification "is repeated five times using a linear backoff" (facts file 4.1). Seconds, short for a sandbox.
DEFAULT_RETRY_SCHEDULE = (1.0, 2.0, 3.0, 4.0, 5.0)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class EmulatorConfig:
    """Typed view of the ``EMULATOR_*`` keys (see ``create_app``)."""

    secret_id: str = DEFAULT_SECRET_ID
    secret_password: str = field(default=DEFAULT_SECRET_PASSWORD, repr=False)
    #: HS512 key; empty: the store's, made once by the first process that opens it (``Emulator``).
    signing_key: bytes = field(default=b"", repr=False)
    access_ttl: timedelta = timedelta(minutes=10)
    webhook_url: str | None = None
    webhook_auth: str | None = field(default=None, repr=False)
    webhook_session: requests.Session | None = field(default=None, compare=False)
    webhook_retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    webhook_duplicates: bool = False
    now: Callable[[], datetime] = field(default=_utcnow, compare=False)
    #: The SQLite file the emulator's state lives in; ``None``: in memory, this process only.
    state_path: str | None = None

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any] | None) -> EmulatorConfig:
        values = dict(config or {})
        defaults = cls()
        if isinstance(values.get("EMULATOR_SIGNING_KEY"), str):
            values["EMULATOR_SIGNING_KEY"] = values["EMULATOR_SIGNING_KEY"].encode()
        return cls(
            secret_id=_typed(values, "EMULATOR_SECRET_ID", str, defaults.secret_id),
            secret_password=_typed(values, "EMULATOR_SECRET_PASSWORD", str, defaults.secret_password),
            signing_key=_typed(values, "EMULATOR_SIGNING_KEY", bytes, defaults.signing_key),
            access_ttl=timedelta(seconds=_positive_number(values, "EMULATOR_ACCESS_TTL_SECONDS", 600)),
            webhook_url=_optional(values, "EMULATOR_WEBHOOK_URL", str),
            webhook_auth=_optional(values, "EMULATOR_WEBHOOK_AUTH", str),
            webhook_session=_optional(values, "EMULATOR_WEBHOOK_SESSION", requests.Session),
            webhook_retry_schedule=_schedule(values),
            webhook_duplicates=_typed(values, "EMULATOR_WEBHOOK_DUPLICATES", bool, False),
            now=_clock(values),
            state_path=_optional(values, "EMULATOR_STATE_PATH", str),
        )


def _describe(value: object) -> str:
    return f"{type(value).__name__} {value!r}"


T = TypeVar("T")


def _typed(values: Mapping[str, Any], key: str, kind: type[T], default: T) -> T:
    value = values.get(key, default)
    if not isinstance(value, kind):
        raise ConfigError(f"{key}: expected a {kind.__name__}, got {_describe(value)}")
    return value


def _optional(values: Mapping[str, Any], key: str, kind: type[T]) -> T | None:
    value = values.get(key)
    if value is not None and not isinstance(value, kind):
        raise ConfigError(f"{key}: expected a {kind.__name__} or None, got {_describe(value)}")
    return value


def _positive_number(values: Mapping[str, Any], key: str, default: float) -> float:
    value = values.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{key}: expected a positive number of seconds, got {_describe(value)}")
    return float(value)


def _schedule(values: Mapping[str, Any]) -> tuple[float, ...]:
    key = "EMULATOR_WEBHOOK_RETRY_SCHEDULE"
    value = values.get(key, DEFAULT_RETRY_SCHEDULE)
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        raise ConfigError(f"{key}: expected a list of seconds >= 0, got {_describe(value)}")
    return tuple(float(v) for v in value)


def _clock(values: Mapping[str, Any]) -> Callable[[], datetime]:
    value = values.get("EMULATOR_NOW", _utcnow)
    if not callable(value):
        raise ConfigError(f"EMULATOR_NOW: expected a callable returning a datetime, got {_describe(value)}")
    clock: Callable[[], datetime] = value
    return clock
