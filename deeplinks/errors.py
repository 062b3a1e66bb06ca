"""Errors raised by the deeplinks package.

Exception tree::

    ValueError
    ├── DeeplinkError        a URL, event or callback configuration breaks the rules
    │                        (.code is "invalid_deeplink" or "unknown_event")
    └── CorpusError          a fixture file is malformed (a bug in the corpus, not in a URL)

`DeeplinkError` is the only exception `deeplinks.parse` raises; anything else escaping it is a bug.
"""

from __future__ import annotations

from typing import Final, Literal

INVALID_DEEPLINK: Final = "invalid_deeplink"
UNKNOWN_EVENT: Final = "unknown_event"

ErrorCode = Literal["invalid_deeplink", "unknown_event"]
ERROR_CODES: Final[frozenset[str]] = frozenset({INVALID_DEEPLINK, UNKNOWN_EVENT})

# Values quoted in messages are cut to this many characters: messages name what came without
# copying a whole untrusted URL into logs.
_SHOWN_CHARS: Final = 60


class DeeplinkError(ValueError):
    """A deeplink (or the event or callback URLs describing one) that breaks the contract's rules.

    >>> error = DeeplinkError("invalid_deeplink", "link must be a UUID; got 'abc'", field="link")
    >>> error.to_dict()
    {'code': 'invalid_deeplink', 'message': "link must be a UUID; got 'abc'", 'field': 'link'}
    """

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str | None]:
        """The error as the contract's error object (the server wraps it in its envelope)."""
        return {"code": self.code, "message": self.message, "field": self.field}

    def __repr__(self) -> str:
        return f"DeeplinkError({self.code!r}, {self.message!r}, field={self.field!r})"


class CorpusError(ValueError):
    """A fixture file that does not follow the corpus format (see `deeplinks.corpus`)."""


def shown(value: str) -> str:
    """`value` quoted for an error message: repr (so control characters stay visible), shortened.

    >>> shown("abc")
    "'abc'"
    >>> shown("x" * 100)[-5:]
    "x'(…)"
    """
    if len(value) <= _SHOWN_CHARS:
        return repr(value)
    return repr(value[:_SHOWN_CHARS]) + "(…)"
