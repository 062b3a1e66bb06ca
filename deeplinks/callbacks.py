"""The callback URLs sent to Belvo (`widget.callback_urls`), and which one a URL is on.

Belvo takes three keys, `success`, `exit` and `event`; errors and warnings both arrive on
`event` (facts file, decision 4 and section 3.5). With App2App, a fourth, `application_link`, is
the https link the bank sends the user back to the app on
(https://developers.belvo.com/docs/hosted-widget-app2app-ofda).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final, Literal, NamedTuple

from deeplinks._url import NEVER_CALLBACK_SCHEMES, UrlParts, decode_query, split_url
from deeplinks.errors import INVALID_DEEPLINK, DeeplinkError, shown
from deeplinks.events import EVENT_PARAMETERS, EXIT_PARAMETERS, RESUME_PARAMETERS, SUCCESS_PARAMETERS

CallbackKind = Literal["success", "exit", "event", "application_link"]
CALLBACK_KINDS: Final[tuple[CallbackKind, ...]] = ("success", "exit", "event")
"""The callbacks every configuration has; `application_link` is optional."""
APPLICATION_LINK: Final = "application_link"
_RESERVED: Final[Mapping[CallbackKind, frozenset[str]]] = {
    "success": SUCCESS_PARAMETERS,
    "exit": EXIT_PARAMETERS,
    "event": EVENT_PARAMETERS,
    "application_link": RESUME_PARAMETERS,
}
_LINK_SCHEMES: Final = frozenset({"https", "http"})


def _without_trailing_slash(path: str) -> str:
    # Belvo's App2App page sends the user to `.../belvo-widget/?access_token=...` for an
    # application link written `.../belvo-widget`, so one trailing "/" is not a different link.
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


class Route(NamedTuple):
    """One callback URL, split for matching: a URL is on it when scheme, authority and path are
    equal (an empty path equals "/"; on the application link, a trailing "/" is ignored) and it
    carries every parameter of the callback's own query."""

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
    path = parts.path or "/"
    if kind == APPLICATION_LINK:
        if parts.scheme not in _LINK_SCHEMES or not parts.authority:
            raise DeeplinkError(
                INVALID_DEEPLINK,
                "expected the application link as an https universal link / App Link; "
                f"got {shown(url.partition('?')[0])}",
                where,
            )
        if parts.query is not None:
            # Belvo appends `?access_token=...` to the link as given.
            raise DeeplinkError(
                INVALID_DEEPLINK, "expected the application link without a query ('?...')", where
            )
        path = _without_trailing_slash(path)
    names = [name for name, _ in pairs]
    clash = sorted(set(names) & _RESERVED[kind]) or sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise DeeplinkError(
            INVALID_DEEPLINK,
            f"expected the {kind} callback URL's own query to leave Belvo's parameters alone and "
            f"name each parameter once; got {clash[0]!r}",
            where,
        )
    return Route(kind, url, parts.scheme, parts.authority or "", path, frozenset(pairs))


