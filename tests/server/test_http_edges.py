"""Edges found by fuzzing the HTTP layer: every answer keeps the contract's error shape and says what HTTP
requires (405's `Allow`, 413 for a chunked body over the limit)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from server.storage import database
from tests.conftest import bearer, make_app
from tests.server.conftest import REAL_BELVO
from tests.support import assert_error


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = make_app(database_url, **REAL_BELVO)
    yield app
    database(app).dispose()


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/healthz", "GET, HEAD, OPTIONS"),
        ("PUT", "/v1/widget-sessions", "OPTIONS, POST"),
        ("POST", "/v1/links/lnk_1", "DELETE, GET, HEAD, OPTIONS"),
    ],
)
def test_405_names_the_allowed_methods(app: Flask, method: str, path: str, allow: str) -> None:
    response = app.test_client().open(path, method=method, headers=bearer(app, "ana"))
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == allow


def chunked_post(app: Flask, body: bytes) -> Any:
    """A chunked POST the way a server that decodes chunked bodies (gunicorn) hands it on: no length, the
    input stream terminated by the server."""
    return app.test_client().post(
        "/v1/widget-sessions",
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked", **bearer(app, "ana")},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_chunked_body_over_the_limit_is_413(app: Flask) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    oversized = b'{"identification_info": [], "padding": "' + b"x" * limit + b'"}'
    assert_error(chunked_post(app, oversized), 413, "payload_too_large")


def test_a_chunked_body_at_the_limit_is_read_whole(app: Flask) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = b'{"identification_info": [], "padding": "'
    body += b"x" * (limit - len(body) - 2) + b'"}'
    assert len(body) == limit
    # Read whole: the JSON decodes (no 400), and the schema refuses what it holds.
    response = chunked_post(app, body)
    assert response.status_code == 422
    assert "padding" in {error["field"] for error in response.get_json()["errors"]}
