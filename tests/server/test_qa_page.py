"""The QA page: on in development, absent in production; it makes sessions and shows the corpus."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from deeplinks.corpus import load_fixtures
from server.models import WidgetSession
from server.storage import database
from tests.conftest import make_app
from tests.server.conftest import REAL_BELVO
from tests.support import assert_error


def test_lists_every_fixture_with_a_qr_code(client: FlaskClient) -> None:
    page = client.get("/qa")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    fixtures = load_fixtures()
    assert html.count('data-test="qa-fixture"') == len(fixtures)
    qr = client.get(f"/qa/fixtures/{fixtures[0].name}.svg")
    assert qr.status_code == 200
    assert qr.mimetype == "image/svg+xml"
    assert client.get("/qa/fixtures/no-such-fixture.svg").status_code == 404


def test_creates_a_session_for_a_test_user_and_shows_its_qr_code(app: Flask, client: FlaskClient) -> None:
    response = client.post("/qa/sessions", data={"user_id": "qa-ana", "cpf": "761.092.776-73", "name": "Ana"})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    session_id = re.search(r'data-test="qa-session-id">([^<]+)<', html).group(1)  # type: ignore[union-attr]
    assert "<svg" in html
    with database(app).session() as db:
        session = db.get(WidgetSession, session_id)
        assert session is not None
        assert session.user_id == "qa-ana"


def test_shows_validation_errors_and_stores_nothing(app: Flask, client: FlaskClient) -> None:
    response = client.post("/qa/sessions", data={"user_id": "qa-ana", "cpf": "76109277674", "name": "Ana"})
    assert response.status_code == 422
    assert "identification_info.0.number" in response.get_data(as_text=True)
    with database(app).session() as db:
        assert db.query(WidgetSession).count() == 0


def test_absent_in_production_unless_enabled(database_url: str) -> None:
    app = make_app(database_url, **REAL_BELVO)
    assert_error(app.test_client().get("/qa"), 404, "not_found")
    enabled = make_app(database_url, QA_PAGE=True, **REAL_BELVO)
    assert enabled.test_client().get("/qa").status_code == 200
    database(app).dispose()
    database(enabled).dispose()


def test_a_fixture_too_long_for_a_qr_code_says_so_in_the_error_shape(client: FlaskClient) -> None:
    assert_error(client.get("/qa/fixtures/too-long.svg"), 422, "qr_too_long")
