"""App2App in the emulator (https://developers.belvo.com/docs/hosted-widget-app2app-ofda), through
Flask's test client: with ``application_link`` in the token, the consent screen sends the user to the
bank on another origin, the bank sends them to the application link with the token, a consent id and the
locale, and the widget opened with that query finishes the flow. Chromium plays the same round trip with
the backend in ``tests/e2e/test_app2app.py``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

import deeplinks
from tests.emulator.builders import CALLBACKS, Widget, basic, hrefs, mint, token_request

APPLICATION_LINK = "https://app.example.br/belvo-widget"


def app2app_request(**callbacks: str) -> dict[str, Any]:
    body = token_request()
    body["widget"]["callback_urls"] = {**CALLBACKS, "application_link": APPLICATION_LINK, **callbacks}
    return body


@pytest.fixture
def widget(emu_client: FlaskClient) -> Widget:
    return Widget(emu_client)


def to_the_bank(widget: Widget, token: str) -> str:
    """Open the widget, choose the mock bank and consent; the URL the widget then sends the user to."""
    widget.open(token)
    widget.choose("ofmockbank_br_retail")
    response = widget.post("consent", consent_duration="")
    assert response.status_code == 303
    widget.path = response.headers["Location"]
    if not widget.path.endswith("/to-the-bank"):
        return widget.path  # no App2App: the bank is the widget's next screen
    (bank,) = hrefs(widget.screen().text, "to-the-bank")
    return bank


def back_from_the_bank(client: FlaskClient, bank: str, decision: str) -> str:
    """Decide at the bank; the application link URL the bank sends the user to."""
    parts = urlsplit(bank)
    page = client.post(parts.path, data={"decision": decision}, base_url=f"{parts.scheme}://{parts.netloc}")
    assert page.status_code == 200
    (target,) = hrefs(page.text, "bank-return")
    return target


def finish(widget: Widget, query: str) -> deeplinks.Event:
    """Open the widget with the query the bank sent back and parse the callback it ends on."""
    response = widget.client.get(f"/widget/?{query}")
    assert response.status_code == 303
    widget.path = response.headers["Location"]
    return deeplinks.parse(widget.callback(), CALLBACKS)


def test_the_bank_is_on_another_origin_and_sends_the_user_to_the_application_link(
    widget: Widget, emu_client: FlaskClient
) -> None:
    token = mint(emu_client, app2app_request())

    bank = to_the_bank(widget, token)
    # The test client's widget is on http://localhost: the bank is on 127.0.0.1, same port and path.
    assert urlsplit(bank).netloc == "127.0.0.1"
    assert urlsplit(bank).path.endswith("/bank")
    target = back_from_the_bank(emu_client, bank, "authorize")

    assert target.startswith(APPLICATION_LINK + "?")
    query = parse_qs(urlsplit(target).query)
    assert query["access_token"] == [token]  # the token the widget was opened with
    assert query["locale"] == ["pt"]
    assert len(query["consent_id"][0]) == 36

    event = finish(widget, urlsplit(target).query)
    assert isinstance(event, deeplinks.SuccessEvent)
    link = emu_client.get(f"/api/links/{event.link_id}/", headers=basic()).json
    assert link["institution"] == "ofmockbank_br_retail"


def test_denying_at_the_bank_ends_in_an_exit_with_login_error(
    widget: Widget, emu_client: FlaskClient
) -> None:
    token = mint(emu_client, app2app_request())
    target = back_from_the_bank(emu_client, to_the_bank(widget, token), "deny")

    event = finish(widget, urlsplit(target).query)

    assert isinstance(event, deeplinks.ExitEvent)
    assert event.error is not None
    assert event.error.code == "login_error"
    assert event.institution == "ofmockbank_br_retail"
    assert emu_client.get("/api/links/", headers=basic()).json["count"] == 0


def test_the_same_query_again_shows_the_outcome_and_the_spent_token_opens_nothing_new(
    widget: Widget, emu_client: FlaskClient
) -> None:
    token = mint(emu_client, app2app_request())
    query = urlsplit(back_from_the_bank(emu_client, to_the_bank(widget, token), "authorize")).query
    first = finish(widget, query)

    again = finish(widget, query)
    (refused,) = hrefs(Widget(emu_client).open(token).text, "callback-link")

    assert again == first
    assert emu_client.get("/api/links/", headers=basic()).json["count"] == 1
    assert isinstance(deeplinks.parse(refused, CALLBACKS), deeplinks.ErrorEvent)


def test_a_consent_the_bank_never_granted_ends_as_the_banks_refusal(
    widget: Widget, emu_client: FlaskClient
) -> None:
    token = mint(emu_client, app2app_request())

    event = finish(widget, f"access_token={token}&consent_id=9e763d19-0000-4000-8000-000000000000&locale=pt")

    assert isinstance(event, deeplinks.ExitEvent)
    assert event.error is not None
    assert event.error.code == "login_error"


def test_without_an_application_link_the_bank_stays_in_the_widget(
    widget: Widget, emu_client: FlaskClient
) -> None:
    bank = to_the_bank(widget, mint(emu_client))

    assert not urlsplit(bank).netloc
    assert bank.endswith("/bank")


def test_https_callbacks_and_a_web_token_with_only_success_are_accepted(
    widget: Widget, emu_client: FlaskClient
) -> None:
    https = {kind: f"https://app.example.br/belvo/{kind}" for kind in ("success", "exit", "event")}
    body = token_request()
    body["widget"]["callback_urls"] = {**https, "application_link": APPLICATION_LINK}
    assert emu_client.post("/api/token/", json=body).status_code == 200

    web = token_request()
    web["widget"]["callback_urls"] = {"success": "https://web.example.br/linked"}
    widget.open(mint(emu_client, web))
    widget.connect()
    assert widget.callback().startswith("https://web.example.br/linked?link=")

    # No exit URL: leaving shows the outcome, with no callback to follow.
    leaving = Widget(emu_client)
    leaving.open(mint(emu_client, web), show_close_dialog="false", show_abandon_survey="false")
    leaving.post("close")
    page = leaving.screen().text
    assert 'data-outcome="exit"' in page
    assert hrefs(page, "callback-link") == []
