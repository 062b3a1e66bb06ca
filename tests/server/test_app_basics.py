"""What every client sees whatever endpoint it calls: the error envelope, request ids, probes, docs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server import create_app
from server.api import ErrorSchema
from server.settings import settings
from server.storage import database
from tests.conftest import make_app
from tests.server.conftest import REAL_BELVO
from tests.support import assert_error


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    # Real mode: these tests must not depend on the emulator.
    app = make_app(database_url, **REAL_BELVO)
    yield app
    database(app).dispose()


def test_unknown_path_is_contract_404(client: FlaskClient) -> None:
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")


def test_wrong_method_is_contract_405(client: FlaskClient) -> None:
    assert_error(client.delete("/healthz"), 405, "method_not_allowed")


def test_every_response_has_a_fresh_request_id(client: FlaskClient) -> None:
    ids = {client.get("/healthz").headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_readiness_fails_when_the_database_is_gone(tmp_path: Any) -> None:
    app = make_app(f"sqlite:///{tmp_path}/missing/dir/db.sqlite3", AUTO_MIGRATE=False, **REAL_BELVO)
    assert_error(app.test_client().get("/readyz"), 503, "database_unavailable")


def test_openapi_document_and_docs_page(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/healthz" in spec["paths"]
    page = client.get("/docs")
    assert page.status_code == 200
    assert b"/healthz" in page.data
    assert b"openapi.json" in page.data


def test_unexpected_exception_is_a_contract_500_without_details(app: Flask) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret detail that must not leak")

    body = assert_error(app.test_client().get("/boom"), 500, "internal_error")
    assert "secret detail" not in str(body)


def test_the_documented_error_shape_is_the_one_answered(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["errors", "request_id"]
    detail = spec["components"]["schemas"]["ErrorDetail"]
    assert sorted(detail["required"]) == ["code", "field", "message"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue  # path-level parameters
            for status, response in operation["responses"].items():
                if status == "default" or int(status) >= 400:
                    name = response["$ref"].rsplit("/", 1)[1]
                    schema = spec["components"]["responses"][name]["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)
    assert ErrorSchema().validate(client.get("/v1/nothing-here").get_json()) == {}


def test_an_explicit_environment_is_all_the_app_reads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BELVO_SECRET_ID", "only-the-id")  # partly configured: refused, were it read
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}, environ={})
    assert settings(app).emulator_mode


def test_the_root_points_to_the_docs(client: FlaskClient) -> None:
    body = client.get("/").get_json()
    assert body["mode"] == "real"
    assert body["docs"] == "http://127.0.0.1:8000/docs"
    assert body["api"] == "http://127.0.0.1:8000/v1"
    assert "qa" not in body  # off with real Belvo keys
    assert "widget" not in body  # Belvo's own, known to the app only through a session
