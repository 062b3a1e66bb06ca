"""The three callback URLs sent to Belvo (`widget.callback_urls`), and which one a URL is on.

Belvo takes exactly three keys, `success`, `exit` and `event`; errors and warnings both arrive on
`event` (docs/belvo.md §0.4 and section 3.5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final, Literal, NamedTuple

from deeplinks._url import NEVER_CALLBACK_SCHEMES, UrlParts, decode_query, split_url
from deeplinks.errors import INVALID_DEEPLINK, DeeplinkError, shown
from deeplinks.events import EVENT_PARAMETERS, EXIT_PARAMETERS, SUCCESS_PARAMETERS

CallbackKind = Literal["success", "exit", "event"]
CALLBACK_KINDS: Final[tuple[CallbackKind, ...]] = ("success", "exit", "event")
_RESERVED: Final[Mapping[CallbackKind, frozenset[str]]] = {
    "success": SUCCESS_PARAMETERS,
    "exit": EXIT_PARAMETERS,
    "event": EVENT_PARAMETERS,
}


class Route(NamedTuple):
    """One callback URL, split for matching: a URL is on it when scheme, authority and path are
    equal (an empty path equals "/") and it carries every parameter of the callback's own query."""

    kind: CallbackKind
    url: str
    scheme: str
    authority: str
    path: str
    query: frozenset[tuple[str, str]]

    @property
    def keys(self) -> frozenset[str]:
        """The names of the callback URL's own query parameters (not the event's)."""
        return frozenset(name for name, _ in self.query)

    @property
    def place(self) -> tuple[str, str, str, frozenset[tuple[str, str]]]:
        return self.scheme, self.authority, self.path, self.query


def _route(kind: CallbackKind, url: str) -> Route:
    where = f"callback_urls.{kind}"
    parts = split_url(url, where)
    if parts.scheme in NEVER_CALLBACK_SCHEMES:
        raise DeeplinkError(
            INVALID_DEEPLINK, f"expected an app or https callback URL; got scheme {parts.scheme!r}", where
        )
    try:
        pairs = decode_query(parts.query)
    except DeeplinkError as error:
        raise DeeplinkError(error.code, error.message, where) from None
    names = [name for name, _ in pairs]
    clash = sorted(set(names) & _RESERVED[kind]) or sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise DeeplinkError(
            INVALID_DEEPLINK,
            f"expected the {kind} callback URL's own query to leave Belvo's parameters alone and "
            f"name each parameter once; got {clash[0]!r}",
            where,
        )
    return Route(kind, url, parts.scheme, parts.authority or "", parts.path or "/", frozenset(pairs))


