"""`ofda run`: the URLs a session returns point at the server that was started."""

from __future__ import annotations

import os
from typing import Any

import pytest
from click.testing import CliRunner

from server import cli
from server.settings import settings


@pytest.fixture(autouse=True)
def _empty_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line reads the process environment: nothing in it but what a test sets."""
    for name in list(os.environ):
        monkeypatch.delenv(name)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> dict[str, Any]:
    """Run `ofda run` without serving: record what run_simple was given."""
    seen: dict[str, Any] = {}

    def fake_run_simple(host: str, port: int, app: Any, **options: Any) -> None:
        seen.update(host=host, port=port, app=app, options=options)

    monkeypatch.setattr(cli, "run_simple", fake_run_simple)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/db.sqlite3")
    monkeypatch.setenv("PUBLIC_BASE_URL", "")  # recorded, so what `ofda run` sets is undone
    return seen


def test_public_base_url_follows_host_and_port(served: dict[str, Any]) -> None:
    result = CliRunner().invoke(cli.cli, ["run", "--port", "8123"])
    assert result.exit_code == 0, result.output
    app = served["app"]
    assert settings(app).public_base_url == "http://127.0.0.1:8123"
    assert settings(app).belvo_widget_url == "http://127.0.0.1:8123/sandbox/widget/"
    assert served["options"]["threaded"] is True
    assert "QueryFree" in served["options"]["request_handler"].__name__


def test_every_interface_warns_to_set_the_lan_address(served: dict[str, Any]) -> None:
    result = CliRunner().invoke(cli.cli, ["run", "--host", "0.0.0.0", "--port", "8124"])
    assert result.exit_code == 0, result.output
    assert "PUBLIC_BASE_URL" in result.output
    assert served["host"] == "0.0.0.0"


def test_an_explicit_public_base_url_wins(served: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://192.168.1.20:8000")
    assert CliRunner().invoke(cli.cli, ["run", "--port", "8125"]).exit_code == 0
    assert settings(served["app"]).public_base_url == "http://192.168.1.20:8000"


def test_a_configuration_error_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BELVO_SECRET_ID", "only-the-id")
    monkeypatch.setattr("sys.argv", ["ofda", "token", "bob"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("ofda: configuration error: Belvo credentials are partly configured")
    assert "Traceback" not in err


def test_every_configuration_error_is_reported_at_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Real mode with nothing else set, and three malformed settings besides.
    monkeypatch.setenv("BELVO_SECRET_ID", "id")
    monkeypatch.setenv("BELVO_SECRET_PASSWORD", "password")
    monkeypatch.setenv("BELVO_API_URL", "https://sandbox.belvo.com")
    monkeypatch.setenv("SESSION_MAX_PENDING", "0")
    monkeypatch.setenv("QA_PAGE", "maybe")
    monkeypatch.setenv("IOS_APP_IDS", "com.example.app")
    monkeypatch.setattr("sys.argv", ["ofda", "token", "bob"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert all(line.startswith("ofda: configuration error: ") for line in lines)
    named = sorted(line.removeprefix("ofda: configuration error: ").split(":")[0] for line in lines)
    assert named == [
        "APP_JWT_SECRET",
        "BELVO_WEBHOOK_AUTH",
        "IOS_APP_IDS",
        "QA_PAGE",
        "SESSION_MAX_PENDING",
        "TERMS_URL",
    ]
    assert all("expected" in line for line in lines)
