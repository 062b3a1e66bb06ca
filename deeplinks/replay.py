"""`deeplinks replay`: fire corpus URLs at an Android device, an iOS simulator or a backend.

Commands are argv lists run without a local shell. `adb shell` hands its command to the device's
shell, though, so the Android command quotes the URL for that shell (`&` would otherwise end the
command and `%`/`'` be mangled).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, TextIO

from deeplinks.shots import Shot, Skipped

VIEW_ACTION: Final = "android.intent.action.VIEW"
BROWSABLE: Final = "android.intent.category.BROWSABLE"
_WEB_SCHEMES: Final = ("http://", "https://")
PARSE_PATH: Final = "/v1/deeplinks/parse"


class ReplayError(RuntimeError):
    """The replay cannot run at all (a missing tool), as opposed to one URL failing."""


@dataclass(frozen=True)
class Outcome:
    passed: bool
    detail: str = ""


class Target(Protocol):
    def carries(self, url: str) -> bool:
        """Whether this target can be handed `url` at all."""
        ...

    def command(self, shot: Shot) -> list[str]:
        """The command replaying `shot`, as argv (printed with shlex.join by --dry-run)."""
        ...

    def run(self, shot: Shot) -> Outcome:
        """Replay `shot` and judge the answer."""
        ...


def _run_tool(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(  # noqa: S603 (argv list, no shell; the URL is one argument)
            argv, capture_output=True, text=True, errors="replace", timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise ReplayError(f"{argv[0]} was not found on PATH") from None


def _last_line(process: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (process.stdout + process.stderr).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {process.returncode}"


def _fits_command_line(url: str) -> bool:
    # A NUL cannot be passed in argv (execve ends the string there).
    return "\x00" not in url


@dataclass(frozen=True)
class Android:
    """`adb shell am start -W -a android.intent.action.VIEW -d URL [PACKAGE]`; without a package,
    Android picks the app whose intent filter takes the URL (or asks, if several do).

    An http(s) URL (an App Link, such as the App2App application link the bank sends the user back
    on) goes with `-c android.intent.category.BROWSABLE`, as a link tapped in a browser or another
    app does and as Android's App Links test command sends it
    (https://developer.android.com/training/app-links/verify-android-applinks): an App Link whose
    domain is not verified then opens the browser, not the app, as it would for the user."""

    package: str | None = None
    timeout: float = 30.0

    def carries(self, url: str) -> bool:
        return _fits_command_line(url)

    def command(self, shot: Shot) -> list[str]:
        category = ["-c", BROWSABLE] if shot.url.lower().startswith(_WEB_SCHEMES) else []
        remote = ["am", "start", "-W", "-a", VIEW_ACTION, *category, "-d", shot.url]
        if self.package:
            remote.append(self.package)
        return ["adb", "shell", shlex.join(remote)]

    def run(self, shot: Shot) -> Outcome:
        process = _run_tool(self.command(shot), self.timeout)
        # `am start` can exit 0 and still print "Error: Activity not started, unable to resolve Intent".
        output = process.stdout + process.stderr
        return Outcome(process.returncode == 0 and "Error" not in output, _last_line(process))


@dataclass(frozen=True)
class Ios:
    """`xcrun simctl openurl DEVICE URL` (DEVICE defaults to the booted simulator); an https URL
    opens the app whose associated domains claim it (a universal link), else Safari."""

    device: str = "booted"
    timeout: float = 30.0

    def carries(self, url: str) -> bool:
        return _fits_command_line(url)

    def command(self, shot: Shot) -> list[str]:
        return ["xcrun", "simctl", "openurl", self.device, shot.url]

    def run(self, shot: Shot) -> Outcome:
        process = _run_tool(self.command(shot), self.timeout)
        return Outcome(process.returncode == 0, _last_line(process))


@dataclass(frozen=True)
class Server:
    """POST each URL to a backend's `/v1/deeplinks/parse`; the answer must equal the fixture's
    expectation: 200 with the event JSON, or 422 with the expected error code first."""

    base_url: str
    timeout: float = 30.0

    def carries(self, url: str) -> bool:
        return True  # JSON carries any string

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + PARSE_PATH

    def body(self, shot: Shot) -> bytes:
        body: dict[str, Any] = {"url": shot.url}
        if shot.callback_urls is not None:
            body["callback_urls"] = dict(shot.callback_urls)
        return json.dumps(body).encode()

    def command(self, shot: Shot) -> list[str]:
        return [
            "curl", "-sS", "-X", "POST", "-H", "Content-Type: application/json",
            "--data-binary", self.body(shot).decode(), self.endpoint,
        ]  # fmt: skip

    def run(self, shot: Shot) -> Outcome:
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked in the CLI: http/https)
            self.endpoint,
            data=self.body(shot),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except (urllib.error.URLError, TimeoutError) as error:
            return Outcome(False, f"cannot reach {self.endpoint}: {getattr(error, 'reason', error)}")
        try:
            answer = json.loads(raw)
        except ValueError:
            return Outcome(False, f"expected a JSON answer; got {status} {raw[:200]!r}")
        return _judge(shot, status, answer)


def _judge(shot: Shot, status: int, answer: Any) -> Outcome:
    expect = shot.fixture.expect
    if expect is not None:
        wanted = expect.to_dict()
        if status == 200 and answer == wanted:
            return Outcome(True, f"200 {expect.type}")
        return Outcome(False, f"expected 200 {json.dumps(wanted)}; got {status} {json.dumps(answer)}")
    errors = answer.get("errors") if isinstance(answer, dict) else None
    code = (
        errors[0].get("code") if isinstance(errors, list) and errors and isinstance(errors[0], dict) else None
    )
    if status == 422 and code == shot.fixture.expect_error:
        return Outcome(True, f"422 {code}")
    return Outcome(False, f"expected 422 {shot.fixture.expect_error}; got {status} {json.dumps(answer)}")


def summary(replayed: int, passed: int, failed: int) -> str:
    """The line that ends every replay."""
    return f"{replayed} replayed, {passed} passed, {failed} failed"


def replay(
    target: Target,
    shots: Sequence[Shot],
    *,
    skipped: Sequence[Skipped] = (),
    dry_run: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    """Replay `shots` on `target`, printing a line per URL and the summary; the exit status.
    Fixtures `skipped` (and shots the target cannot carry) are named on `err`, and not counted."""
    skipped = [
        *skipped,
        *(
            Skipped(shot.fixture, "a command line cannot carry its NUL character")
            for shot in shots
            if not target.carries(shot.url)
        ),
    ]
    for skip in skipped:
        print(f"SKIP {skip.fixture.name}: {skip.reason}", file=err)
    shots = [shot for shot in shots if target.carries(shot.url)]
    if dry_run:
        for shot in shots:
            print(shlex.join(target.command(shot)), file=out)
        print(f"# dry run: {len(shots)} commands printed, none run", file=err)
        print(summary(0, 0, 0), file=err)
        return 0
    passed = failed = 0
    for shot in shots:
        outcome = target.run(shot)
        if outcome.passed:
            passed += 1
            print(f"PASS {shot.fixture.name}: {outcome.detail}", file=out, flush=True)
        else:
            failed += 1
            print(f"FAIL {shot.fixture.name}: {outcome.detail}", file=out, flush=True)
    print(summary(passed + failed, passed, failed), file=out)
    return 1 if failed else 0
