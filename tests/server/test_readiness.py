"""An operator's first hour: a database without its migrations is reported as such (readiness, API calls,
`ofda run`), never served as 500s."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from server import cli
from server.storage import database
from tests.conftest import bearer, make_app
from tests.server.conftest import REAL_BELVO, session_body
from tests.support import assert_error


@pytest.fixture
def unmigrated(database_url: str) -> Iterator[Flask]:
    """A deployment whose release step (`ofda db upgrade`) did not run."""
    app = make_app(database_url, AUTO_MIGRATE=False, **REAL_BELVO)
    yield app
    database(app).dispose()


def upgrade(app: Flask, *revision: str) -> None:
    result = app.test_cli_runner().invoke(args=["db", "upgrade", *revision])
    assert result.exit_code == 0, result.output


def test_readiness_waits_for_every_migration(unmigrated: Flask) -> None:
    client = unmigrated.test_client()
    body = assert_error(client.get("/readyz"), 503, "database_not_migrated")
    assert "ofda db upgrade" in body["errors"][0]["message"]

    upgrade(unmigrated, "0001")
    body = assert_error(client.get("/readyz"), 503, "database_not_migrated")
    assert "at revision 0001" in body["errors"][0]["message"]

    upgrade(unmigrated)
    assert client.get("/readyz").get_json() == {"status": "ready"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/links", None),
        ("GET", "/v1/widget-sessions/ws_nothing", None),
        ("GET", "/v1/widget-sessions/ws_nothing/qr.svg", None),
        ("POST", "/v1/widget-sessions", session_body()),
    ],
)
def test_api_calls_before_migrations_answer_503_in_the_error_shape(
    unmigrated: Flask, method: str, path: str, body: Any
) -> None:
    client = unmigrated.test_client()
    response = client.open(path, method=method, json=body, headers=bearer(unmigrated, "ana"))
    assert_error(response, 503, "database_not_migrated")


def test_ofda_run_with_pending_migrations_says_how_to_apply_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    served: list[Any] = []
    monkeypatch.setattr(cli, "make_server", _recording(served))
    for name, value in {**REAL_BELVO, "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}.items():
        monkeypatch.setenv(name, value)

    result = CliRunner().invoke(cli.cli, ["run", "--port", "8126"])

    assert result.exit_code != 0
    assert "the database has no migrations applied" in result.output
    assert "run `ofda db upgrade`" in result.output
    assert served == []


def test_ofda_run_with_an_unreachable_database_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    served: list[Any] = []
    monkeypatch.setattr(cli, "make_server", _recording(served))
    for name, value in {**REAL_BELVO, "DATABASE_URL": f"sqlite:///{tmp_path}/no/such/dir/db"}.items():
        monkeypatch.setenv(name, value)

    result = CliRunner().invoke(cli.cli, ["run", "--port", "8128"])

    assert result.exit_code != 0
    assert "The database is not reachable" in result.output
    assert served == []


def test_ofda_run_serves_once_migrated(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    served: list[Any] = []
    monkeypatch.setattr(cli, "make_server", _recording(served))
    for name, value in {**REAL_BELVO, "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}.items():
        monkeypatch.setenv(name, value)
    assert CliRunner().invoke(cli.cli, ["db", "upgrade"]).exit_code == 0

    result = CliRunner().invoke(cli.cli, ["run", "--port", "8127"])

    assert result.exit_code == 0, result.output
    assert len(served) == 1


def _recording(served: list[Any]) -> Any:
    """Stands in for werkzeug's make_server: records what `ofda run` would serve, and serves nothing."""

    def make_server(host: str, port: int, *args: Any, **kwargs: Any) -> SimpleNamespace:
        served.append((host, port, *args))
        return SimpleNamespace(port=port, serve_forever=lambda: None)

    return make_server
