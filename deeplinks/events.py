"""The four typed deeplink events and their contract JSON (contract, section 3).

Events are frozen dataclasses that check their own fields, so an event that exists can always be
built into a URL that parses back to it. `extra` holds the query parameters the parser does not know,
name to decoded value, read-only.

>>> event = SuccessEvent("cb65f82c-dc93-4d3e-8270-9a27528397f5", "erebor_br_retail")
>>> event.to_dict()  # doctest: +NORMALIZE_WHITESPACE
{'type': 'success', 'link_id': 'cb65f82c-dc93-4d3e-8270-9a27528397f5',
 'institution': 'erebor_br_retail', 'extra': {}}
>>> from_dict(event.to_dict()) == event
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Final, Literal, TypeAlias

from deeplinks._url import ACCESS_TOKEN, FORBIDDEN_TEXT, check_query, decode_component, decode_query
from deeplinks.errors import INVALID_DEEPLINK, UNKNOWN_EVENT, DeeplinkError, shown

# Query parameter names, as Belvo sends them (facts file, section 3).
LINK: Final = "link"
INSTITUTION: Final = "institution"
EXIT_CODE: Final = "last_encountered_error_code"
EXIT_MESSAGE: Final = "last_encountered_error_message"
EXIT_INSTITUTION: Final = "meta_data_institution_name"
EXIT_STEP: Final = "meta_data_step"
ERROR: Final = "error"
ERROR_MESSAGE: Final = "error_message"
WARNING: Final = "warning"
WARNING_MESSAGE: Final = "warning_message"

CONSENT_ID: Final = "consent_id"
LOCALE: Final = "locale"

SUCCESS_PARAMETERS: Final = frozenset({LINK, INSTITUTION})
EXIT_PARAMETERS: Final = frozenset({EXIT_CODE, EXIT_MESSAGE, EXIT_INSTITUTION, EXIT_STEP})
# Errors and warnings share the `event` callback (facts file, decision 4): each reserves the
# other's names too, so one URL can never be read as both.
EVENT_PARAMETERS: Final = frozenset({ERROR, ERROR_MESSAGE, WARNING, WARNING_MESSAGE})

# What the bank sends the user back to the app's application link with (Belvo's "App2App" page,
# https://developers.belvo.com/docs/hosted-widget-app2app-ofda); Belvo may add more keys.
RESUME_PARAMETERS: Final = frozenset({ACCESS_TOKEN, CONSENT_ID, LOCALE})

# A UUID with hyphens, ASCII only: uuid.UUID would also take braces, "urn:uuid:", no hyphens and
# fullwidth digits (threat model E).
UUID_PATTERN: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_LOWER_UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _invalid(message: str, field_name: str | None) -> DeeplinkError:
    return DeeplinkError(INVALID_DEEPLINK, message, field_name)


def _check_text(name: str, value: object, *, optional: bool = False) -> None:
    if type(value) is str and value and FORBIDDEN_TEXT.search(value) is None:
        return  # the usual case, checked first: events are made on parse's hot path
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise _invalid(f"expected {name} as a string; got {type(value).__name__}", name)
    if not value:
        # An empty query value reads as absent, so an empty string could not survive a round trip.
        raise _invalid(f"expected a non-empty {name}" + (" or None" if optional else ""), name)
    bad = FORBIDDEN_TEXT.search(value)
    if bad is not None:
        raise _invalid(f"expected no control or bidi characters in {name}; got {bad.group()!r}", name)


_NO_EXTRA: Final[Mapping[str, str]] = MappingProxyType({})


def _freeze_extra(event: object, extra: object, reserved: frozenset[str]) -> None:
    if type(extra) is not dict and not isinstance(extra, Mapping):  # dict first: the ABC check is slow
        raise _invalid(f"expected extra as a mapping; got {type(extra).__name__}", "extra")
    if not extra:
        object.__setattr__(event, "extra", _NO_EXTRA)
        return
    for name, value in extra.items():
        _check_text("extra parameter name", name)
        if name in reserved:
            raise _invalid(
                f"expected extra to hold only parameters this event does not define; got {name!r}",
                f"extra.{name}",
            )
        if not isinstance(value, str) or FORBIDDEN_TEXT.search(value):
            raise _invalid(
                f"expected extra.{name} as text without control characters; got {value!r}",
                f"extra.{name}",
            )
    object.__setattr__(event, "extra", MappingProxyType(dict(extra)))


def collect_parameters(
    pairs: list[tuple[str, str]], known: frozenset[str], consumed: frozenset[str] = frozenset()
) -> tuple[dict[str, str], dict[str, str]]:
    """Split decoded `pairs` into the event's own non-empty values and `extra` (first value wins).

    A parameter in `known` or `consumed` (the callback URL's own) given twice is `invalid_deeplink`:
    the app and the backend could read different values.
    """
    values: dict[str, str] = {}
    extra: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in pairs:
        if name in known or name in consumed:
            if name in seen:
                raise _invalid(f"expected {name} once; got it more than once", name)
            seen.add(name)
            if value:
                values[name] = value
        elif name not in extra:
            extra[name] = value
    return values, extra


@dataclass(frozen=True)
class SuccessEvent:
    """The user linked an account: `link_id` (lowercase UUID) and the `institution` code."""

    type: ClassVar[Literal["success"]] = "success"
    parameters: ClassVar[frozenset[str]] = SUCCESS_PARAMETERS

    link_id: str
    institution: str
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.link_id, str) or _LOWER_UUID.fullmatch(self.link_id) is None:
            raise _invalid(
                f"expected link_id as a lowercase UUID with hyphens; got {shown(str(self.link_id))}",
                "link_id",
            )
        _check_text("institution", self.institution)
        _freeze_extra(self, self.extra, SUCCESS_PARAMETERS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "link_id": self.link_id,
            "institution": self.institution,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SuccessEvent:
        _expect_keys(data, ("type", "link_id", "institution", "extra"))
        return cls(data["link_id"], data["institution"], data["extra"])


@dataclass(frozen=True)
class ExitError:
    """The last error the user met before leaving: Belvo's code and, when sent, its message."""

    code: str
    message: str | None = None

    def __post_init__(self) -> None:
        _check_text("error.code", self.code)
        _check_text("error.message", self.message, optional=True)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class ExitEvent:
    """The user left the widget: maybe after an `error`, at an `institution`, at a `step`."""

    type: ClassVar[Literal["exit"]] = "exit"
    parameters: ClassVar[frozenset[str]] = EXIT_PARAMETERS

    error: ExitError | None = None
    institution: str | None = None
    step: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.error is not None and not isinstance(self.error, ExitError):
            raise _invalid(f"expected error as an ExitError or None; got {self.error!r}", "error")
        _check_text("institution", self.institution, optional=True)
        _check_text("step", self.step, optional=True)
        _freeze_extra(self, self.extra, EXIT_PARAMETERS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "error": None if self.error is None else self.error.to_dict(),
            "institution": self.institution,
            "step": self.step,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExitEvent:
        _expect_keys(data, ("type", "error", "institution", "step", "extra"))
        error = data["error"]
        if error is not None:
            if not isinstance(error, Mapping):
                raise _invalid(f"expected error as an object or null; got {error!r}", "error")
            _expect_keys(error, ("code", "message"), prefix="error.")
            error = ExitError(error["code"], error["message"])
        return cls(error, data["institution"], data["step"], data["extra"])


@dataclass(frozen=True)
class _CodedEvent:
    """Shared shape of error and warning events: a code and, when sent, a message."""

    code: str
    message: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _check_text("code", self.code)
        _check_text("message", self.message, optional=True)
        _freeze_extra(self, self.extra, EVENT_PARAMETERS)


@dataclass(frozen=True)
class ErrorEvent(_CodedEvent):
    """The widget hit an error it cannot go on from, e.g. `ACCESS_TOKEN_NOT_VALID`."""

    type: ClassVar[Literal["error"]] = "error"
    parameters: ClassVar[frozenset[str]] = EVENT_PARAMETERS

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "code": self.code, "message": self.message, "extra": dict(self.extra)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ErrorEvent:
        _expect_keys(data, ("type", "code", "message", "extra"))
        return cls(data["code"], data["message"], data["extra"])


@dataclass(frozen=True)
class WarningEvent(_CodedEvent):
    """Something the user should know while the widget stays open, e.g. `institution_disabled`."""

    type: ClassVar[Literal["warning"]] = "warning"
    parameters: ClassVar[frozenset[str]] = EVENT_PARAMETERS

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "code": self.code, "message": self.message, "extra": dict(self.extra)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WarningEvent:
        _expect_keys(data, ("type", "code", "message", "extra"))
        return cls(data["code"], data["message"], data["extra"])


@dataclass(frozen=True)
class ResumeEvent:
    """The bank sent the user back to the app's application link (App2App): the app opens Belvo's
    widget with this same `query`, raw, so the widget finishes the flow
    (https://developers.belvo.com/docs/hosted-widget-app2app-ofda).

    `query` is passed through unchanged (Belvo may add keys); `consent_id`, `locale` and `extra` are
    what it says, decoded, and must agree with it. `access_token` is required and is kept out of
    `repr` and of `to_dict(include_token=False)`, what may be stored or logged.

    >>> event = ResumeEvent.from_query("access_token=tok%2B1&consent_id=9e763d19&locale=pt&x=a+b")
    >>> event
    ResumeEvent(consent_id='9e763d19', locale='pt', extra=mappingproxy({'x': 'a b'}))
    >>> event.access_token
    'tok+1'
    >>> event.to_dict(include_token=False)["query"]
    'consent_id=9e763d19&locale=pt&x=a+b'
    """

    type: ClassVar[Literal["resume"]] = "resume"
    parameters: ClassVar[frozenset[str]] = RESUME_PARAMETERS

    consent_id: str | None
    locale: str | None
    query: str = field(repr=False)
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)
    _access_token: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_text("consent_id", self.consent_id, optional=True)
        _check_text("locale", self.locale, optional=True)
        _freeze_extra(self, self.extra, RESUME_PARAMETERS)
        values, extra = collect_parameters(decode_query(check_query(self.query, "query")), RESUME_PARAMETERS)
        token = values.get(ACCESS_TOKEN)
        if token is None:
            raise _invalid(f"expected a non-empty {ACCESS_TOKEN} in a resume deeplink's query", ACCESS_TOKEN)
        said = {CONSENT_ID: values.get(CONSENT_ID), LOCALE: values.get(LOCALE), "extra": extra}
        given = {CONSENT_ID: self.consent_id, LOCALE: self.locale, "extra": dict(self.extra)}
        for name, value in said.items():
            if given[name] != value:
                raise _invalid(f"expected {name} as the query says; got {given[name]!r}", name)
        object.__setattr__(self, "_access_token", token)

    @classmethod
    def from_query(cls, query: str) -> ResumeEvent:
        """The event of an application-link URL's raw query (after the `?`)."""
        values, extra = collect_parameters(decode_query(check_query(query, "query")), RESUME_PARAMETERS)
        return cls(values.get(CONSENT_ID), values.get(LOCALE), query, extra)

    @property
    def access_token(self) -> str:
        """The widget's access token, decoded: a secret, never to be stored or logged."""
        return self._access_token

    def to_dict(self, *, include_token: bool = True) -> dict[str, Any]:
        """The contract JSON; `include_token=False` drops `access_token` from `query`, for storing."""
        query = self.query if include_token else _without_token(self.query)
        return {
            "type": self.type,
            "consent_id": self.consent_id,
            "locale": self.locale,
            "query": query,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResumeEvent:
        _expect_keys(data, ("type", "consent_id", "locale", "query", "extra"))
        return cls(data["consent_id"], data["locale"], data["query"], data["extra"])


def _without_token(query: str) -> str:
    """`query` less its `access_token` fields, however their names are encoded."""
    return "&".join(
        item
        for item in query.split("&")
        if item and decode_component(item.partition("=")[0], "query", "a parameter name") != ACCESS_TOKEN
    )


Event: TypeAlias = SuccessEvent | ExitEvent | ErrorEvent | WarningEvent | ResumeEvent
"""Any deeplink event; `match` on it to branch."""

EventClass: TypeAlias = (
    type[SuccessEvent] | type[ExitEvent] | type[ErrorEvent] | type[WarningEvent] | type[ResumeEvent]
)

EVENT_CLASSES: Final[Mapping[str, EventClass]] = MappingProxyType(
    {cls.type: cls for cls in (SuccessEvent, ExitEvent, ErrorEvent, WarningEvent, ResumeEvent)}
)
"""Event JSON `type` to its class: the registry `from_dict` dispatches on."""


def from_dict(data: Mapping[str, Any]) -> Event:
    """The event described by contract JSON such as `event.to_dict()` returns.

    >>> from_dict({"type": "warning", "code": "institution_disabled", "message": None, "extra": {}})
    WarningEvent(code='institution_disabled', message=None, extra=mappingproxy({}))
    >>> from_dict({"type": "cancel"})
    Traceback (most recent call last):
    ...
    deeplinks.errors.DeeplinkError: expected type success, exit, error, warning or resume; got 'cancel'
    """
    if not isinstance(data, Mapping):
        raise _invalid(f"expected an event object; got {type(data).__name__}", None)
    kind = data.get("type")
    cls = EVENT_CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise DeeplinkError(
            UNKNOWN_EVENT,
            f"expected type success, exit, error, warning or resume; got {kind!r}",
            "type",
        )
    return cls.from_dict(data)


def _expect_keys(data: Mapping[str, Any], keys: tuple[str, ...], prefix: str = "") -> None:
    missing = [key for key in keys if key not in data]
    unknown = [key for key in data if key not in keys]
    if missing or unknown:
        raise _invalid(
            f"expected the keys {', '.join(keys)}; missing {missing}, unknown {unknown}",
            prefix + (missing or unknown)[0],
        )
