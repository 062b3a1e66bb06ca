"""Every widget outcome the contract lists, through the backend: the app creates a session, the user
acts in the hosted widget (Debian's Chromium, phone-sized), the webview catches the callback, and the
backend turns it into the session's status. Each screen is saved as ``artifacts/screenshots/e2e-*``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import deeplinks
from deeplinks.codes import EXIT_MESSAGES
from tests.browser import capture_callback, screenshot
from tests.e2e.conftest import Backend
from tests.e2e.test_full_flow import IDENTIFICATION, App

pytestmark = pytest.mark.browser


def click(page: Any, test_id: str, **attributes: str) -> Callable[[], None]:
    selector = f'[data-test="{test_id}"]' + "".join(f'[data-{k}="{v}"]' for k, v in attributes.items())
    return lambda: page.click(selector)


def start(backend: Backend, page: Any, user: str, **request: Any) -> tuple[App, dict[str, Any]]:
    app = App(backend, user)
    body = {"identification_info": IDENTIFICATION, **request}
    session = app.call("POST", "/v1/widget-sessions", 201, json=body)
    return app, session


def forward(app: App, session: dict[str, Any], url: str, expect: int = 200) -> Any:
    return app.call("POST", f"/v1/widget-sessions/{session['id']}/events", expect, json={"url": url})


@pytest.mark.parametrize(
    ("institution", "code"),
    [("ofdownbank_br_retail", "institution_down"), ("ofbusybank_br_retail", "too_many_sessions")],
)
def test_an_institution_error_exits_the_session(
    backend: Backend, mobile_page: Any, institution: str, code: str
) -> None:
    app, session = start(backend, mobile_page, f"user-{code}")
    mobile_page.goto(session["widget_url"])
    url = capture_callback(mobile_page, click(mobile_page, "institution", institution=institution))
    screenshot(mobile_page, f"e2e-exit-{code}")

    event = deeplinks.parse(url, session["callback_urls"])
    assert isinstance(event, deeplinks.ExitEvent)
    assert event.error is not None
    assert event.error.code == code
    assert event.error.message in EXIT_MESSAGES[code]
    assert event.institution == institution
    outcome = forward(app, session, url)
    assert outcome["event"] == event.to_dict()
    assert outcome["session"]["status"] == "exited"


def test_a_disabled_institution_warns_and_the_session_stays_pending(
    backend: Backend, mobile_page: Any
) -> None:
    app, session = start(backend, mobile_page, "user-warning")
    mobile_page.goto(session["widget_url"])
    url = capture_callback(
        mobile_page, click(mobile_page, "institution", institution="ofdisabledbank_br_retail")
    )
    mobile_page.wait_for_selector('[data-test="warning"]')
    screenshot(mobile_page, "e2e-warning-institution_disabled")

    assert deeplinks.parse(url, session["callback_urls"]) == deeplinks.WarningEvent(
        "institution_disabled", "The institution is temporarily unavailable."
    )
    assert forward(app, session, url)["session"]["status"] == "pending"


def test_closing_at_the_start_exits_with_the_abandon_survey_step(backend: Backend, mobile_page: Any) -> None:
    app, session = start(backend, mobile_page, "user-abandon")
    mobile_page.goto(session["widget_url"])
    mobile_page.click('[data-test="close"]')
    screenshot(mobile_page, "e2e-abandon-1-dialog")
    mobile_page.click('[data-test="close-confirm"]')
    screenshot(mobile_page, "e2e-abandon-2-survey")
    mobile_page.click('[data-test="survey-option"] >> nth=0')
    url = capture_callback(mobile_page, click(mobile_page, "survey-submit"))

    assert deeplinks.parse(url, session["callback_urls"]) == deeplinks.ExitEvent(None, None, "abandon-survey")
    assert forward(app, session, url)["session"]["status"] == "exited"


def test_an_expired_token_reports_an_error_and_the_session_is_expired(
    backend: Backend, mobile_page: Any
) -> None:
    app, session = start(backend, mobile_page, "user-expired")
    backend.clock.advance(minutes=11)  # Belvo's widget tokens last 10 minutes

    url = capture_callback(mobile_page, lambda: mobile_page.goto(session["widget_url"], wait_until="commit"))
    screenshot(mobile_page, "e2e-error-expired-token")

    assert deeplinks.parse(url, session["callback_urls"]) == deeplinks.ErrorEvent(
        "ACCESS_TOKEN_NOT_VALID", "The access token was not provided or is not valid"
    )
    rejected = forward(app, session, url, expect=410)
    assert rejected["errors"][0]["code"] == "session_expired"
    assert app.call("GET", f"/v1/widget-sessions/{session['id']}", 200)["status"] == "expired"
