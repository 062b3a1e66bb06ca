"""The QA page in Debian's Chromium, as a tester uses it: every fixture's Parse button agrees with the
corpus, and a widget session shows its QR code. Screenshots land in ``artifacts/screenshots/``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from deeplinks.corpus import load_fixtures
from tests.browser import LiveServer, screenshot

pytestmark = pytest.mark.browser


def test_every_fixture_parses_as_the_corpus_expects(
    app: Flask, live_server: Callable[[Any], LiveServer], page: Any
) -> None:
    server = live_server(app)
    page.goto(f"{server.url}/qa")
    buttons = page.locator('[data-test="qa-parse"]')
    assert buttons.count() == len(load_fixtures())
    for index in range(buttons.count()):
        buttons.nth(index).click()
    verdicts = page.locator('[data-test="qa-verdict"]')
    page.wait_for_function(
        "n => [...document.querySelectorAll('[data-test=qa-verdict]')].every(v => v.textContent)",
        arg=buttons.count(),
    )
    texts = verdicts.all_text_contents()
    assert texts == ["as expected"] * len(texts)
    # The QR codes on screen are images the page fetches: they must have loaded, not be broken.
    page.wait_for_function("[...document.images].slice(0, 3).every(i => i.complete && i.naturalWidth > 0)")
    # The whole list is taller than Chromium can capture in one image: the first screenful.
    screenshot(page, "qa-fixtures", full_page=False)


def test_a_widget_session_shows_its_qr_code_and_opens_the_widget(
    app: Flask, live_server: Callable[[Any], LiveServer], page: Any
) -> None:
    server = live_server(app)
    page.goto(f"{server.url}/qa")
    page.fill('input[name="institution"]', "ofmockbank_br_retail")
    page.click('[data-test="qa-create-session"]')
    # The click waits for the answer's page to start loading, not for it to be read to the end.
    page.wait_for_load_state()
    session = page.locator('[data-test="qa-session"]')
    assert session.locator("svg").count() == 1
    assert page.locator('[data-test="qa-session-id"]').text_content().startswith("ws_")
    screenshot(page, "qa-session", full_page=False)
    widget_url = page.locator('[data-test="qa-open-widget"]').get_attribute("href")
    assert "access_token=" in widget_url
