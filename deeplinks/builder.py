"""`build`: a typed event back to the deeplink Belvo would send (the inverse of `parse`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import assert_never
from urllib.parse import quote

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


def build(event: Event, callback_urls: CallbackUrls | Mapping[str, str] | None = None) -> str:
    """The deeplink for `event` on `callback_urls` (default `DEFAULT_CALLBACK_URLS`).

    Values are percent-encoded with `%20` for spaces (like `encodeURIComponent`); errors and
    warnings go to the `event` URL; `parse(build(event, urls), urls) == event` always holds,
    and a URL `parse` would refuse (over 4096 characters) raises `DeeplinkError` instead.

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
    query = "&".join(
        f"{quote(name, safe='')}={quote(value, safe='')}"
        for name, value in [*params, *event.extra.items()]
        if value is not None
    )
    base = route.url
    return _fits(base + ("&" if "?" in base else "?") + query if query else base)


def _fits(url: str) -> str:
    if len(url) > MAX_LENGTH:
        raise DeeplinkError(
            INVALID_DEEPLINK,
            f"expected the event to fit a deeplink of at most {MAX_LENGTH} characters; got {len(url)}",
            "extra",
        )
    return url