@dataclass(frozen=True)
class CallbackUrls:
    """The app's callback URLs, checked when made.

    `parse` and `build` also take a plain mapping with the same three keys (as stored in JSON).

    >>> urls = CallbackUrls("myapp://belvo/success", "myapp://belvo/exit", "myapp://belvo/event")
    >>> urls.url_for("warning")
    'myapp://belvo/event'
    >>> CallbackUrls("myapp://cb", "myapp://cb", "myapp://belvo/event")
    Traceback (most recent call last):
    ...
    deeplinks.errors.DeeplinkError: expected distinct callback URLs; success and exit are the same: 'myapp://cb'
    """

    success: str
    exit: str
    event: str
    routes: tuple[Route, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        routes = (
            _route("success", self.success),
            _route("exit", self.exit),
            _route("event", self.event),
        )
        for index, route in enumerate(routes):
            for other in routes[index + 1 :]:
                if route.place == other.place:
                    raise DeeplinkError(
                        INVALID_DEEPLINK,
                        f"expected distinct callback URLs; {route.kind} and {other.kind} are the "
                        f"same: {shown(route.url)}",
                        f"callback_urls.{other.kind}",
                    )
        object.__setattr__(self, "routes", routes)

    @property
    def schemes(self) -> frozenset[str]:
        return frozenset(route.scheme for route in self.routes)

    def url_for(self, event_type: str) -> str:
        """The callback URL an event of `event_type` arrives on (errors and warnings: `event`)."""
        return self.route_for(event_type).url

    def route_for(self, event_type: str) -> Route:
        """The callback an event of `event_type` arrives on."""
        match event_type:
            case "success":
                return self.routes[0]
            case "exit":
                return self.routes[1]
            case "error" | "warning" | "event":
                return self.routes[2]
        raise ValueError(f"expected an event type; got {event_type!r}")

    def to_dict(self) -> dict[str, str]:
        return {"success": self.success, "exit": self.exit, "event": self.event}

    def route(self, parts: UrlParts, pairs: list[tuple[str, str]]) -> Route | None:
        """The callback `parts` is on, or None. The most specific one wins (the one whose own query
        names the most parameters); two equally specific ones are an error."""
        authority = parts.authority or ""
        path = parts.path or "/"
        present: set[tuple[str, str]] | None = None
        best: Route | None = None
        tied: Route | None = None
        for route in self.routes:
            if route.scheme != parts.scheme or route.authority != authority or route.path != path:
                continue
            if route.query:
                present = set(pairs) if present is None else present
                if not route.query <= present:
                    continue
            if best is None or len(route.query) > len(best.query):
                best, tied = route, None
            elif len(route.query) == len(best.query):
                tied = route
        if best is not None and tied is not None:
            raise DeeplinkError(
                INVALID_DEEPLINK,
                f"expected the URL on one callback URL; it is on both {best.kind} and {tied.kind}",
                "url",
            )
        return best


DEFAULT_CALLBACK_URLS: Final = CallbackUrls(
    success="ofdaapp://belvo/success", exit="ofdaapp://belvo/exit", event="ofdaapp://belvo/event"
)
"""What `build` uses without callback URLs: distinct paths under one scheme (docs/belvo.md §0.4)."""


def coerce_callback_urls(value: object) -> CallbackUrls:
    """`value` as `CallbackUrls`: itself, or a mapping with exactly `success`, `exit` and `event`.

    >>> coerce_callback_urls({"success": "a://s", "exit": "a://x"})
    Traceback (most recent call last):
    ...
    deeplinks.errors.DeeplinkError: expected callback_urls with the keys success, exit, event; \
missing ['event'], unknown []
    """
    if isinstance(value, CallbackUrls):
        return value
    if isinstance(value, Mapping) and len(value) == 3:
        try:
            # The usual case, a well-formed mapping already seen: one cache look-up.
            return _cached_callback_urls(value["success"], value["exit"], value["event"])
        except (KeyError, TypeError):
            pass  # a key missing or a value unhashable: described below
    if not isinstance(value, Mapping):
        raise DeeplinkError(
            INVALID_DEEPLINK,
            f"expected callback_urls as an object with success, exit, event; got {type(value).__name__}",
            "callback_urls",
        )
    missing = [kind for kind in CALLBACK_KINDS if kind not in value]
    unknown = [key for key in value if key not in CALLBACK_KINDS]
    if missing or unknown:
        raise DeeplinkError(
            INVALID_DEEPLINK,
            f"expected callback_urls with the keys success, exit, event; missing {missing}, "
            f"unknown {[str(key) for key in unknown]}",
            f"callback_urls.{(missing or unknown)[0]}",
        )
    urls = [value[kind] for kind in CALLBACK_KINDS]
    for kind, url in zip(CALLBACK_KINDS, urls, strict=True):
        if not isinstance(url, str):
            raise DeeplinkError(
                INVALID_DEEPLINK,
                f"expected callback_urls.{kind} as a string; got {type(url).__name__}",
                f"callback_urls.{kind}",
            )
    return _cached_callback_urls(*urls)


@lru_cache(maxsize=256)
def _cached_callback_urls(success: str, exit: str, event: str) -> CallbackUrls:
    # The server passes the same few mappings (from its database) on every request.
    return CallbackUrls(success, exit, event)
