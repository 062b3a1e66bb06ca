"""`build`: a typed event back to the deeplink Belvo would send (the inverse of `parse`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, assert_never
from urllib.parse import quote, quote_plus

from deeplinks._url import MAX_LENGTH
from deeplinks.callbacks import DEFAULT_CALLBACK_URLS, CallbackUrls, coerce_callback_urls
from deeplinks.errors import INVALID_DEEPLINK, DeeplinkError
from deeplinks.events import (
    ERROR,
    ERROR_MESSAGE,
    EXIT_CODE,
    EXIT_INSTITUTION,
    EXIT_MESSAGE,
    EXIT_STEP,
    INSTITUTION,
    LINK,
    WARNING,
    WARNING_MESSAGE,
    ErrorEvent,
    Event,
    ExitEvent,
    ResumeEvent,
    SuccessEvent,
    WarningEvent,
)

# What may stay raw in a query name or value and still read back the same (RFC 3986 query
# characters, less "&" and "+", and "=" in a name); with spaces as "+", the shortest form `parse` reads.
_RAW_IN_VALUE: Final = "!$'()*,;:@/?="
_RAW_IN_NAME: Final = "!$'()*,;:@/?"


def build(event: Event, callback_urls: CallbackUrls | Mapping[str, str] | None = None) -> str:
    """The deeplink for `event` on `callback_urls` (default `DEFAULT_CALLBACK_URLS`).

    Values are percent-encoded with `%20` for spaces (like `encodeURIComponent`, as in Belvo's
    examples); errors and warnings go to the `event` URL, a resume to the application link with its
    query unchanged. `parse(build(event, urls), urls) == event` always holds.

    An event too long for that (`%20` takes three characters where the URL it was parsed from
    could have `+`, and `encodeURIComponent` escapes `:` `@` `/` `?` `=` `$` `,` `;`, which may
    arrive raw) is written in the shortest form instead: `+` for spaces, those characters raw. Its
    query is then never longer than the one it was parsed from, so every event `parse` accepts
    can be built (`parse` refuses the few whose callback URL is longer than the URL they came on,
    near the 4096-character limit). An event that fits neither way raises `DeeplinkError`, as does
    one whose `extra` holds a parameter of the callback URL's own query (read by name from a URL
    on none of the callback URLs, such a parameter cannot be written back on them).

    >>> build(ErrorEvent("ACCESS_TOKEN_NOT_VALID", "The access token was not provided or is not valid"))
    'ofdaapp://belvo/event?error=ACCESS_TOKEN_NOT_VALID&error_message=The%20access%20token%20was%20not%20provided%20or%20is%20not%20valid'
    >>> urls = {
    ...     "success": "https://app.example/cb/success",
    ...     "exit": "https://app.example/cb/exit?sid=42",
    ...     "event": "https://app.example/cb/event",
    ... }
    >>> build(ExitEvent(step="abandon-survey"), urls)
    'https://app.example/cb/exit?sid=42&meta_data_step=abandon-survey'
    """
    callbacks = DEFAULT_CALLBACK_URLS if callback_urls is None else coerce_callback_urls(callback_urls)
    route = callbacks.route_for(event.type)
    params: list[tuple[str, str | None]]
    match event:
        case ResumeEvent():
            # The query as the bank sent it: the widget must be opened with exactly this query.
            return _fits(route.url + "?" + event.query)
        case SuccessEvent():
            params = [(LINK, event.link_id), (INSTITUTION, event.institution)]
        case ExitEvent():
            error = event.error
            params = [
                (EXIT_CODE, None if error is None else error.code),
                (EXIT_MESSAGE, None if error is None else error.message),
                (EXIT_INSTITUTION, event.institution),
                (EXIT_STEP, event.step),
            ]
        case ErrorEvent():
            params = [(ERROR, event.code), (ERROR_MESSAGE, event.message)]
        case WarningEvent():
            params = [(WARNING, event.code), (WARNING_MESSAGE, event.message)]
        case _:
            assert_never(event)
    clash = sorted(route.keys & event.extra.keys())
    if clash:
        raise DeeplinkError(
            INVALID_DEEPLINK,
            f"expected extra to leave the callback URL's own parameters alone; got {clash[0]!r}",
            f"extra.{clash[0]}",
        )
    pairs = [(name, value) for name, value in [*params, *event.extra.items()] if value is not None]
    base = route.url
    joiner = "&" if "?" in base else "?"
    query = "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in pairs)
    url = base + joiner + query if query else base
    if len(url) <= MAX_LENGTH:
        return url
    shortest = "&".join(
        quote_plus(name, safe=_RAW_IN_NAME) + ("=" + quote_plus(value, safe=_RAW_IN_VALUE) if value else "")
        for name, value in pairs
    )
    return _fits(base + joiner + shortest)


def _fits(url: str) -> str:
    if len(url) > MAX_LENGTH:
        raise DeeplinkError(
            INVALID_DEEPLINK,
            f"expected the event to fit a deeplink of at most {MAX_LENGTH} characters; got {len(url)}",
            "extra",
        )
    return url
