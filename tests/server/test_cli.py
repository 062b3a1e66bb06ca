"""`ofda`: the URLs a session returns point at the server `ofda run` started, which says where to go;
configuration errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from server import cli
from server.settings import settings
from tests.server.conftest import REAL_BELVO

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _empty_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line reads the process environment: nothing in it but what a test sets."""
    for name in list(os.environ):
        monkeypatch.delenv(name)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> dict[str, Any]:
    """Run `ofda run` without serving: record what make_server was given."""
    seen: dict[str, Any] = {}

    class FakeServer:
        def __init__(self, port: int) -> None:
            self.port = port

        def serve_forever(self) -> None:
            pass

    def fake_make_server(host: str, port: int, app: Any, **options: Any) -> FakeServer:
        seen.update(host=host, port=port, app=app, options=options)
        return FakeServer(port)

    monkeypatch.setattr(cli, "make_server", fake_make_server)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/db.sqlite3")
    monkeypatch.setenv("PUBLIC_BASE_URL", "")  # recorded, so what `ofda run` sets is undone
    return seen


OFDA_WITH_CTRL_C = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from server.cli import main; main()"
)


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


def test_the_banner_says_the_mode_and_where_to_go_in_plain_text(served: dict[str, Any]) -> None:
    result = CliRunner().invoke(cli.cli, ["run", "--port", "8126"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ofda: emulator mode")
    for url in ("/v1", "/docs", "/qa", "/sandbox/widget/"):
        assert f"http://127.0.0.1:8126{url}\n" in result.output
    assert "\x1b" not in result.output
    assert "{" not in result.output


def test_the_banner_in_real_mode(served: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**REAL_BELVO, "AUTO_MIGRATE": "true"}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli.cli, ["run", "--port", "8127"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"ofda: real mode: Belvo at {REAL_BELVO['BELVO_API_URL']}\n")
    assert "http://127.0.0.1:8127/docs\n" in result.output
    assert "QA page          off" in result.output
    assert "127.0.0.1:8127/sandbox" not in result.output


def test_ofda_run_as_a_user_runs_it(tmp_path: Path) -> None:
    """A real `ofda run` process: its banner, `GET /` for a program and for a browser, and an access
    log that keeps the widget's access token out."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        # Ctrl+C as in a terminal: a runner started in the background (``cmd &``) passes SIGINT on ignored,
        # and Python then installs no KeyboardInterrupt handler, so `ofda run` would never see it.
        [sys.executable, "-c", OFDA_WITH_CTRL_C, "run", "--port", str(port)],
        cwd=ROOT,
        env={"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = []
        while not banner or not banner[-1].startswith("Listening on"):
            line = process.stdout.readline()  # type: ignore[union-attr]
            assert line, f"ofda run ended: {process.stderr.read()}"  # type: ignore[union-attr]
            banner.append(line.rstrip("\n"))
        base = f"http://127.0.0.1:{port}"
        assert banner[0].startswith("ofda: emulator mode")
        assert f"  API docs         {base}/docs" in banner
        assert f"  Emulated widget  {base}/sandbox/widget/" in banner

        index = requests.get(f"{base}/", timeout=10).json()
        assert index["mode"] == "emulator"
        assert (index["docs"], index["qa"]) == (f"{base}/docs", f"{base}/qa")
        html = requests.get(f"{base}/", headers={"Accept": "text/html,*/*;q=0.8"}, timeout=10).text
        assert f'href="{base}/docs"' in html
        assert f'href="{base}/qa"' in html

        token = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl"
        requests.get(f"{base}/sandbox/widget/", params={"access_token": token, "locale": "pt"}, timeout=10)
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert "ofda: stopped" in out, err
    assert "GET /sandbox/widget/ 401" in err
    assert token not in err
    assert "\x1b" not in out + err
