"""The hosted widget in Debian's Chromium: every outcome of docs/contract.md section 5, driven through the
``data-test`` hooks, with the navigation to the app's custom-scheme callback captured and parsed by
``deeplinks``. Each screen is saved under ``artifacts/screenshots/``.

Most flows run in a phone-sized touch page (the widget lives in an app's webview); one runs on a desktop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import deeplinks
from tests.browser import LiveServer, capture_callback, screenshot
from tests.emulator.builders import CALLBACKS, basic, mint, token_request, widget_query
from tests.support import Clock

pytestmark = pytest.mark.browser

TOKEN_NOT_VALID = deeplinks.ErrorEvent(
    "ACCESS_TOKEN_NOT_VALID", "The access token was not provided or is not valid"
)


@pytest.fixture
def server(emu_app: Flask, live_server: Callable[[Any], LiveServer]) -> LiveServer:
    return live_server(emu_app)


def _open(page: Any, server: LiveServer, token: str, **params: str) -> None:
    page.goto(f"{server.url}/widget/?{widget_query(token, **params)}")


def _institution(code: str) -> str:
    return f'[data-test="institution"][data-institution="{code}"]'


def _click(page: Any, test_id: str) -> Callable[[], None]:
    return lambda: page.click(f'[data-test="{test_id}"]')


def _connect(page: Any, name: str, *, synthetic: bool = False) -> str:
    """Mockbank, consent, authorize; returns the captured callback URL, screenshotting each screen.

    ``synthetic`` clicks with DOM events instead of the mouse: after a callback launched following a
    user gesture, desktop Chromium keeps an invisible "open this app?" prompt over the tab that swallows
    mouse input. A webview never shows that prompt (the app takes the URL), so the page is still the
    live widget, and DOM clicks drive it as the user would.
    """

    def click(selector: str) -> None:
        if synthetic:
            page.dispatch_event(selector, "click")
            page.wait_for_load_state()
        else:
            page.click(selector)

    screenshot(page, f"{name}-1-institutions")
    click(_institution("ofmockbank_br_retail"))
    screenshot(page, f"{name}-2-consent")
    click('[data-test="consent-accept"]')
    screenshot(page, f"{name}-3-bank")
    url = capture_callback(page, lambda: click('[data-test="bank-authorize"]'))
    screenshot(page, f"{name}-4-success")
    return url


@pytest.mark.parametrize("viewport", ["mobile_page", "page"])
def test_success(
    request: pytest.FixtureRequest, viewport: str, server: LiveServer, emu_client: FlaskClient
) -> None:
    page = request.getfixturevalue(viewport)
    _open(page, server, mint(emu_client), external_id="user-7f3a")

    event = deeplinks.parse(
        _connect(page, f"success-{'mobile' if viewport == 'mobile_page' else 'desktop'}"), CALLBACKS
    )

    assert isinstance(event, deeplinks.SuccessEvent)
    assert event.institution == "ofmockbank_br_retail"
    link = emu_client.get(f"/api/links/{event.link_id}/", headers=basic()).json
    assert link["external_id"] == "user-7f3a"


@pytest.mark.parametrize(
    ("institution", "code"),
    [("ofdownbank_br_retail", "institution_down"), ("ofbusybank_br_retail", "too_many_sessions")],
)
def test_error_institutions_exit(
    mobile_page: Any, server: LiveServer, emu_client: FlaskClient, institution: str, code: str
) -> None:
    _open(mobile_page, server, mint(emu_client))

    url = capture_callback(mobile_page, lambda: mobile_page.click(_institution(institution)))
    screenshot(mobile_page, f"exit-{code}")

    event = deeplinks.parse(url, CALLBACKS)
    assert isinstance(event, deeplinks.ExitEvent)
    assert event.error is not None
    assert (event.error.code, event.institution) == (code, institution)


def test_disabled_institution_warns_and_the_widget_stays_open(
    mobile_page: Any, server: LiveServer, emu_client: FlaskClient
) -> None:
    _open(mobile_page, server, mint(emu_client))

    url = capture_callback(mobile_page, lambda: mobile_page.click(_institution("ofdisabledbank_br_retail")))
    mobile_page.wait_for_selector('[data-test="warning"]')
    screenshot(mobile_page, "warning-institution_disabled")

    assert deeplinks.parse(url, CALLBACKS) == deeplinks.WarningEvent(
        "institution_disabled", "The institution is temporarily unavailable."
    )
    assert mobile_page.locator('[data-test="institution"]').count() > 1  # still the list
    after = _connect(mobile_page, "after-warning", synthetic=True)
    assert isinstance(deeplinks.parse(after, CALLBACKS), deeplinks.SuccessEvent)


def test_denying_at_the_bank_exits_with_login_error(
    mobile_page: Any, server: LiveServer, emu_client: FlaskClient
) -> None:
    _open(mobile_page, server, mint(emu_client))
    mobile_page.click(_institution("ofmockbank_br_retail"))
    mobile_page.click('[data-test="consent-accept"]')

    url = capture_callback(mobile_page, _click(mobile_page, "bank-deny"))
    screenshot(mobile_page, "exit-login_error")

    event = deeplinks.parse(url, CALLBACKS)
    assert isinstance(event, deeplinks.ExitEvent)
    assert event.error is not None
    assert (event.error.code, event.institution) == ("login_error", "ofmockbank_br_retail")


def test_abandoning_at_the_start(mobile_page: Any, server: LiveServer, emu_client: FlaskClient) -> None:
    _open(mobile_page, server, mint(emu_client))

    mobile_page.click('[data-test="close"]')
    screenshot(mobile_page, "abandon-1-close-dialog")
    mobile_page.click('[data-test="close-confirm"]')
    screenshot(mobile_page, "abandon-2-survey")
    mobile_page.click('[data-test="survey-option"] >> nth=1')
    url = capture_callback(mobile_page, _click(mobile_page, "survey-submit"))
    screenshot(mobile_page, "abandon-3-exit")

    assert deeplinks.parse(url, CALLBACKS) == deeplinks.ExitEvent(None, None, "abandon-survey")


def test_abandoning_without_dialog_or_survey(
    mobile_page: Any, server: LiveServer, emu_client: FlaskClient
) -> None:
    _open(mobile_page, server, mint(emu_client), show_close_dialog="false", show_abandon_survey="false")

    url = capture_callback(mobile_page, _click(mobile_page, "close"))

    assert deeplinks.parse(url, CALLBACKS) == deeplinks.ExitEvent(None, None, "abandon-survey")


def test_expired_token(mobile_page: Any, server: LiveServer, emu_client: FlaskClient, clock: Clock) -> None:
    token = mint(emu_client)
    clock.advance(11 * 60)
    address = f"{server.url}/widget/?{widget_query(token)}"

    url = capture_callback(mobile_page, lambda: mobile_page.goto(address, wait_until="commit"))
    screenshot(mobile_page, "error-expired-token")

    assert deeplinks.parse(url, CALLBACKS) == TOKEN_NOT_VALID


def test_reused_token(mobile_page: Any, server: LiveServer, emu_client: FlaskClient) -> None:
    token = mint(emu_client)
    _open(mobile_page, server, token)
    _connect(mobile_page, "reuse")
    address = f"{server.url}/widget/?{widget_query(token)}"

    url = capture_callback(mobile_page, lambda: mobile_page.goto(address, wait_until="commit"))

    assert deeplinks.parse(url, CALLBACKS) == TOKEN_NOT_VALID


def test_undecodable_token_shows_an_error_page(mobile_page: Any, server: LiveServer) -> None:
    response = mobile_page.goto(f"{server.url}/widget/?{widget_query('garbage')}")
    screenshot(mobile_page, "error-undecodable-token")

    assert response.status == 401
    assert mobile_page.locator('[data-test="widget-error"]').is_visible()


def test_branded_dark_widget(mobile_page: Any, server: LiveServer, emu_client: FlaskClient) -> None:
    body = token_request()
    body["widget"]["color_scheme"] = "DARK"
    body["widget"]["theme"] = [{"css_key": "--color-primary-base-dark", "value": "#7C3AED"}]
    _open(mobile_page, server, mint(emu_client, body))
    mobile_page.click(_institution("ofmockbank_br_retail"))
    screenshot(mobile_page, "branded-dark-consent")

    colour = mobile_page.eval_on_selector(
        '[data-test="consent-accept"]', "button => getComputedStyle(button).backgroundColor"
    )

    assert colour == "rgb(124, 58, 237)"
