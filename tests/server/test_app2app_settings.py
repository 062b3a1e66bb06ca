"""App2App's server side before the bank: ``APPLICATION_LINK`` is checked at start-up, covered by the
association files, sent to Belvo as ``widget.callback_urls.application_link`` and shown in the session,
unless the app's request says ``"app2app": false``
(https://developers.belvo.com/docs/hosted-widget-app2app-ofda)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from flask import Flask

from server.config import ConfigError, load_settings
from server.storage import database
from tests.conftest import bearer
from tests.server.conftest import REAL_BELVO, real_app, session_body
from tests.support import Clock

APPLICATION_LINK = "https://app.example.br/belvo-widget"
HTTPS_CALLBACKS = {
    f"CALLBACK_URL_{kind.upper()}": f"https://app.example.br/belvo/{kind}"
    for kind in ("success", "exit", "event")
}


@pytest.mark.parametrize(
    "link",
    [
        "http://app.example.br/belvo-widget",  # http, and not the backend's own address
        "https://app.example.br:8443/belvo-widget",  # universal links use the default port
        "https://app.example.br/belvo-widget?from=bank",  # the bank appends its own query
        "https://app.example.br/belvo-widget#top",
        "https://app.example.br/",  # no path
        "https://user@app.example.br/belvo-widget",
        "ofdaapp://belvo/widget",  # a custom scheme makes the OS ask before opening the app
        "https://app.example.br/belvo widget",
        "https://app.example.br:x/belvo-widget",
    ],
)
def test_an_unusable_application_link_refuses_to_start(link: str) -> None:
    with pytest.raises(ConfigError, match="APPLICATION_LINK: expected an https URL"):
        load_settings({**REAL_BELVO, "APPLICATION_LINK": link}, environ={})


def test_the_application_link_must_differ_from_the_callbacks() -> None:
    same = {**REAL_BELVO, **HTTPS_CALLBACKS, "APPLICATION_LINK": HTTPS_CALLBACKS["CALLBACK_URL_EXIT"]}
    with pytest.raises(ConfigError, match="APPLICATION_LINK: expected a URL distinct"):
        load_settings(same, environ={})


def test_emulator_mode_also_takes_http_on_the_backends_own_address() -> None:
    laptop = {"PUBLIC_BASE_URL": "http://127.0.0.1:8000"}
    own = load_settings({**laptop, "APPLICATION_LINK": "http://127.0.0.1:8000/belvo/app"}, environ={})
    assert own.callback_urls.application_link == "http://127.0.0.1:8000/belvo/app"
    with pytest.raises(ConfigError, match=r"or one on this backend's own address, http://127.0.0.1:8000"):
        load_settings({**laptop, "APPLICATION_LINK": "http://127.0.0.1:9000/belvo/app"}, environ={})


def test_unset_means_no_app2app() -> None:
    assert load_settings(REAL_BELVO, environ={}).callback_urls.application_link is None


def test_the_association_files_cover_the_application_link(database_url: str) -> None:
    app = real_app(
        database_url,
        Clock(),
        APPLICATION_LINK=APPLICATION_LINK,
        IOS_APP_IDS="ABCDE12345.com.example.app",
        APP_LINK_PATHS="/belvo/*",
    )
    database(app).dispose()
    details = (
        app.test_client().get("/.well-known/apple-app-site-association").get_json()["applinks"]["details"]
    )
    assert details[0]["components"] == [{"/": "/belvo/*"}, {"/": "/belvo-widget"}, {"/": "/belvo-widget/*"}]


@pytest.fixture
def app2app(database_url: str, clock: Clock) -> Any:
    app = real_app(database_url, clock, APPLICATION_LINK=APPLICATION_LINK, **HTTPS_CALLBACKS)
    yield app
    database(app).dispose()


def test_token_requests_carry_the_application_link_and_sessions_show_it(
    app2app: Flask, belvo: responses.RequestsMock, minted: dict[str, str]
) -> None:
    client = app2app.test_client()
    response = client.post("/v1/widget-sessions", json=session_body(), headers=bearer(app2app, "alice"))

    assert response.status_code == 201, response.get_json()
    sent = json.loads(belvo.calls[0].request.body)["widget"]["callback_urls"]
    expected = {
        "success": "https://app.example.br/belvo/success",
        "exit": "https://app.example.br/belvo/exit",
        "event": "https://app.example.br/belvo/event",
        "application_link": APPLICATION_LINK,
    }
    assert sent == expected
    assert response.get_json()["callback_urls"] == expected
    again = client.get(f"/v1/widget-sessions/{response.get_json()['id']}", headers=bearer(app2app, "alice"))
    assert again.get_json()["callback_urls"] == expected


def test_a_request_may_opt_out_of_app2app(
    app2app: Flask, belvo: responses.RequestsMock, minted: dict[str, str]
) -> None:
    response = app2app.test_client().post(
        "/v1/widget-sessions", json=session_body(app2app=False), headers=bearer(app2app, "alice")
    )

    assert response.status_code == 201, response.get_json()
    assert "application_link" not in json.loads(belvo.calls[0].request.body)["widget"]["callback_urls"]
    assert "application_link" not in response.get_json()["callback_urls"]


def test_app2app_must_be_a_boolean(
    app2app: Flask, belvo: responses.RequestsMock, minted: dict[str, str]
) -> None:
    response = app2app.test_client().post(
        "/v1/widget-sessions", json=session_body(app2app="no"), headers=bearer(app2app, "alice")
    )

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "app2app"
    assert len(belvo.calls) == 0
