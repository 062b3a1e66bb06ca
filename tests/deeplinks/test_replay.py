"""deeplinks replay: commands that survive shells, and pass/fail judged as a tester expects.

Fake `adb`, `am` and `xcrun` programs on PATH stand in for the Android and iOS tools: the fake adb
does what adb does with `adb shell ...` (joins its arguments and hands them to the device's `sh
-c`), and the fake `am` records the arguments it finally receives.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

import deeplinks
from deeplinks import DeeplinkError, parse
from deeplinks.cli import main
from deeplinks.corpus import load_fixtures
from tests.support import http_server

FIXTURES = {fixture.name: fixture for fixture in load_fixtures()}
# URLs holding & % + ' ( ) ! * " \ spaces and newlines: what a shell would mangle.
TRICKY = [
    "seed-exit",
    "exit-message-raw-punctuation",
    "success-plus-and-encoded-plus",
    "error-accents-lowercase-escapes",
    "raw-double-quote",
    "raw-backslash",
    "raw-space-in-message",
    "raw-trailing-newline",
]
APP_CALLBACKS = {
    "success": "exampleapp://belvo/success",
    "exit": "exampleapp://belvo/exit",
    "event": "exampleapp://belvo/event",
}

# Shell scripts, not Python: the whole-corpus test starts a few hundred of them.
FAKE_ADB = """#!/bin/sh
# adb joins the arguments of `adb shell` with spaces; the device's shell runs the result.
[ "$1" = shell ] || { echo "fake adb: only 'adb shell' is supported" >&2; exit 1; }
shift
exec sh -c "$*"
"""
FAKE_RECORDER = """#!/bin/sh
printf '%s\\0' "$@" "--end-of-call--" >> "$FAKE_LOG"
printf '%s\\n' "${FAKE_OUTPUT:-Status: ok}"
exit "${FAKE_STATUS:-0}"
"""


class Tools:
    """Fake adb/am/xcrun on PATH; `calls()` gives the argv each recorder received."""

    def __init__(self, directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.log = directory / "calls"
        self.bin = directory / "bin"
        self.bin.mkdir()
        for name, source in [("adb", FAKE_ADB), ("am", FAKE_RECORDER), ("xcrun", FAKE_RECORDER)]:
            path = self.bin / name
            path.write_text(source, encoding="utf-8")
            path.chmod(0o755)
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("FAKE_LOG", str(self.log))

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        calls: list[list[str]] = [[]]
        for argument in self.log.read_bytes().decode().split("\0")[:-1]:
            if argument == "--end-of-call--":
                calls.append([])
            else:
                calls[-1].append(argument)
        return calls[:-1]

    def urls(self, flag: str | None = "-d") -> list[str]:
        return [call[call.index(flag) + 1] if flag else call[-1] for call in self.calls()]


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tools:
    return Tools(tmp_path, monkeypatch)


def replay(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    status = main(["replay", *argv])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def test_dry_run_android_lines_deliver_the_exact_url_through_bash_and_the_device_shell(
    tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["replay", *TRICKY, "--to", "android", "--package", "com.example.app", "--dry-run"])
    out, err = capsys.readouterr()
    assert status == 0
    assert err.splitlines()[-1] == "0 replayed, 0 passed, 0 failed"
    # What a tester does: paste the lines into bash, or pipe them to it.
    subprocess.run(["bash"], input=out, text=True, check=True, capture_output=True)
    assert out.count("adb shell ") == len(TRICKY)
    assert tools.urls() == [FIXTURES[name].url for name in TRICKY]
    assert all(call[:4] == ["start", "-W", "-a", "android.intent.action.VIEW"] for call in tools.calls())
    # Custom schemes are opened as adb's usual deeplink test does; https as a tapped App Link.
    assert [call[4:-3] for call in tools.calls()] == [
        ["-c", "android.intent.category.BROWSABLE"] if FIXTURES[name].url.startswith("https://") else []
        for name in TRICKY
    ]
    assert {call[-1] for call in tools.calls()} == {"com.example.app"}


def test_android_replay_runs_adb_and_ends_with_the_summary(
    tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines, _ = replay(capsys, "--to", "android", "--package", "com.example.app", *TRICKY)
    assert status == 0
    assert lines[-1] == f"{len(TRICKY)} replayed, {len(TRICKY)} passed, 0 failed"
    assert [line.split(":")[0] for line in lines[:-1]] == [f"PASS {name}" for name in TRICKY]
    assert tools.urls() == [FIXTURES[name].url for name in TRICKY]


@pytest.mark.parametrize(
    ("output", "status"),
    [("Error: Activity not started, unable to resolve Intent", "0"), ("Status: ok", "1")],
)
def test_android_failure_is_an_error_line_or_a_non_zero_exit(
    tools: Tools,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    output: str,
    status: str,
) -> None:
    monkeypatch.setenv("FAKE_OUTPUT", output)
    monkeypatch.setenv("FAKE_STATUS", status)
    code, lines, _ = replay(capsys, "seed-success", "seed-exit", "--to", "android", "--package", "x.y")
    assert code == 1
    assert lines == [
        f"FAIL seed-success: {output}",
        f"FAIL seed-exit: {output}",
        "2 replayed, 0 passed, 2 failed",
    ]


def test_names_may_follow_the_target(tools: Tools, capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, _ = replay(capsys, "--to", "android", "seed-warning", "--package", "x.y")
    assert (status, lines[-1]) == (0, "1 replayed, 1 passed, 0 failed")
    assert tools.calls()[0][-1] == "x.y"


def test_dry_run_of_the_whole_corpus_without_a_package_runs_in_bash(
    tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["replay", "--to", "android", "--dry-run"])
    out, err = capsys.readouterr()
    assert status == 0
    subprocess.run(["bash"], input=out, text=True, check=True, capture_output=True)
    replayable = [fixture.url for fixture in FIXTURES.values() if "\x00" not in fixture.url]
    assert tools.urls() == replayable
    assert all(call[-2] == "-d" for call in tools.calls())  # no package after the URL
    assert err.splitlines()[-2:] == [
        f"# dry run: {len(replayable)} commands printed, none run",
        "0 replayed, 0 passed, 0 failed",
    ]


def test_ios_replay_opens_each_url_on_the_booted_simulator(
    tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines, _ = replay(capsys, "--to", "ios", *TRICKY)
    assert (status, lines[-1]) == (0, f"{len(TRICKY)} replayed, {len(TRICKY)} passed, 0 failed")
    assert tools.calls() == [["simctl", "openurl", "booted", FIXTURES[name].url] for name in TRICKY]


def test_ios_non_zero_exit_fails(
    tools: Tools, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_STATUS", "3")
    monkeypatch.setenv("FAKE_OUTPUT", "An error was encountered processing the command (code=3)")
    status, lines, _ = replay(capsys, "--to", "ios", "--device", "iPhone 15", "seed-success")
    assert status == 1
    assert lines[-1] == "1 replayed, 0 passed, 1 failed"
    assert tools.calls() == [["simctl", "openurl", "iPhone 15", FIXTURES["seed-success"].url]]


def test_replay_on_the_apps_callback_urls_rebuilds_event_fixtures(
    tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["seed-warning", "seed-success", "raw-leading-space"]
    status, _, _ = replay(capsys, "--to", "ios", *names, "--callback-urls", json.dumps(APP_CALLBACKS))
    urls = tools.urls(None)
    assert status == 0
    assert urls[0].startswith("exampleapp://belvo/event?warning=institution_disabled&")
    assert urls[1].startswith("exampleapp://belvo/success?link=cb65f82c-dc93-4d3e-8270-9a27528397f5&")
    assert urls[2] == FIXTURES["raw-leading-space"].url  # malformed cases are fired as written
    assert [parse(url, APP_CALLBACKS) for url in urls[:2]] == [FIXTURES[n].expect for n in names[:2]]


def test_a_nul_cannot_go_on_a_command_line_so_it_is_skipped(
    tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines, err = replay(capsys, "--to", "ios", "raw-nul-prefix", "seed-exit")
    assert status == 0
    assert err == ["SKIP raw-nul-prefix: a command line cannot carry its NUL character"]
    assert lines[-1] == "1 replayed, 1 passed, 0 failed"


def test_a_missing_tool_stops_the_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    status, lines, err = replay(capsys, "--to", "android", "--package", "x.y", "seed-exit")
    assert (status, lines) == (2, [])
    assert err == ["deeplinks replay: adb was not found on PATH"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--to", "windows"], "--to: expected android, ios or server BASE_URL; got 'windows'"),
        (["--to", "server"], "--to server: expected the backend's base URL"),
        (["--to", "server", "seed-exit"], "--to server: expected the backend's base URL"),
    ],
)
def test_bad_targets_are_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["replay", *argv])
    assert raised.value.code == 2
    assert message in capsys.readouterr().err


def test_unknown_fixture_names_suggest_close_ones(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = replay(capsys, "--to", "ios", "seed-exti")
    assert status == 2
    assert err == ["deeplinks replay: no fixture named 'seed-exti' (did you mean seed-exit, seed-error?)"]


Answer = Callable[[dict[str, Any]], tuple[int, Any]]


def parse_like_the_contract(body: dict[str, Any]) -> tuple[int, Any]:
    try:
        return 200, parse(body["url"], body.get("callback_urls")).to_dict()
    except DeeplinkError as error:
        return 422, {"errors": [error.to_dict()], "request_id": "0" * 32}


@pytest.fixture
def backend() -> Iterator[Callable[[Answer], str]]:
    """Start a tiny HTTP server answering POST /v1/deeplinks/parse with `answer`; its base URL."""
    with ExitStack() as servers:

        def start(answer: Answer) -> str:
            class Handler(BaseHTTPRequestHandler):
                def do_POST(self) -> None:
                    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                    status, payload = answer(body) if self.path == "/v1/deeplinks/parse" else (404, {})
                    data = json.dumps(payload).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

                def log_message(self, *args: Any) -> None:
                    pass

            return servers.enter_context(http_server(Handler))

        yield start


def test_server_replay_of_the_whole_corpus_passes_against_a_conforming_backend(
    backend: Callable[[Answer], str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines, _ = replay(capsys, "--to", "server", backend(parse_like_the_contract) + "/")
    count = len(FIXTURES)
    assert (status, lines[-1]) == (0, f"{count} replayed, {count} passed, 0 failed")


def test_server_replay_fails_answers_that_differ_from_the_fixture(
    backend: Callable[[Answer], str], capsys: pytest.CaptureFixture[str]
) -> None:
    def wrong(body: dict[str, Any]) -> tuple[int, Any]:
        status, payload = parse_like_the_contract(body)
        return (200, {**payload, "extra": {"x": "1"}}) if status == 200 else (400, payload)

    status, lines, _ = replay(capsys, "seed-warning", "link-not-uuid", "--to", "server", backend(wrong))
    assert status == 1
    assert lines[0].startswith('FAIL seed-warning: expected 200 {"type": "warning"')
    assert lines[1].startswith("FAIL link-not-uuid: expected 422 invalid_deeplink; got 400 ")
    assert lines[-1] == "2 replayed, 0 passed, 2 failed"


def test_server_replay_reports_an_unreachable_backend(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    status, lines, _ = replay(capsys, "seed-exit", "--to", "server", f"http://127.0.0.1:{port}")
    assert status == 1
    assert lines[0].startswith("FAIL seed-exit: cannot reach http://127.0.0.1:")
    assert lines[-1] == "1 replayed, 0 passed, 1 failed"


def test_server_dry_run_prints_curl_commands_with_the_fixture_body(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, lines, _ = replay(
        capsys, "success-callback-own-query", "--to", "server", "http://127.0.0.1:8000", "--dry-run"
    )
    argv = shlex.split(lines[0])
    fixture = FIXTURES["success-callback-own-query"]
    assert status == 0
    assert argv[0] == "curl"
    assert argv[-1] == "http://127.0.0.1:8000/v1/deeplinks/parse"
    assert json.loads(argv[argv.index("--data-binary") + 1]) == {
        "url": fixture.url,
        "callback_urls": dict(fixture.callback_urls or {}),
    }


APP2APP_CALLBACKS = {**APP_CALLBACKS, "application_link": "https://app.example.com/belvo-widget"}
RESUMES = ["resume-belvo-example", "resume-percent-encoded-values", "resume-plus-means-space"]


def test_a_resume_url_opens_as_an_app_link_on_android(
    tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines, _ = replay(capsys, "--to", "android", *RESUMES)
    assert (status, lines[-1]) == (0, "3 replayed, 3 passed, 0 failed")
    assert tools.calls() == [
        [
            "start",
            "-W",
            "-a",
            "android.intent.action.VIEW",
            "-c",
            "android.intent.category.BROWSABLE",
            "-d",
            url,
        ]
        for url in [FIXTURES[name].url for name in RESUMES]
    ]


def test_a_resume_url_opens_as_a_universal_link_on_the_simulator(
    tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines, _ = replay(capsys, "--to", "ios", *RESUMES)
    assert (status, lines[-1]) == (0, "3 replayed, 3 passed, 0 failed")
    assert tools.calls() == [["simctl", "openurl", "booted", FIXTURES[name].url] for name in RESUMES]


def test_resume_fixtures_are_rebuilt_on_the_apps_application_link(
    tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, _ = replay(capsys, "--to", "ios", *RESUMES, "--callback-urls", json.dumps(APP2APP_CALLBACKS))
    assert status == 0
    for url, name in zip(tools.urls(None), RESUMES, strict=True):
        event = FIXTURES[name].expect
        assert isinstance(event, deeplinks.ResumeEvent)
        assert url == f"https://app.example.com/belvo-widget?{event.query}"
        assert parse(url, APP2APP_CALLBACKS) == event


def test_replay_on_other_callback_urls_skips_what_cannot_be_rebuilt_and_replays_the_rest(
    tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    # The README's example: the app's own callback URLs, longer than the corpus's, and no App2App.
    status, lines, err = replay(capsys, "--to", "ios", "--callback-urls", json.dumps(APP_CALLBACKS))
    skipped = {line.split(":")[0].removeprefix("SKIP ") for line in err}
    resumes = {name for name, fixture in FIXTURES.items() if fixture.kind == "resume"}
    assert status == 0
    assert skipped == {"success-at-max-length", "raw-nul-prefix", *resumes}
    assert (
        "SKIP success-at-max-length: cannot be rebuilt on these callback URLs: expected the event to fit"
        in ("\n".join(err))
    )
    replayed = len(FIXTURES) - len(skipped)
    assert lines[-1] == f"{replayed} replayed, {replayed} passed, 0 failed"
    assert len(tools.calls()) == replayed
