"""``POST /v1/widget-sessions/resume`` (docs/contract.md section 6): the app, opened by the application
link the bank sent the user back to, asks where to go on; and the page the application link shows in a
browser.
Belvo is recorded (``responses``); its access token is the one the session was opened with."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server.config import ConfigError
from server.models import SessionEvent
from server.storage import database
from tests.conftest import bearer, make_app
from tests.server.conftest import TOKEN_URL, access_token, real_app, session_body
from tests.support import Clock, assert_error

APPLICATION_LINK = "https://app.example.br/belvo-widget"
RESUME = "/v1/widget-sessions/resume"
CONSENT = "9e763d19-0c1a-4a6b-9d6e-1f2a3b4c5d6e"


def back_from_the_bank(token: str, link: str = APPLICATION_LINK, **extra: str) -> str:
    """The URL the bank opens the app with, as Belvo documents it (plus any ``extra`` keys)."""
    query = f"access_token={quote(token, safe='')}&consent_id={CONSENT}&locale=pt"
    query += "".join(f"&{key}={quote(value)}" for key, value in extra.items())
    return f"{link}?{query}"


@pytest.fixture
def app(database_url: str, clock: Clock) -> Iterator[Flask]:
    app = real_app(database_url, clock, APPLICATION_LINK=APPLICATION_LINK)
    yield app
    database(app).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def open_session(
    app: Flask, belvo: responses.RequestsMock, clock: Clock, user: str = "alice"
) -> tuple[str, str]:
    """A new session of ``user``; its id and the access token Belvo issued for it."""
    # Each of Belvo's tokens is its own (a jti of its own), as Belvo's are.
    reply = {"access": access_token(clock() + timedelta(minutes=20), jti=uuid.uuid4().hex), "refresh": "r"}
    belvo.post(TOKEN_URL, json=reply)
    response = app.test_client().post("/v1/widget-sessions", json=session_body(), headers=bearer(app, user))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"], reply["access"]


def resume(client: FlaskClient, app: Flask, url: str, user: str = "alice", **body: Any) -> Any:
    return client.post(RESUME, json={"url": url, **body}, headers=bearer(app, user))


def stored_events(app: Flask) -> list[dict[str, Any]]:
    with database(app).session() as db:
        return [row.event for row in db.scalars(select(SessionEvent).order_by(SessionEvent.id))]


def test_the_app_gets_the_widget_with_the_query_the_bank_sent(
    app: Flask, client: FlaskClient, belvo: responses.RequestsMock, clock: Clock
) -> None:
    session_id, token = open_session(app, belvo, clock)
    url = back_from_the_bank(token, step="bank%20done")

    response = resume(client, app, url)

    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    query = url.partition("?")[2]
    assert body["widget_url"] == f"https://widget.belvo.io/?{query}"  # passed through, unchanged
    assert body["event"] == {
        "type": "resume",
        "consent_id": CONSENT,
        "locale": "pt",
        "query": query,
        "extra": {"step": "bank%20done"},
    }
    assert (body["session"]["id"], body["session"]["status"]) == (session_id, "pending")
    recorded = {
        "type": "resume",
        "consent_id": CONSENT,
        "locale": "pt",
        "query": f"consent_id={CONSENT}&locale=pt&step=bank%2520done",
        "extra": {"step": "bank%20done"},
    }
    assert body["session"]["events"] == [recorded]
    assert stored_events(app) == [recorded]

    # Opened again by the same link (a retry, a second tap): the same answer, nothing new stored.
    assert resume(client, app, url).get_json()["widget_url"] == body["widget_url"]
    assert len(stored_events(app)) == 1


def test_a_trailing_slash_on_the_link_is_the_same_link(
    app: Flask, client: FlaskClient, belvo: responses.RequestsMock, clock: Clock
) -> None:
    session_id, token = open_session(app, belvo, clock)

    response = resume(client, app, back_from_the_bank(token, link=APPLICATION_LINK + "/"))

    assert response.get_json()["session"]["id"] == session_id


def test_another_users_resume_url_is_not_found_and_records_nothing(
    app: Flask, client: FlaskClient, belvo: responses.RequestsMock, clock: Clock
) -> None:
    alices_session, alices_token = open_session(app, belvo, clock, "alice")
    open_session(app, belvo, clock, "mallory")

    assert_error(resume(client, app, back_from_the_bank(alices_token), user="mallory"), 404, "not_found")
    by_id = resume(
        client, app, back_from_the_bank("not-alices-token"), user="mallory", session_id=alices_session
    )
    assert_error(by_id, 404, "not_found")
    assert stored_events(app) == []


def test_a_url_on_another_host_is_not_a_resume(
    app: Flask, client: FlaskClient, belvo: responses.RequestsMock, clock: Clock
) -> None:
    session_id, token = open_session(app, belvo, clock)

    for url in (
        back_from_the_bank(token, link="https://evil.example/belvo-widget"),
        back_from_the_bank(token, link="http://app.example.br/belvo-widget"),
        back_from_the_bank(token, link="https://app.example.br/other"),
        f"ofdaapp://belvo/success?link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=x&access_token={token}",
    ):
        assert_error(resume(client, app, url, session_id=session_id), 422, "invalid_deeplink", "url")
    assert_error(
        resume(client, app, f"{APPLICATION_LINK}?consent_id={CONSENT}"), 422, "invalid_deeplink", "url"
    )
    assert stored_events(app) == []


def test_without_app2app_nothing_resumes(
    database_url: str, clock: Clock, belvo: responses.RequestsMock
) -> None:
    app = real_app(database_url, clock)
    _, token = open_session(app, belvo, clock)
    assert_error(resume(app.test_client(), app, back_from_the_bank(token)), 422, "invalid_deeplink", "url")
    database(app).dispose()


def test_the_session_id_names_the_session_when_the_bank_returns_another_token(
    app: Flask, client: FlaskClient, belvo: responses.RequestsMock, clock: Clock
) -> None:
    session_id, _ = open_session(app, belvo, clock)
    # Another token of the same Belvo account (Belvo does not say the bank returns the widget's own).
    url = back_from_the_bank(access_token(clock() + timedelta(minutes=20), jti=uuid.uuid4().hex))

    assert_error(resume(client, app, url), 404, "not_found")
    response = resume(client, app, url, session_id=session_id)

    assert response.status_code == 200
    assert response.get_json()["session"]["id"] == session_id


def test_the_session_id_never_opens_a_token_of_another_belvo_account_or_user(
    app: Flask, client: FlaskClient, belvo: responses.RequestsMock, clock: Clock
) -> None:
    """A page can send the user to our application link with a token of its own: with the app's
    pending session id, that must not open the widget on it (the user's bank would be linked for the
    page's owner)."""
    session_id, _ = open_session(app, belvo, clock)
    _, bobs_token = open_session(app, belvo, clock, user="bob")
    foreign = access_token(
        clock() + timedelta(minutes=20), user_id="another-belvo-api-user", organization_id="evil-org"
    )

    for token in (foreign, bobs_token, "not-a-jwt"):
        assert_error(resume(client, app, back_from_the_bank(token), session_id=session_id), 404, "not_found")
    assert stored_events(app) == []


def test_expired_and_completed_sessions_do_not_resume(
    app: Flask, client: FlaskClient, belvo: responses.RequestsMock, clock: Clock
) -> None:
    finished, finished_token = open_session(app, belvo, clock)
    exit_url = "ofdaapp://belvo/exit?meta_data_step=abandon-survey"
    posted = client.post(
        f"/v1/widget-sessions/{finished}/events", json={"url": exit_url}, headers=bearer(app, "alice")
    )
    assert posted.status_code == 200
    assert_error(resume(client, app, back_from_the_bank(finished_token)), 409, "session_already_completed")

    _, late_token = open_session(app, belvo, clock)
    clock.advance(minutes=21)
    assert_error(resume(client, app, back_from_the_bank(late_token)), 410, "session_expired")
    assert [e["type"] for e in stored_events(app)] == ["exit"]


def test_a_resume_url_posted_as_a_callback_points_to_resume(
    app: Flask, client: FlaskClient, belvo: responses.RequestsMock, clock: Clock
) -> None:
    session_id, token = open_session(app, belvo, clock)
    response = client.post(
        f"/v1/widget-sessions/{session_id}/events",
        json={"url": back_from_the_bank(token)},
        headers=bearer(app, "alice"),
    )
    body = assert_error(response, 422, "invalid_deeplink", "url")
    assert "/v1/widget-sessions/resume" in body["errors"][0]["message"]


def test_the_access_token_is_never_logged_nor_stored_in_an_event(
    app: Flask,
    client: FlaskClient,
    belvo: responses.RequestsMock,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    session_id, token = open_session(app, belvo, clock)
    resume(client, app, back_from_the_bank(token))
    resume(client, app, back_from_the_bank(token, link="https://evil.example/belvo-widget"))
    resume(client, app, back_from_the_bank(token), user="mallory")
    resume(client, app, back_from_the_bank(token + "x"), session_id=session_id)

    assert caplog.records
    for record in caplog.records:
        # The raw record, before the log handler's redaction (a safety net, not the guard).
        assert token not in record.getMessage()
        assert token not in json.dumps(record.__dict__, default=str)
    assert token not in json.dumps(stored_events(app))
    assert token[:40] not in json.dumps(stored_events(app))


# -- the application link's page, on the backend's own address (emulator mode) --------------------------


@pytest.fixture
def laptop(database_url: str) -> Iterator[Flask]:
    app = make_app(
        database_url,
        PUBLIC_BASE_URL="http://127.0.0.1:8000",
        APPLICATION_LINK="http://127.0.0.1:8000/belvo/app",
    )
    yield app
    database(app).dispose()


def test_the_link_opened_in_a_browser_offers_to_continue_there(laptop: Flask) -> None:
    query = f"access_token=eyJ.abc.def&consent_id={CONSENT}&locale=pt&more=1"

    page = laptop.test_client().get(f"/belvo/app?{query}")

    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    html = page.get_data(as_text=True)
    widget = f"http://127.0.0.1:8000/sandbox/widget/?{query}".replace("&", "&amp;")
    assert f'href="{widget}" data-test="continue-in-browser"' in html
    assert 'data-test="back-from-the-bank-qr"><svg' in html
    assert laptop.test_client().get(f"/belvo/app/?{query}").status_code == 200

    incomplete = laptop.test_client().get(f"/belvo/app?consent_id={CONSENT}")
    assert incomplete.status_code == 400
    assert 'data-test="app-link-invalid"' in incomplete.get_data(as_text=True)


def test_the_page_is_served_only_on_the_backends_own_address(app: Flask) -> None:
    assert app.test_client().get(f"/belvo-widget?access_token=x&consent_id={CONSENT}").status_code == 404


@pytest.mark.parametrize("path", ["/qa", "/v1/links", "/sandbox/widget", "/healthz"])
def test_a_link_on_a_path_the_backend_serves_refuses_to_start(database_url: str, path: str) -> None:
    with pytest.raises(ConfigError, match="APPLICATION_LINK: expected a path the backend does not serve"):
        make_app(
            database_url,
            PUBLIC_BASE_URL="http://127.0.0.1:8000",
            APPLICATION_LINK=f"http://127.0.0.1:8000{path}",
        )


def test_the_qa_page_shows_the_back_from_the_bank_qr(laptop: Flask, database_url: str) -> None:
    form = {"user_id": "qa-ana", "cpf": "76109277673", "name": "Ana"}
    html = laptop.test_client().post("/qa/sessions", data=form).get_data(as_text=True)

    assert 'data-test="qa-back-from-the-bank"' in html
    assert 'data-test="qa-back-from-the-bank-url">http://127.0.0.1:8000/belvo/app?access_token=eyJ' in html

    without = make_app(database_url, PUBLIC_BASE_URL="http://127.0.0.1:8000")
    assert 'data-test="qa-back-from-the-bank"' not in without.test_client().post(
        "/qa/sessions", data=form
    ).get_data(as_text=True)
    database(without).dispose()
