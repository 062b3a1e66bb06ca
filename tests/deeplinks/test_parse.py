"""parse: what it answers for URLs a user (or an attacker) would send, and what its errors say."""

from __future__ import annotations

from typing import Any

import pytest

from deeplinks import (
    DEFAULT_CALLBACK_URLS,
    CallbackUrls,
    DeeplinkError,
    ErrorEvent,
    ExitEvent,
    SuccessEvent,
    WarningEvent,
    parse,
)

LINK = "cb65f82c-dc93-4d3e-8270-9a27528397f5"
APP = {
    "success": "exampleapp://belvo/success",
    "exit": "exampleapp://belvo/exit",
    "event": "exampleapp://belvo/event",
}


def success_url(base: str = "exampleapp://belvo/success", **params: str) -> str:
    query = {"link": LINK, "institution": "ofmockbank_br_retail", **params}
    return base + "?" + "&".join(f"{name}={value}" for name, value in query.items())


def error_of(url: Any, callback_urls: Any = None) -> DeeplinkError:
    with pytest.raises(DeeplinkError) as raised:
        parse(url, callback_urls)
    return raised.value


def test_callback_urls_may_be_a_mapping_or_callback_urls() -> None:
    url = success_url()
    expected = SuccessEvent(LINK, "ofmockbank_br_retail")
    assert parse(url, APP) == parse(url, CallbackUrls(**APP)) == parse(url) == expected


def test_default_callback_urls_are_paths_under_one_scheme() -> None:
    assert DEFAULT_CALLBACK_URLS.to_dict() == {
        "success": "ofdaapp://belvo/success",
        "exit": "ofdaapp://belvo/exit",
        "event": "ofdaapp://belvo/event",
    }
    assert parse("ofdaapp://belvo/event?warning=institution_disabled", DEFAULT_CALLBACK_URLS) == WarningEvent(
        "institution_disabled"
    )


def test_event_callback_tells_errors_from_warnings_by_their_keys() -> None:
    base = APP["event"]
    assert parse(f"{base}?error=ACCESS_TOKEN_NOT_VALID", APP) == ErrorEvent("ACCESS_TOKEN_NOT_VALID")
    assert parse(f"{base}?warning=institution_disabled", APP) == WarningEvent("institution_disabled")
    assert error_of(f"{base}?status=1", APP).code == "unknown_event"


UUID_EXPECTED = "expected link as a UUID like 'cb65f82c-dc93-4d3e-8270-9a27528397f5'"


@pytest.mark.parametrize(
    ("url", "field", "message"),
    [
        (success_url(link="abc"), "link", f"{UUID_EXPECTED}; got 'abc'"),
        (
            "exampleapp://success?link=" + LINK,
            "institution",
            "expected a non-empty institution on a success deeplink",
        ),
        (
            success_url(institution="a&institution=b"),
            "institution",
            "expected institution once; got it more than once",
        ),
        (
            "exampleapp://exit?last_encountered_error_message=x",
            "last_encountered_error_message",
            "expected last_encountered_error_code with last_encountered_error_message; got only the message",
        ),
        (
            "exampleapp://error?error=X&error_message=%FF",
            "error_message",
            "expected UTF-8 after percent-decoding error_message; got '%FF'",
        ),
        (
            "exampleapp://error?error=X&error_message=a%00b",
            "error_message",
            "expected no control or bidi characters in error_message; got '\\x00' (U+0000) "
            "after percent-decoding",
        ),
        (
            "exampleapp://error?error=X&error_message=100%",
            "url",
            "expected '%' followed by two hex digits; got '%' at position 44",
        ),
        (
            "exampleapp://error?error=X&error_message=a b",
            "url",
            "expected only characters allowed raw in a URL (RFC 3986), others percent-encoded; "
            "got ' ' at position 42",
        ),
        (
            "exampleapp://success@evil.example",
            "url",
            "expected no user information ('...@') in the host; got 'success@evil.example'",
        ),
        ("x" * 4097, "url", "expected at most 4096 characters; got 4097"),
    ],
)
def test_invalid_deeplinks_name_the_field_what_was_expected_and_what_came(
    url: str, field: str, message: str
) -> None:
    error = error_of(url)
    assert (error.code, error.field, error.message) == ("invalid_deeplink", field, message)


def test_messages_cut_long_values() -> None:
    error = error_of(success_url(link="a" * 200))
    assert error.field == "link"
    assert error.message.endswith("got '" + "a" * 60 + "'(…)")


@pytest.mark.parametrize("url", [None, b"exampleapp://exit", 42, ["exampleapp://exit"]])
def test_a_url_that_is_not_a_string_is_invalid(url: Any) -> None:
    error = error_of(url)
    assert (error.code, error.field) == ("invalid_deeplink", "url")
    assert error.message.startswith("expected the URL as a string; got ")


@pytest.mark.parametrize(
    ("callback_urls", "field"),
    [
        (["exampleapp://belvo/success"], "callback_urls"),
        ({**APP, "event": 3}, "callback_urls.event"),
        ({**APP, "error": "exampleapp://belvo/error"}, "callback_urls.error"),
        ({**APP, "exit": "exampleapp://belvo/exit#x"}, "callback_urls.exit"),
        ({**APP, "exit": "exampleapp://belvo/exit?%zz"}, "callback_urls.exit"),
        ({**APP, "exit": "exampleapp://belvo/exit?meta_data_step=x"}, "callback_urls.exit"),
        ({**APP, "exit": APP["success"]}, "callback_urls.exit"),
    ],
)
def test_bad_callback_urls_are_invalid_and_say_which(callback_urls: Any, field: str) -> None:
    error = error_of(success_url(), callback_urls)
    assert (error.code, error.field) == ("invalid_deeplink", field)


def test_a_url_on_another_scheme_than_the_callbacks_is_unknown() -> None:
    error = error_of(success_url("otherapp://belvo/success"), APP)
    assert error.code == "unknown_event"
    assert error.message == "expected a URL on the callback URLs (exampleapp://...); got scheme 'otherapp'"


def test_callback_urls_with_their_own_query_pick_the_most_specific() -> None:
    callbacks = {
        "success": "https://app.example/cb",
        "exit": "https://app.example/cb?step=exit",
        "event": "https://app.example/cb?step=event",
    }
    assert parse("https://app.example/cb?step=exit&meta_data_step=abandon-survey", callbacks) == ExitEvent(
        step="abandon-survey"
    )
    assert parse(f"https://app.example/cb?link={LINK}&institution=x", callbacks) == SuccessEvent(LINK, "x")


def test_repeated_unknown_parameter_keeps_its_first_value() -> None:
    assert parse(success_url(utm="a&utm=b")).extra == {"utm": "a"}
