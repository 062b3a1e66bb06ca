"""`parse`: a Belvo callback deeplink to a typed event (contract, section 3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from deeplinks._url import MAX_LENGTH, NEVER_CALLBACK_SCHEMES, UrlParts, decode_query, event_name, split_url
from deeplinks.builder import build
from deeplinks.callbacks import CallbackUrls, coerce_callback_urls
from deeplinks.errors import INVALID_DEEPLINK, UNKNOWN_EVENT, DeeplinkError, shown
from deeplinks.events import (
    ERROR,
    ERROR_MESSAGE,
    EVENT_PARAMETERS,
    EXIT_CODE,
    EXIT_INSTITUTION,
    EXIT_MESSAGE,
    EXIT_PARAMETERS,
    EXIT_STEP,
    INSTITUTION,
    LINK,
    SUCCESS_PARAMETERS,
    UUID_PATTERN,
    WARNING,
    WARNING_MESSAGE,
    ErrorEvent,
    Event,
    ExitError,
    ExitEvent,
    ResumeEvent,
    SuccessEvent,
    WarningEvent,
    collect_parameters,
)

# What the last path segment or the host may say. Errors and warnings arrive on the `event`
# callback and are told apart by their query keys (facts file, decision 4); a URL named `error`
# or `warning` is read the same way, because Belvo's own guides register `<scheme>://error` as the
# `event` callback (facts file 1.2 and 3.5), so warnings reach apps on URLs named `error`.
_KIND_BY_NAME: Final[Mapping[str, str]] = {
    "success": "success",
    "exit": "exit",
    "event": "event",
    "error": "event",
    "warning": "event",
}

Pairs = list[tuple[str, str]]


def parse(url: str, callback_urls: CallbackUrls | Mapping[str, str] | None = None) -> Event:
    """The event a Belvo callback deeplink carries; raises `DeeplinkError` and nothing else.

    Which kind a URL is (contract, section 3): with `callback_urls`, the callback URL it is on
    (scheme and host compared case-insensitively, path exactly); a URL with one of their schemes
    that is on none of them, or any URL without `callback_urls`, by its last non-empty path segment
    or else its host. On the `event` callback, `error` makes an ErrorEvent and `warning` a
    WarningEvent.

    A URL on `callback_urls["application_link"]` (App2App: the bank sending the user back to the
    app) is a `ResumeEvent` carrying its raw query; `access_token` is required. It is never found by
    name, and the application link's https scheme does not make https URLs elsewhere callbacks.

    URLs named `error` or `warning` are read by their query keys too. A callback URL may carry its
    own query (`...?sid=42`): a URL is on it only when it repeats those parameters, which are then
    not reported in `extra`; the callback naming the most parameters wins.

    Query values are percent-decoded once, `+` meaning a space. Parameters the event does not
    define go to `extra`; a repeated one keeps its first value, as Android's
    `Uri.getQueryParameter` and `URLSearchParams.get` do, while a parameter the event defines,
    given twice, is `invalid_deeplink` (the app and the backend could read different values).
    An empty value counts as absent. A message without its code
    (`last_encountered_error_message` without `last_encountered_error_code`, `warning_message` on
    an error) is `invalid_deeplink`: Belvo sends the message only with the code.

    Also `invalid_deeplink` (threat model E): over 4096 characters, or, with `callback_urls`, an
    event that would not fit 4096 characters written back by `build` on its callback URL (a URL
    near the limit on a callback URL written longer than the URL came, or read by its name on a
    longer callback URL), so that `parse(build(event, urls), urls) == event` holds for every event
    `parse(url, urls)` gives (but one read by its name whose `extra` holds a parameter of its
    callback URL's own query, which `build` refuses; and without `callback_urls`, `build` writes
    on `DEFAULT_CALLBACK_URLS`, which an event read near the limit from a shorter URL may not
    fit); characters RFC 3986 does not allow raw (controls, spaces, non-ASCII, and any of
    " < > \\ ^ ` { | } [ ]); a fragment (Belvo never sends one); user information
    (`myapp://success@evil`); a port, except on http(s); `.`/`..` path segments; a bad percent
    escape; bytes that are not UTF-8, or decode to controls or bidi overrides; a `link` that is
    not a UUID with hyphens (returned lowercase).
    A URL on a scheme that can never be a callback (`javascript:`, `data:`, `file:`, `intent:`,
    ...) is `unknown_event`.

    >>> event = parse("myapp://success?link=CB65F82C-DC93-4D3E-8270-9A27528397F5&institution=x_br")
    >>> event.link_id, event.institution
    ('cb65f82c-dc93-4d3e-8270-9a27528397f5', 'x_br')
    >>> parse("myapp://belvo/exit?meta_data_step=abandon-survey&utm=1").to_dict()
    {'type': 'exit', 'error': None, 'institution': None, 'step': 'abandon-survey', 'extra': {'utm': '1'}}
    >>> parse("myapp://belvo/done")
    Traceback (most recent call last):
    ...
    deeplinks.errors.DeeplinkError: expected the last path segment or the host to be success, exit, \
error, warning or event; got 'done'
    """
    parts = split_url(url)
    pairs = decode_query(parts.query)
    consumed: frozenset[str] = frozenset()
    callbacks: CallbackUrls | None = None
    if callback_urls is None:
        kind = _kind_by_name(parts)
    else:
        callbacks = coerce_callback_urls(callback_urls)
        route = callbacks.route(parts, pairs)
        if route is not None:
            kind, consumed = route.kind, route.keys
        elif parts.scheme in callbacks.schemes:
            kind = _kind_by_name(parts)
        else:
            raise _off_callbacks(parts, callbacks)
    event: Event
    match kind:
        case "application_link":
            event = ResumeEvent.from_query(parts.query or "")
        case "success":
            event = _success(pairs, consumed)
        case "exit":
            event = _exit(pairs, consumed)
        case _:
            event = _coded(pairs, consumed)
    if callbacks is not None and len(url) + len(callbacks.route_for(event.type).url) >= MAX_LENGTH:
        # Only near the limit can the event's URL, written back on its callback URL, be too long
        # (`build`'s shortest form is never longer than this URL past the callback URL).
        _check_rebuilds(event, callbacks)
    return event


def _check_rebuilds(event: Event, callbacks: CallbackUrls) -> None:
    try:
        build(event, callbacks)
    except DeeplinkError:
        raise DeeplinkError(
            INVALID_DEEPLINK,
            f"expected an event that fits a deeplink of at most {MAX_LENGTH} characters written back "
            f"on its callback URL {shown(callbacks.route_for(event.type).url)}",
            "url",
        ) from None


def _off_callbacks(parts: UrlParts, callbacks: CallbackUrls) -> DeeplinkError:
    expected = f"a URL on the callback URLs ({', '.join(sorted(callbacks.schemes))}://...)"
    if callbacks.application_link is None:
        return DeeplinkError(UNKNOWN_EVENT, f"expected {expected}; got scheme {parts.scheme!r}", "url")
    got = f"{parts.scheme}://{parts.authority or ''}{parts.path}"
    return DeeplinkError(
        UNKNOWN_EVENT,
        f"expected {expected} or on the application link {shown(callbacks.application_link)}; "
        f"got {shown(got)}",
        "url",
    )


def _kind_by_name(parts: UrlParts) -> str:
    if parts.scheme in NEVER_CALLBACK_SCHEMES:
        raise DeeplinkError(
            UNKNOWN_EVENT, f"expected an app or https deeplink; got scheme {parts.scheme!r}", "url"
        )
    name = event_name(parts)
    kind = _KIND_BY_NAME.get(name)
    if kind is None:
        raise DeeplinkError(
            UNKNOWN_EVENT,
            "expected the last path segment or the host to be success, exit, error, warning or "
            f"event; got {shown(name)}",
            "url",
        )
    return kind


def _missing(name: str, kind: str) -> DeeplinkError:
    return DeeplinkError(INVALID_DEEPLINK, f"expected a non-empty {name} on a {kind} deeplink", name)


def _success(pairs: Pairs, consumed: frozenset[str]) -> SuccessEvent:
    values, extra = collect_parameters(pairs, SUCCESS_PARAMETERS, consumed)
    link = values.get(LINK)
    if link is None:
        raise _missing(LINK, "success")
    if UUID_PATTERN.fullmatch(link) is None:
        raise DeeplinkError(
            INVALID_DEEPLINK,
            f"expected link as a UUID like 'cb65f82c-dc93-4d3e-8270-9a27528397f5'; got {shown(link)}",
            LINK,
        )
    institution = values.get(INSTITUTION)
    if institution is None:
        raise _missing(INSTITUTION, "success")
    return SuccessEvent(link.lower(), institution, extra)


def _exit(pairs: Pairs, consumed: frozenset[str]) -> ExitEvent:
    values, extra = collect_parameters(pairs, EXIT_PARAMETERS, consumed)
    code = values.get(EXIT_CODE)
    message = values.get(EXIT_MESSAGE)
    if code is None and message is not None:
        raise DeeplinkError(
            INVALID_DEEPLINK, f"expected {EXIT_CODE} with {EXIT_MESSAGE}; got only the message", EXIT_MESSAGE
        )
    return ExitEvent(
        None if code is None else ExitError(code, message),
        values.get(EXIT_INSTITUTION),
        values.get(EXIT_STEP),
        extra,
    )


def _coded(pairs: Pairs, consumed: frozenset[str]) -> ErrorEvent | WarningEvent:
    values, extra = collect_parameters(pairs, EVENT_PARAMETERS, consumed)
    error = values.get(ERROR)
    warning = values.get(WARNING)
    if error is not None and warning is not None:
        raise DeeplinkError(
            INVALID_DEEPLINK, "expected either error or warning on an event deeplink; got both", WARNING
        )
    if error is not None:
        _only_with(values, WARNING_MESSAGE, ERROR)
        return ErrorEvent(error, values.get(ERROR_MESSAGE), extra)
    if warning is not None:
        _only_with(values, ERROR_MESSAGE, WARNING)
        return WarningEvent(warning, values.get(WARNING_MESSAGE), extra)
    raise DeeplinkError(
        UNKNOWN_EVENT,
        f"expected error or warning on an event deeplink; got parameters {sorted(values) + list(extra)}",
        "url",
    )


def _only_with(values: Mapping[str, str], message: str, present: str) -> None:
    if message in values:
        raise DeeplinkError(
            INVALID_DEEPLINK, f"expected no {message} on a deeplink carrying {present}", message
        )
