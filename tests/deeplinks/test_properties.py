"""Properties over generated input: build/parse round trips, and parse raising nothing but
DeeplinkError whatever text, bytes or mutated corpus URL it is given."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from deeplinks import (
    CallbackUrls,
    DeeplinkError,
    ErrorEvent,
    Event,
    ExitError,
    ExitEvent,
    SuccessEvent,
    WarningEvent,
    build,
    from_dict,
    parse,
)
from deeplinks._url import NEVER_CALLBACK_SCHEMES
from deeplinks.corpus import load_fixtures
from deeplinks.events import EVENT_PARAMETERS, EXIT_PARAMETERS, SUCCESS_PARAMETERS

URLS = [fixture.url for fixture in load_fixtures()]

# Text an event may hold: any Unicode but controls, lone surrogates and bidi overrides/isolates.
CHARACTERS = st.characters(
    codec="utf-8",
    exclude_categories=("Cc", "Cs"),
    exclude_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
)
TEXT = st.text(CHARACTERS, min_size=1, max_size=24)
OPTIONAL_TEXT = st.none() | TEXT
RESERVED = SUCCESS_PARAMETERS | EXIT_PARAMETERS | EVENT_PARAMETERS | {"sid", "step"}
EXTRA = st.dictionaries(
    TEXT.filter(lambda name: name not in RESERVED), st.text(CHARACTERS, max_size=16), max_size=4
)
EXIT_ERRORS = st.none() | st.builds(ExitError, TEXT, OPTIONAL_TEXT)

EVENTS: st.SearchStrategy[Event] = st.one_of(
    st.builds(SuccessEvent, st.uuids().map(str), TEXT, EXTRA),
    st.builds(ExitEvent, EXIT_ERRORS, OPTIONAL_TEXT, OPTIONAL_TEXT, EXTRA),
    st.builds(ErrorEvent, TEXT, OPTIONAL_TEXT, EXTRA),
    st.builds(WarningEvent, TEXT, OPTIONAL_TEXT, EXTRA),
)

# Custom schemes; http(s) come with the "https" style below, never-callback schemes are refused.
SCHEMES = st.from_regex(r"[a-z][a-z0-9+.\-]{0,8}", fullmatch=True).filter(
    lambda scheme: scheme not in NEVER_CALLBACK_SCHEMES | {"http", "https"}
)


@st.composite
def callback_urls(draw: st.DrawFn) -> CallbackUrls | None:
    """None, or three distinct callback URLs: custom scheme, https or private-use style."""
    style = draw(st.sampled_from(["none", "host", "path", "https", "rfc8252", "own-query"]))
    scheme = draw(SCHEMES)
    kinds = ("success", "exit", "event")
    match style:
        case "none":
            return None
        case "host":
            urls = [f"{scheme}://{kind}" for kind in kinds]
        case "path":
            urls = [f"{scheme}://belvo/{kind}" for kind in kinds]
        case "https":
            urls = [f"https://links.example.com:8443/app/{kind}/" for kind in kinds]
        case "rfc8252":
            urls = [f"{scheme}:/cb/{kind}" for kind in kinds]
        case _:
            sid = draw(st.from_regex(r"[A-Za-z0-9_\-]{1,12}", fullmatch=True))
            urls = [f"https://app.example/cb?sid={sid}&step={kind}" for kind in kinds]
    return CallbackUrls(*urls)


@given(EVENTS, callback_urls())
def test_parse_inverts_build(event: Event, callbacks: CallbackUrls | None) -> None:
    assert parse(build(event, callbacks), callbacks) == event


@given(EVENTS)
def test_json_round_trip(event: Event) -> None:
    assert from_dict(json.loads(json.dumps(event.to_dict()))) == event


def _parses_or_rejects(url: Any, callback_urls: Any = None) -> None:
    """parse answers an event, or raises DeeplinkError and nothing else (that is the property)."""
    code: str | None
    try:
        event = parse(url, callback_urls)
    except DeeplinkError as error:
        code = error.code
    else:
        code = None
        assert from_dict(event.to_dict()) == event
    assert code in {None, "invalid_deeplink", "unknown_event"}


@given(st.text())
@example("\x00myapp://success?link=x")
@example("my\tapp://suc\ncess")
@example("myapp://[::1]/success")
@example("https://x:99999999999999999999/success")
def test_arbitrary_text_raises_only_deeplink_error(url: str) -> None:
    _parses_or_rejects(url)


@given(st.binary(), st.sampled_from(["utf-8", "latin-1"]))
def test_decoded_bytes_raise_only_deeplink_error(data: bytes, encoding: str) -> None:
    _parses_or_rejects(data.decode(encoding, "surrogateescape"))


@given(st.sampled_from(URLS), st.integers(min_value=0), st.integers(0, 3), st.text(max_size=3))
def test_mutated_corpus_urls_raise_only_deeplink_error(url: str, at: int, cut: int, insert: str) -> None:
    at %= len(url) + 1
    _parses_or_rejects(url[:at] + insert + url[at + cut :])


ANY_CALLBACK_URLS = st.one_of(
    st.dictionaries(
        st.sampled_from(["success", "exit", "event"]) | st.text(max_size=5),
        st.text() | st.integers() | st.none(),
    ),
    st.lists(st.text()),
    st.text(),
)


@given(st.sampled_from(URLS), ANY_CALLBACK_URLS)
def test_arbitrary_callback_urls_raise_only_deeplink_error(url: str, callbacks: Any) -> None:
    _parses_or_rejects(url, callbacks)


# Near the 4096-character limit, the text `build` must write back in no more room than it came in:
# "+" for a space, characters encodeURIComponent escapes but a URL may carry raw, empty and repeated
# fields; on callback URLs written longer than the URL that arrives (a trailing "/", an own query
# spelled with escapes, a URL read by its name on a longer callback URL).
QUERY_PIECES = st.sampled_from(
    [
        *["+", "%20", ":", "@", "/", "?", "=", "$", ",", ";", "!", "*", "'", "(", ")", "~", "a"],
        *["%C3%A7", "%2B", "%26", "%3D", "&x", "&x=1", "&&", "&y="],
    ]
)
UUID = "cb65f82c-dc93-4d3e-8270-9a27528397f5"
HOST_STYLE = {"success": "myapp://success", "exit": "myapp://exit", "event": "myapp://event"}
SLASHED = {kind: f"myapp://belvo/{kind}/" for kind in ("success", "exit", "event")}
OWN_QUERY = {kind: f"https://app.example/cb?sid=%34%32&step={kind}" for kind in ("success", "exit", "event")}
APP2APP = {**HOST_STYLE, "application_link": "https://app.example.com/belvo-widget/"}
NEAR_LIMIT_SHAPES = [
    (HOST_STYLE, f"myapp://success?link={UUID}&institution=x"),
    (HOST_STYLE, "MyApp://exit?meta_data_step=a"),
    (SLASHED, f"myapp://belvo/success?link={UUID}&institution=x"),
    (SLASHED, "myapp://warning?warning=w"),
    (OWN_QUERY, "https://app.example/cb?step=event&sid=42&error=E"),
    (APP2APP, "https://app.example.com/belvo-widget?access_token=t"),
]


@st.composite
def near_limit_urls(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    callbacks, start = draw(st.sampled_from(NEAR_LIMIT_SHAPES))
    pattern = "".join(draw(st.lists(QUERY_PIECES, min_size=1, max_size=12)))
    length = draw(st.integers(min_value=3900, max_value=4096))
    url = start + "&note=" + pattern * ((length - len(start) - 6) // len(pattern))
    return url + "a" * (length - len(url)), callbacks


@given(near_limit_urls())
@example((f"myapp://success?link={UUID}&institution=x&note=" + "+" * 4000, HOST_STYLE))
@example((f"myapp://belvo/success?link={UUID}&institution=x&n=".ljust(4096, "a"), SLASHED))
@example((f"https://app.example.com/belvo-widget?access_token=t&n={'a' * 4000}"[:4096], APP2APP))
def test_every_event_parse_accepts_builds_back_to_itself(case: tuple[str, dict[str, str]]) -> None:
    url, callbacks = case
    try:
        event = parse(url, callbacks)
    except DeeplinkError:
        return  # refused (the property is about what parse accepts)
    assert parse(build(event, callbacks), callbacks) == event
