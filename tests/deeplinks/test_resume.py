"""App2App: the bank sends the user back to the app's application link, which parses to a
`ResumeEvent` carrying the query the widget must be reopened with (contract, section 6)."""

from __future__ import annotations

import logging

import pytest

import deeplinks
from deeplinks import CallbackUrls, DeeplinkError, ResumeEvent
from deeplinks.callbacks import coerce_callback_urls

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzaWQiOiJyZXN1bWUifQ.c2lnbmF0dXJl"
LINK = "https://app.example.com/belvo-widget"
URLS = {
    "success": "ofdaapp://belvo/success",
    "exit": "ofdaapp://belvo/exit",
    "event": "ofdaapp://belvo/event",
    "application_link": LINK,
}
QUERY = f"access_token={TOKEN}&consent_id=9e763d19-6f0b&locale=pt&state=a+b"


def test_application_link_url_is_a_resume_event_with_the_query_unchanged() -> None:
    event = deeplinks.parse(f"{LINK}?{QUERY}", URLS)
    assert event == ResumeEvent("9e763d19-6f0b", "pt", QUERY, {"state": "a b"})
    assert isinstance(event, ResumeEvent)
    assert event.access_token == TOKEN
    assert event.to_dict() == {
        "type": "resume",
        "consent_id": "9e763d19-6f0b",
        "locale": "pt",
        "query": QUERY,
        "extra": {"state": "a b"},
    }


def test_build_is_the_inverse_of_parse() -> None:
    event = ResumeEvent.from_query(QUERY)
    assert deeplinks.build(event, URLS) == f"{LINK}?{QUERY}"
    assert deeplinks.parse(deeplinks.build(event, URLS), URLS) == event
    assert deeplinks.from_dict(event.to_dict()) == event


def test_what_may_be_stored_holds_no_access_token() -> None:
    event = ResumeEvent.from_query(f"locale=pt&access%5Ftoken={TOKEN}&x=1")
    stored = event.to_dict(include_token=False)
    assert stored["query"] == "locale=pt&x=1"
    assert TOKEN not in str(stored)
    assert TOKEN not in repr(event)


def test_fields_must_agree_with_the_query() -> None:
    with pytest.raises(DeeplinkError, match="consent_id as the query says") as raised:
        ResumeEvent("other", "pt", QUERY, {"state": "a b"})
    assert raised.value.code == "invalid_deeplink"
    with pytest.raises(DeeplinkError, match="access_token"):
        ResumeEvent(None, "pt", "locale=pt")


def test_resume_needs_an_application_link_to_build() -> None:
    without = {key: value for key, value in URLS.items() if key != "application_link"}
    with pytest.raises(DeeplinkError, match="application_link"):
        deeplinks.build(ResumeEvent.from_query(QUERY), without)


def test_application_link_does_not_make_other_https_urls_callbacks() -> None:
    # Without the guard, the https application link would let any https URL named `success` in.
    url = "https://evil.example/success?link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=x"
    with pytest.raises(DeeplinkError) as raised:
        deeplinks.parse(url, URLS)
    assert raised.value.code == "unknown_event"


@pytest.mark.parametrize(
    ("application_link", "message"),
    [
        ("myapp://belvo/resume", "https universal link"),
        ("https://app.example.com/belvo-widget?x=1", "without a query"),
        ("https:/belvo-widget", "https universal link"),
        ("ofdaapp://belvo/success", "https universal link"),
    ],
)
def test_application_link_must_be_an_https_link_without_query(application_link: str, message: str) -> None:
    with pytest.raises(DeeplinkError, match=message) as raised:
        CallbackUrls(URLS["success"], URLS["exit"], URLS["event"], application_link)
    assert raised.value.field == "callback_urls.application_link"


def test_a_callback_on_the_application_links_path_is_refused() -> None:
    with pytest.raises(DeeplinkError, match="distinct"):
        CallbackUrls(f"{LINK}/?sid=1", URLS["exit"], URLS["event"], LINK)


def test_callback_urls_mapping_round_trips_with_and_without_application_link() -> None:
    assert coerce_callback_urls(URLS).to_dict() == URLS
    assert coerce_callback_urls({**URLS, "application_link": None}).application_link is None
    with pytest.raises(DeeplinkError, match="optionally application_link"):
        coerce_callback_urls({**URLS, "app_link": LINK})


@pytest.mark.parametrize(
    "url",
    [
        f"{LINK}?access_token={TOKEN}%FF&locale=pt",
        f"{LINK}?access_token={TOKEN}&locale=pt#x",
        f"{LINK}?access_token={TOKEN}&access_token={TOKEN}",
        f"{LINK}?access_token={TOKEN}&locale=p t",
        f"https://evil.example/belvo-widget?access_token={TOKEN}",
    ],
)
def test_errors_never_quote_the_access_token(url: str, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(DeeplinkError) as raised:
        deeplinks.parse(url, URLS)
    logging.getLogger("test").warning("refused: %s", raised.value)
    assert TOKEN[:8] not in str(raised.value.to_dict())
    assert TOKEN[:8] not in caplog.text
