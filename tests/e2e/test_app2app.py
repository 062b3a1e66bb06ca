"""App2App end to end (docs/contract.md section 6, https://developers.belvo.com/docs/hosted-widget-app2app-ofda):
the backend on a port with ``APPLICATION_LINK`` on its own address, the app played by a phone-sized
Chromium page (its webview) and a second page (the secure browser the app opens the bank in).

After the consent screen the widget sends the user to the bank on another origin (``localhost`` for
``127.0.0.1``): the app's navigation policy sees them leave the widget's site and opens the bank outside
the webview. The bank sends them to the application link, which the OS hands to the app (here: the
navigation is caught and never loads); the app asks the backend to resume, loads the returned widget URL
in its webview, and forwards the callback the widget ends on. Screens go to
``artifacts/screenshots/app2app-*.png``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from server.config import origin
from tests.browser import capture_callback, screenshot
from tests.e2e.conftest import Backend, running_backend
from tests.e2e.test_full_flow import IDENTIFICATION, App, assert_denied
from tests.support import Clock

pytestmark = pytest.mark.browser

APP_LINK_PATH = "/belvo/app"


@pytest.fixture
def backend(database_url: str, clock: Clock) -> Iterator[Backend]:
    with running_backend(
        database_url, clock, lambda url: {"APPLICATION_LINK": url + APP_LINK_PATH}
    ) as running:
        yield running


@pytest.fixture
def secure_browser(browser: Any) -> Iterator[Any]:
    """The browser the app opens the bank in (a Custom Tab, an ASWebAuthenticationSession)."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


class Webview:
    """The app's webview: it records where each main-frame navigation goes, as a navigation policy
    (``shouldOverrideUrlLoading``, ``decidePolicyFor``) sees it."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.navigations: list[str] = []
        page.on(
            "request",
            lambda request: (
                self.navigations.append(request.url)
                if request.is_navigation_request() and request.frame == page.main_frame
                else None
            ),
        )

    def leaving(self, widget_origin: str) -> list[str]:
        """The web pages the webview was sent to outside the widget's origin."""
        return [url for url in self.navigations if url.startswith("http") and origin(url) != widget_origin]


def to_the_bank(app: App, webview: Webview, secure_browser: Any) -> tuple[dict[str, Any], str]:
    """Session with App2App, widget, mock bank, consent; the bank then opens in the secure browser.
    Returns the session and the widget's origin."""
    session = app.call("POST", "/v1/widget-sessions", 201, json={"identification_info": IDENTIFICATION})
    assert session["callback_urls"]["application_link"] == app.url + APP_LINK_PATH
    widget_origin = origin(session["widget_url"])

    webview.page.goto(session["widget_url"])
    webview.page.click('[data-test="institution"][data-institution="ofmockbank_br_retail"]')
    webview.page.click('[data-test="consent-accept"]')
    webview.page.wait_for_selector('[data-test="bank-authorize"]')

    (bank,) = webview.leaving(widget_origin)
    assert urlsplit(bank).hostname == "localhost"  # the widget is on 127.0.0.1: another site
    assert urlsplit(bank).path.endswith("/bank")
    secure_browser.goto(bank)
    screenshot(secure_browser, "app2app-1-bank")
    return session, widget_origin


def back_to_the_app(secure_browser: Any, application_link: str, decision: str) -> str:
    """Decide at the bank; the application link URL the OS then hands to the app (caught, not loaded)."""
    secure_browser.route(f"{application_link}**", lambda route: route.abort())
    with secure_browser.expect_request(
        lambda request: request.url.startswith(application_link + "?")
    ) as info:
        secure_browser.click(f'[data-test="bank-{decision}"]')
    url: str = info.value.url
    return url


def resume_in_the_webview(
    app: App, webview: Webview, url: str, widget_origin: str
) -> tuple[dict[str, Any], str]:
    """The app, opened by the application link, asks the backend where to go on and loads it."""
    resumed = app.call("POST", "/v1/widget-sessions/resume", 200, json={"url": url})
    # The app loads only a widget URL: the returned one must be on the widget's origin.
    assert origin(resumed["widget_url"]) == widget_origin
    assert resumed["widget_url"].endswith("?" + url.partition("?")[2])
    callback = capture_callback(webview.page, lambda: webview.page.goto(resumed["widget_url"]))
    return resumed, callback


def test_the_round_trip_through_the_bank_links_the_account(
    backend: Backend, mobile_page: Any, secure_browser: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = App(backend, "alice")
    webview = Webview(mobile_page)
    session, widget_origin = to_the_bank(app, webview, secure_browser)

    url = back_to_the_app(secure_browser, session["callback_urls"]["application_link"], "authorize")
    resumed, callback = resume_in_the_webview(app, webview, url, widget_origin)
    screenshot(mobile_page, "app2app-2-success")

    assert resumed["session"]["id"] == session["id"]
    assert resumed["event"]["type"] == "resume"
    assert callback.startswith(session["callback_urls"]["success"] + "?")
    outcome = app.call("POST", f"/v1/widget-sessions/{session['id']}/events", 200, json={"url": callback})
    assert outcome["session"]["status"] == "succeeded"
    assert [event["type"] for event in outcome["session"]["events"]] == ["resume", "success"]

    backend.settle()
    (link,) = app.call("GET", "/v1/links", 200)["links"]
    assert link["id"] == outcome["event"]["link_id"] == outcome["session"]["link_id"]
    assert {name: state["status"] for name, state in link["resources"].items()} == {
        "ACCOUNTS": "ready",
        "OWNERS": "ready",
        "TRANSACTIONS": "ready",
    }

    # Belvo's access token went through the widget, the bank, the application link and the resume:
    # not one log record (before any redaction) nor stored event holds it.
    token = parse_qs(urlsplit(session["widget_url"]).query)["access_token"][0]
    assert "widget session resumed after the bank" in [record.getMessage() for record in caplog.records]
    assert not [record for record in caplog.records if token in json.dumps(record.__dict__, default=str)]
    view = app.call("GET", f"/v1/widget-sessions/{session['id']}", 200)
    assert token not in json.dumps(view["events"])


def test_denying_at_the_bank_exits_with_login_error(
    backend: Backend, mobile_page: Any, secure_browser: Any
) -> None:
    app = App(backend, "bob")
    webview = Webview(mobile_page)
    session, widget_origin = to_the_bank(app, webview, secure_browser)

    url = back_to_the_app(secure_browser, session["callback_urls"]["application_link"], "deny")
    _, callback = resume_in_the_webview(app, webview, url, widget_origin)
    screenshot(mobile_page, "app2app-3-denied")

    assert_denied(backend, app, session, callback)


def test_without_the_app_the_link_offers_to_continue_in_the_browser(
    backend: Backend, mobile_page: Any, secure_browser: Any
) -> None:
    app = App(backend, "carol")
    session, _ = to_the_bank(app, Webview(mobile_page), secure_browser)

    # No app takes the link: the browser loads it from the backend.
    secure_browser.click('[data-test="bank-authorize"]')
    secure_browser.wait_for_selector('[data-test="continue-in-browser"]')
    screenshot(secure_browser, "app2app-4-no-app")
    callback = capture_callback(
        secure_browser, lambda: secure_browser.click('[data-test="continue-in-browser"]')
    )

    assert callback.startswith(session["callback_urls"]["success"] + "?")
    outcome = app.call("POST", f"/v1/widget-sessions/{session['id']}/events", 200, json={"url": callback})
    assert outcome["session"]["status"] == "succeeded"
