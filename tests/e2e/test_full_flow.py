"""The whole flow as a phone app lives it, with the real backend on a port and the hosted widget in Debian's
Chromium: create a session, complete the widget, post the callback URL the webview caught, let Belvo's
webhooks arrive, then list the link and read its accounts and transactions. Screens are saved under
``artifacts/screenshots/e2e-*.png``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests

from server.auth import mint_token
from server.settings import settings
from tests.browser import capture_callback, screenshot
from tests.e2e.conftest import Backend

pytestmark = pytest.mark.browser

IDENTIFICATION = [{"type": "CPF", "number": "76109277673", "name": "Ralph Bragg"}]


class App:
    """What the mobile app does over HTTP: it holds one user's bearer token and the session id."""

    def __init__(self, backend: Backend, user: str) -> None:
        token = mint_token(user, settings(backend.app).app_jwt_secret, timedelta(hours=1))
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.url = backend.url

    def call(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        response = self.http.request(
            method, path if path.startswith("http") else self.url + path, timeout=30, **kwargs
        )
        assert response.status_code == expect, response.text
        return response.json() if response.content else None


def assert_denied(backend: Backend, app: App, session: dict[str, Any], callback: str) -> None:
    """The callback of a denial at the bank, forwarded: the session exits with login_error, no link."""
    outcome = app.call("POST", f"/v1/widget-sessions/{session['id']}/events", 200, json={"url": callback})
    assert outcome["event"]["type"] == "exit"
    assert outcome["event"]["error"]["code"] == "login_error"
    assert outcome["session"]["status"] == "exited"
    backend.settle()
    assert app.call("GET", "/v1/links", 200)["links"] == []


def test_a_user_links_a_bank_and_reads_its_data(backend: Backend, mobile_page: Any) -> None:
    app = App(backend, "alice")
    session = app.call(
        "POST", "/v1/widget-sessions", 201, json={"identification_info": IDENTIFICATION, "locale": "pt"}
    )

    # The webview opens the widget; the user picks the mock bank, consents and authorizes.
    mobile_page.goto(session["widget_url"])
    screenshot(mobile_page, "e2e-1-institutions")
    mobile_page.click('[data-test="institution"][data-institution="ofmockbank_br_retail"]')
    mobile_page.click('[data-test="consent-accept"]')
    screenshot(mobile_page, "e2e-2-bank")
    callback = capture_callback(mobile_page, lambda: mobile_page.click('[data-test="bank-authorize"]'))
    assert callback.startswith(session["callback_urls"]["success"] + "?")

    # The app forwards what the webview caught; the backend verifies the link with Belvo.
    outcome = app.call("POST", f"/v1/widget-sessions/{session['id']}/events", 200, json={"url": callback})
    assert outcome["session"]["status"] == "succeeded"
    link_id = outcome["event"]["link_id"]

    # Belvo's historical_update webhooks arrive (one per fetched resource) and are applied.
    backend.settle()
    (link,) = app.call("GET", "/v1/links", 200)["links"]
    assert link["id"] == link_id
    assert {name: state["status"] for name, state in link["resources"].items()} == {
        "ACCOUNTS": "ready",
        "OWNERS": "ready",
        "TRANSACTIONS": "ready",
    }

    accounts = app.call("GET", f"/v1/links/{link_id}/accounts", 200)
    assert (
        accounts["count"]
        == len(accounts["results"])
        == link["resources"]["ACCOUNTS"]["totals"]["total_accounts"]
    )
    first = app.call("GET", f"/v1/links/{link_id}/transactions?page_size=50", 200)
    second = app.call("GET", first["next"], 200)
    assert first["count"] == link["resources"]["TRANSACTIONS"]["totals"]["total_transactions"]
    assert first["next"].startswith(f"{backend.url}/v1/links/{link_id}/transactions?")
    assert {t["id"] for t in first["results"]}.isdisjoint(t["id"] for t in second["results"])

    # Relaunched later, the app finds the outcome by the session id it saved.
    view = app.call("GET", f"/v1/widget-sessions/{session['id']}", 200)
    assert (view["status"], view["link_id"], [e["type"] for e in view["events"]]) == (
        "succeeded",
        link_id,
        ["success"],
    )


def test_denying_at_the_bank_exits_the_session_without_a_link(backend: Backend, mobile_page: Any) -> None:
    app = App(backend, "bob")
    session = app.call("POST", "/v1/widget-sessions", 201, json={"identification_info": IDENTIFICATION})

    mobile_page.goto(session["widget_url"])
    mobile_page.click('[data-test="institution"][data-institution="ofmockbank_br_retail"]')
    mobile_page.click('[data-test="consent-accept"]')
    callback = capture_callback(mobile_page, lambda: mobile_page.click('[data-test="bank-deny"]'))
    screenshot(mobile_page, "e2e-3-denied")

    assert_denied(backend, app, session, callback)
