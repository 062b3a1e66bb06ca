"""build: the URL Belvo would send for an event."""

from __future__ import annotations

import pytest

from deeplinks import (
    DeeplinkError,
    ErrorEvent,
    ExitError,
    ExitEvent,
    SuccessEvent,
    WarningEvent,
    build,
    parse,
)

LINK = "cb65f82c-dc93-4d3e-8270-9a27528397f5"
APP = {"success": "exampleapp://cb/success", "exit": "exampleapp://cb/exit", "event": "exampleapp://cb/event"}


def test_each_event_goes_to_its_callback_url() -> None:
    assert build(SuccessEvent(LINK, "ofmockbank_br_retail"), APP) == (
        f"exampleapp://cb/success?link={LINK}&institution=ofmockbank_br_retail"
    )
    assert build(ExitEvent(), APP) == "exampleapp://cb/exit"
    assert (
        build(ErrorEvent("ACCESS_TOKEN_NOT_VALID"), APP)
        == "exampleapp://cb/event?error=ACCESS_TOKEN_NOT_VALID"
    )
    assert (
        build(WarningEvent("institution_disabled"), APP)
        == "exampleapp://cb/event?warning=institution_disabled"
    )


def test_exit_parameters_use_belvos_flattened_names_in_order() -> None:
    event = ExitEvent(ExitError("login_error", "Invalid credentials"), "amex_mx_retail", "abandon-survey")
    assert build(event, APP) == (
        "exampleapp://cb/exit?last_encountered_error_code=login_error"
        "&last_encountered_error_message=Invalid%20credentials"
        "&meta_data_institution_name=amex_mx_retail&meta_data_step=abandon-survey"
    )


def test_text_is_percent_encoded_with_percent_20_and_utf8() -> None:
    url = build(WarningEvent("x", "A instituição + 100% & já", {"nome do campo": "São/Paulo?"}), APP)
    assert url == (
        "exampleapp://cb/event?warning=x&warning_message=A%20institui%C3%A7%C3%A3o%20%2B%20100%25%20%26%20j%C3%A1"
        "&nome%20do%20campo=S%C3%A3o%2FPaulo%3F"
    )


def test_callback_url_with_its_own_query_is_kept_and_extended() -> None:
    callbacks = {**APP, "event": "https://app.example/cb?sid=42"}
    event = ErrorEvent("ACCESS_TOKEN_NOT_VALID", extra={"request_id": "abc"})
    url = build(event, callbacks)
    assert url == "https://app.example/cb?sid=42&error=ACCESS_TOKEN_NOT_VALID&request_id=abc"
    assert parse(url, callbacks) == event


def test_extra_may_not_shadow_the_callback_urls_own_parameters() -> None:
    callbacks = {**APP, "event": "https://app.example/cb?sid=42"}
    with pytest.raises(DeeplinkError) as raised:
        build(ErrorEvent("X", extra={"sid": "43"}), callbacks)
    assert raised.value.field == "extra.sid"


def test_an_event_too_long_for_a_deeplink_is_refused() -> None:
    with pytest.raises(DeeplinkError, match="at most 4096 characters; got 4"):
        build(ErrorEvent("X", "m" * 4096))


def test_default_callback_urls() -> None:
    assert build(SuccessEvent(LINK, "x")).startswith("ofdaapp://belvo/success?")


def test_an_event_too_long_with_percent_20_is_written_in_the_shortest_form() -> None:
    # Parsed from a URL of 4096 characters whose message is "+" for spaces and ":" raw.
    url = build(ErrorEvent("X", "a: b " * 800))
    assert url == "ofdaapp://belvo/event?error=X&error_message=" + "a:+b+" * 800
    assert parse(url) == ErrorEvent("X", "a: b " * 800)
