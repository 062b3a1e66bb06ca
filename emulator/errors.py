"""Errors the emulator raises, and Belvo's error array they turn into.

    EmulatorError
    ├── ConfigError (also ValueError)       create_app() was given a config value of the wrong kind
    └── BelvoApiError                       answered as Belvo's error array with ``status``
        ├── RequestInvalid          400     the request broke one or more of Belvo's rules
        ├── AuthenticationFailed    401     missing or wrong secret keys
        ├── NotFound                404     no such object (or page)
        └── InjectedFault           any     a rule set through /_control/faults fired

Belvo always answers errors with a JSON array (docs/belvo.md §6.1, OpenAPI 1.35 ``ValidationError``):
``[{"request_id": "<32 hex>", "message": "...", "code": "...", "field": "..."}]``, ``field`` only when
one field is to blame. Every item of one response shares the response's ``request_id``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorItem:
    """One entry of Belvo's error array.

    >>> ErrorItem("required", "This field is required.", "link").to_json("a" * 32)["field"]
    'link'
    """

    code: str
    message: str
    field: str | None = None

    def to_json(self, request_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {"request_id": request_id, "message": self.message, "code": self.code}
        if self.field is not None:
            body["field"] = self.field
        return body


def new_request_id() -> str:
    """A Belvo API ``request_id``: 32 lowercase hex characters (OpenAPI pattern ``[a-f0-9]{32}``)."""
    return uuid.uuid4().hex


class EmulatorError(Exception):
    """Base of everything the emulator raises on purpose."""


class ConfigError(EmulatorError, ValueError):
    """A ``create_app`` config key holds a value of the wrong kind."""


class BelvoApiError(EmulatorError):
    """An API failure answered as Belvo's error array."""

    def __init__(self, status: int, items: tuple[ErrorItem, ...]) -> None:
        super().__init__("; ".join(f"{i.code}: {i.message}" for i in items))
        self.status = status
        self.items = items

    def body(self, request_id: str) -> list[dict[str, Any]]:
        return [item.to_json(request_id) for item in self.items]


class RequestInvalid(BelvoApiError):
    """400: one or more fields broke Belvo's rules (all are reported, as Belvo's DRF API does)."""

    def __init__(self, items: tuple[ErrorItem, ...]) -> None:
        super().__init__(400, items)


class AuthenticationFailed(BelvoApiError):
    """401 ``authentication_failed`` with Belvo's documented message."""

    def __init__(self) -> None:
        super().__init__(401, (ErrorItem("authentication_failed", "Invalid Secret Keys"),))


class NotFound(BelvoApiError):
    """404 ``not_found``."""

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(404, (ErrorItem("not_found", message),))


class InjectedFault(BelvoApiError):
    """A response forced by a fault rule."""