@dataclass(frozen=True)
class CallbackUrls:
    """The app's callback URLs, checked when made; `application_link` is optional (App2App).

    `parse` and `build` also take a plain mapping with the same keys (as stored in JSON).

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
    application_link: str | None = None
    routes: tuple[Route, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        routes: tuple[Route, ...] = (
            _route("success", self.success),
            _route("exit", self.exit),
            _route("event", self.event),
        )
        if self.application_link is not None:
            if not isinstance(self.application_link, str):
                raise DeeplinkError(
                    INVALID_DEEPLINK,
                    f"expected callback_urls.application_link as a string or None; "
                    f"got {type(self.application_link).__name__}",
                    "callback_urls.application_link",
                )
            routes = (*routes, _route(APPLICATION_LINK, self.application_link))
        for index, route in enumerate(routes):
            for other in routes[index + 1 :]:
                if route.place == other.place or (
                    # Whatever its own query, a callback on the application link's path would
                    # take resume URLs for itself.
                    other.kind == APPLICATION_LINK
                    and (route.scheme, route.authority) == (other.scheme, other.authority)
                    and _without_trailing_slash(route.path) == other.path
                ):
                    raise DeeplinkError(
                        INVALID_DEEPLINK,
                        f"expected distinct callback URLs; {route.kind} and {other.kind} are the "
                        f"same: {shown(route.url)}",
                        f"callback_urls.{other.kind}",
                    )
        object.__setattr__(self, "routes", routes)

    @property
    def schemes(self) -> frozenset[str]:
        """The schemes of `success`, `exit` and `event`: a URL on one of them but on no callback is
        read by its name. Not the application link's: an https link does not make every https URL
        named `success` a callback."""
        return frozenset(route.scheme for route in self.routes[:3])

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
            case "resume" | "application_link":
                if len(self.routes) < 4:
                    raise DeeplinkError(
                        INVALID_DEEPLINK,
                        "expected callback_urls with an application_link for a resume deeplink",
                        "callback_urls.application_link",
                    )
                return self.routes[3]
        raise ValueError(f"expected an event type; got {event_type!r}")

    def to_dict(self) -> dict[str, str]:
        urls = {"success": self.success, "exit": self.exit, "event": self.event}
        if self.application_link is not None:
            urls[APPLICATION_LINK] = self.application_link
        return urls

    def route(self, parts: UrlParts, pairs: list[tuple[str, str]]) -> Route | None:
        """The callback `parts` is on, or None. The most specific one wins (the one whose own query
        names the most parameters); two equally specific ones are an error."""
        authority = parts.authority or ""
        path = parts.path or "/"
        present: set[tuple[str, str]] | None = None
        best: Route | None = None
        tied: Route | None = None
        for route in self.routes:
            if route.scheme != parts.scheme or route.authority != authority:
                continue
            if route.path != (_without_trailing_slash(path) if route.kind == APPLICATION_LINK else path):
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
"""What `build` uses without callback URLs: distinct paths under one scheme (facts file, decision 4)."""


def coerce_callback_urls(value: object) -> CallbackUrls:
    """`value` as `CallbackUrls`: itself, or a mapping with exactly `success`, `exit` and `event`,
    and optionally `application_link` (a string, or None for none).

    >>> coerce_callback_urls({"success": "a://s", "exit": "a://x"})
    Traceback (most recent call last):
    ...
    deeplinks.errors.DeeplinkError: expected callback_urls with the keys success, exit, event \
(and optionally application_link); missing ['event'], unknown []
    """
    if isinstance(value, CallbackUrls):
        return value
    if isinstance(value, Mapping) and 3 <= len(value) <= 4:
        try:
            # The usual case, a well-formed mapping already seen: one cache look-up.
            if len(value) == 3:
                return _cached_callback_urls(value["success"], value["exit"], value["event"], None)
            return _cached_callback_urls(
                value["success"], value["exit"], value["event"], value[APPLICATION_LINK]
            )
        except (KeyError, TypeError):
            pass  # a key missing or a value unhashable: described below
    if not isinstance(value, Mapping):
        raise DeeplinkError(
            INVALID_DEEPLINK,
            f"expected callback_urls as an object with success, exit, event; got {type(value).__name__}",
            "callback_urls",
        )
    missing = [kind for kind in CALLBACK_KINDS if kind not in value]
    unknown = [key for key in value if key not in CALLBACK_KINDS and key != APPLICATION_LINK]
    if missing or unknown:
        raise DeeplinkError(
            INVALID_DEEPLINK,
            f"expected callback_urls with the keys success, exit, event (and optionally "
            f"application_link); missing {missing}, unknown {[str(key) for key in unknown]}",
            f"callback_urls.{(missing or unknown)[0]}",
        )
    for kind in (*CALLBACK_KINDS, APPLICATION_LINK):
        url = value.get(kind)
        if not isinstance(url, str) and not (kind == APPLICATION_LINK and url is None):
            raise DeeplinkError(
                INVALID_DEEPLINK,
                f"expected callback_urls.{kind} as a string; got {type(url).__name__}",
                f"callback_urls.{kind}",
            )
    return _cached_callback_urls(value["success"], value["exit"], value["event"], value.get(APPLICATION_LINK))


@lru_cache(maxsize=256)
def _cached_callback_urls(success: str, exit: str, event: str, application_link: str | None) -> CallbackUrls:
    # The server passes the same few mappings (from its database) on every request.
    return CallbackUrls(success, exit, event, application_link)
