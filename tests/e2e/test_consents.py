"""A consent's life as the user meets it, in Debian's Chromium: a recurrent link made through the widget,
its consent about to expire and then expired (moved by the emulator's control endpoint, as months
passing would), the app's renew URL opened in the emulated My Belvo Portal, renewed there, and the link's
consent active again once Belvo's webhook arrived. Screens: ``artifacts/screenshots/consent-*.png``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests

from tests.browser import capture_callback, screenshot
from tests.e2e.conftest import Backend
from tests.e2e.test_full_flow import IDENTIFICATION, App

pytestmark = pytest.mark.browser


def connect_recurrent(app: App, page: Any) -> str:
    session = app.call(
        "POST",
        "/v1/widget-sessions",
        201,
        json={"identification_info": IDENTIFICATION, "access_mode": "recurrent"},
    )
    page.goto(session["widget_url"])
    page.click('[data-test="institution"][data-institution="ofmockbank_br_retail"]')
    page.click('[data-test="consent-accept"]')
    callback = capture_callback(page, lambda: page.click('[data-test="bank-authorize"]'))
    outcome = app.call("POST", f"/v1/widget-sessions/{session['id']}/events", 200, json={"url": callback})
    link_id: str = outcome["event"]["link_id"]
    return link_id


def consent(app: App, link_id: str) -> dict[str, Any]:
    (link,) = [link for link in app.call("GET", "/v1/links", 200)["links"] if link["id"] == link_id]
    result: dict[str, Any] = link["consent"]
    return result


def test_an_expired_consent_is_renewed_in_my_belvo_portal(backend: Backend, mobile_page: Any) -> None:
    app = App(backend, "alice")
    link_id = connect_recurrent(app, mobile_page)
    backend.settle()

    for state in ("about_to_expire", "expired"):
        moved = requests.post(
            f"{backend.url}/sandbox/_control/consents", json={"link_id": link_id, "state": state}, timeout=30
        )
        assert moved.json()["delivered"] is True, moved.text
        backend.settle()
        assert consent(app, link_id)["status"] == state

    renewal = app.call(
        "POST", f"/v1/links/{link_id}/consent-renewal", 201, json={"identification_info": IDENTIFICATION}
    )
    # The app opens the portal as a third-party page (a Custom Tab, SFSafariViewController), not in the
    # widget's webview: a page of its own.
    portal = mobile_page.context.new_page()
    portal.goto(renewal["renew_url"])
    card = portal.locator(f'[data-test="portal-consent"][data-link="{link_id}"]')
    assert card.get_attribute("data-state") == "expired"
    screenshot(portal, "consent-1-renew")
    card.locator('[data-test="portal-renew"]').click()
    portal.wait_for_selector('[data-test="portal-notice"]')
    screenshot(portal, "consent-2-renewed")

    backend.settle()
    renewed = consent(app, link_id)
    assert renewed["status"] == "active"
    # Renewed for the 12 months the portal preselects.
    assert renewed["due_date"] > (backend.clock() + timedelta(days=300)).strftime("%Y-%m-%dT%H:%M:%S")

    # The "manage my data sharing" entry: the portal shows every consent this person gave.
    manage = app.call("POST", "/v1/consent-portal", 201, json={"identification_info": IDENTIFICATION})
    portal.goto(manage["portal_url"])
    listed = portal.locator('[data-test="portal-consent"]')
    assert listed.count() == 1
    assert listed.get_attribute("data-link") == link_id
    assert listed.get_attribute("data-state") == "active"
    screenshot(portal, "consent-3-portal")


def test_qa_expires_a_consent_and_shows_the_renew_urls_qr_code(backend: Backend, mobile_page: Any) -> None:
    app = App(backend, "qa-tester")
    link_id = connect_recurrent(app, mobile_page)
    backend.settle()

    page = mobile_page.context.new_page()  # the tester's laptop browser
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(f"{backend.url}/qa")
    with page.expect_navigation():
        page.click('[data-test="qa-list-links"]')
    row = page.locator(f'[data-test="qa-link"][data-link="{link_id}"]')
    assert row.locator('[data-test="qa-consent-status"]').text_content() == "none reported"
    with page.expect_navigation():
        row.locator('[data-test="qa-consent-move"][data-state="expired"]').click()
    backend.settle()
    with page.expect_navigation():
        page.click('[data-test="qa-list-links"]')
    assert row.locator('[data-test="qa-consent-status"]').text_content().startswith("expired")

    with page.expect_navigation():
        row.locator('[data-test="qa-renew-url"]').click()
    renewal = page.locator('[data-test="qa-renewal"]')
    assert renewal.locator("svg").count() == 1
    renew_url = page.locator('[data-test="qa-open-renewal"]').get_attribute("href")
    assert "action=renew" in renew_url
    assert f"link_id={link_id}" in renew_url
    screenshot(page, "qa-consent-renewal", full_page=False)
