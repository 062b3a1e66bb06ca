"""Errors the API answers with, in the contract's shape (docs/contract.md section 2).

Every failure a client can cause becomes one of these, rendered as::

    {"errors": [{"code": "...", "message": "...", "field": "a.0.b" | null}], "request_id": "..."}

The tree::

    ApiError                      (any error we answer deliberately)
    ├── InvalidRequest            400 invalid_request
    ├── Unauthenticated           401 unauthenticated
    ├── Forbidden                 403 (code given, e.g. link_not_owned)
    ├── NotFound                  404 not_found
    ├── MethodNotAllowed          405 method_not_allowed (+ Allow)
    ├── Conflict                  409 (code given, e.g. session_already_completed)
    ├── Gone                      410 (code given, e.g. session_expired)
    ├── PayloadTooLarge           413 payload_too_large
    ├── UriTooLong                414 uri_too_long (answered by the HTTP server, server/gunicorn_conf.py)
    ├── UnsupportedMediaType      415 unsupported_media_type
    ├── Unprocessable             422 (code given: validation_error, invalid_document, invalid_deeplink...)
    ├── RateLimited               429 rate_limited (+ Retry-After)
    ├── HeaderFieldsTooLarge      431 header_fields_too_large (the HTTP server too)
    ├── UpstreamError             502 upstream_error
    ├── UpstreamUnavailable       503 upstream_unavailable (+ Retry-After)
    └── Unavailable               503 (code given, e.g. database_unavailable)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


def retry_after(seconds: float) -> int:
    """Whole seconds, at least 1, for a ``Retry-After`` header.

    >>> retry_after(0.2), retry_after(6), retry_after(-3)
    (1, 6, 1)
    """
    return max(1, math.ceil(seconds))


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of the contract's ``errors`` array.

    >>> ErrorDetail("invalid_document", "CPF check digits do not match", "x.0.number").to_dict()
    {'code': 'invalid_document', 'message': 'CPF check digits do not match', 'field': 'x.0.number'}
    """

    code: str
    message: str
    field: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


class ApiError(Exception):
    """An error answered with ``status`` and one or more :class:`ErrorDetail`."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        details: Iterable[ErrorDetail] = (),
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        first = ErrorDetail(code or self.default_code, message, field)
        self.details: tuple[ErrorDetail, ...] = (first, *details)
        self.retry_after = retry_after

    @property
    def code(self) -> str:
        return self.details[0].code

    def headers(self) -> Mapping[str, str]:
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}

    def body(self, request_id: str) -> dict[str, Any]:
        return {"errors": [d.to_dict() for d in self.details], "request_id": request_id}


class InvalidRequest(ApiError):
    status = 400
    default_code = "invalid_request"


class Unauthenticated(ApiError):
    status = 401
    default_code = "unauthenticated"


class Forbidden(ApiError):
    status = 403
    default_code = "forbidden"


class NotFound(ApiError):
    status = 404
    default_code = "not_found"


class MethodNotAllowed(ApiError):
    """405, naming the methods the resource has in ``Allow`` (RFC 9110 section 15.5.6 requires it)."""

    status = 405
    default_code = "method_not_allowed"

    def __init__(self, message: str, *, allow: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.allow = tuple(allow)

    def headers(self) -> Mapping[str, str]:
        return {**super().headers(), "Allow": ", ".join(self.allow)}


class Conflict(ApiError):
    status = 409
    default_code = "conflict"


class Gone(ApiError):
    status = 410
    default_code = "gone"


class PayloadTooLarge(ApiError):
    status = 413
    default_code = "payload_too_large"


class UriTooLong(ApiError):
    status = 414
    default_code = "uri_too_long"


class UnsupportedMediaType(ApiError):
    status = 415
    default_code = "unsupported_media_type"


class Unprocessable(ApiError):
    status = 422
    default_code = "validation_error"


class RateLimited(ApiError):
    status = 429
    default_code = "rate_limited"


class HeaderFieldsTooLarge(ApiError):
    status = 431
    default_code = "header_fields_too_large"


class UpstreamError(ApiError):
    status = 502
    default_code = "upstream_error"


class UpstreamUnavailable(ApiError):
    status = 503
    default_code = "upstream_unavailable"


class Unavailable(ApiError):
    status = 503
    default_code = "unavailable"


#: What a bare HTTP status (from Flask/werkzeug routing) becomes.
HTTP_STATUS_ERRORS: Mapping[int, type[ApiError]] = {
    400: InvalidRequest,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: Unprocessable,
    429: RateLimited,
}


# webargs names the part of the request a message is about; the contract's `field` is relative to it.
_LOCATIONS = frozenset({"json", "query", "querystring", "view_args", "path", "headers", "form"})


class CodedMessage(str):
    """A validation message that carries its own error code (e.g. ``invalid_document``) through
    marshmallow's message dictionaries, which only hold strings."""

    code: str

    def __new__(cls, code: str, message: str) -> CodedMessage:
        instance = super().__new__(cls, message)
        instance.code = code
        return instance


def flatten_messages(messages: Any, path: tuple[str, ...] = ()) -> Iterator[ErrorDetail]:
    """marshmallow's nested messages as contract error details with dotted ``field`` paths.

    >>> messages = {"json": {"identification_info": {0: {"number": ["Bad."]}}, "_schema": ["X."]}}
    >>> [d.to_dict() for d in flatten_messages(messages)]  # doctest: +NORMALIZE_WHITESPACE
    [{'code': 'validation_error', 'message': 'Bad.', 'field': 'identification_info.0.number'},
     {'code': 'validation_error', 'message': 'X.', 'field': None}]
    """
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = str(key)
            if (not path and name in _LOCATIONS) or name == "_schema":
                yield from flatten_messages(value, path)
            else:
                yield from flatten_messages(value, (*path, name))
    elif isinstance(messages, list | tuple):
        for item in messages:
            yield from flatten_messages(item, path)
    else:
        code = getattr(messages, "code", Unprocessable.default_code)
        yield ErrorDetail(code, str(messages), ".".join(path) or None)
