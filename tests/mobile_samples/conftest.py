"""Fixtures for the mobile samples' checks: a copy of the corpus with one expectation broken, and a
running `ofda run` (backend plus embedded emulator) for the samples' backend clients."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import deeplinks
from tests.mobile_samples import fake_backend as fake
from tests.mobile_samples.toolchains import CORPUS

# A CPF with valid check digits (the contract's example).
IDENTIFICATION = [{"type": "CPF", "number": "76109277673", "name": "Ralph Bragg"}]


@dataclass(frozen=True)
class BrokenCorpus:
    """A corpus copy in which exactly one case expects the wrong thing."""

    directory: Path
    file: str
    name: str


@pytest.fixture
def broken_corpus(tmp_path: Path) -> BrokenCorpus:
    """The corpus with the first success case's expected institution changed: every platform's check
    must fail on it, which shows each one really reads the corpus."""
    directory = tmp_path / "fixtures"
    shutil.copytree(CORPUS, directory)
    for path in sorted(directory.glob("*.json")):
        cases = json.loads(path.read_text(encoding="utf-8"))
        for case in cases:
            if case.get("expect", {}).get("type") == "success":
                case["expect"]["institution"] += "_broken"
                path.write_text(json.dumps(cases, indent=2, ensure_ascii=False), encoding="utf-8")
                return BrokenCorpus(directory, path.name, str(case["name"]))
    pytest.fail("expected a success case in the corpus to break")


@dataclass(frozen=True)
class LiveBackend:
    """A running `ofda run` and a way to mint bearer tokens for it."""

    base_url: str
    env: dict[str, str]

    def app_env(self, user_id: str) -> dict[str, str]:
        """What the platforms' LiveBackendTests programs read: the backend, a token for `user_id`, the
        widget's origin (in emulator mode the backend serves the widget itself), the application link, and
        another user's token."""
        token = self.token(user_id)
        return {
            "OFDA_BASE_URL": self.base_url,
            "OFDA_TOKEN": token,
            "OFDA_WIDGET_ORIGIN": self.base_url,
            "OFDA_APPLICATION_LINK": self.env["APPLICATION_LINK"],
            # Another user, whose token must not resume `user_id`'s session.
            "OFDA_OTHER_TOKEN": self.token(f"{user_id}-other"),
        }

    def consent_env(self, user_id: str) -> dict[str, str]:
        """What the platforms' ConsentTests programs read: `app_env(user_id)` plus two recurrent links
        of `user_id`, made through a widget session as the app would: `OFDA_FRESH_LINK_ID`, whose consent
        Belvo has not reported yet, and `OFDA_EXPIRED_LINK_ID`, whose consent the emulator expired
        (`POST /sandbox/_control/consents`, docs/contract.md section 7)."""
        env = self.app_env(user_id)
        # Two banks: a second link at the same bank would replace the first (a duplicate).
        fresh = self._recurrent_link(env["OFDA_TOKEN"], "ofnubank_br_retail")
        expired = self._recurrent_link(env["OFDA_TOKEN"], "ofmockbank_br_retail")
        self._request("POST", "/sandbox/_control/consents", None, {"link_id": expired, "state": "expired"})
        # The consent webhook reaches the backend off the request: wait until the link shows it.
        deadline = time.monotonic() + 30
        while self._consent_status(expired, env["OFDA_TOKEN"]) != "expired":
            if time.monotonic() > deadline:
                pytest.fail("the emulator's consent_expired webhook never reached the backend's link")
            time.sleep(0.2)
        return {**env, "OFDA_FRESH_LINK_ID": fresh, "OFDA_EXPIRED_LINK_ID": expired}

    def _consent_status(self, link_id: str, token: str) -> object:
        consent = self._request("GET", f"/v1/links/{link_id}", token, None).get("consent")
        return consent.get("status") if isinstance(consent, dict) else None

    def _recurrent_link(self, token: str, institution: str) -> str:
        """A recurrent link at the emulator for a new widget session, its success callback forwarded."""
        session = self._request(
            "POST",
            "/v1/widget-sessions",
            token,
            {"identification_info": IDENTIFICATION, "access_mode": "recurrent"},
        )
        link = self._request(
            "POST",
            "/sandbox/_control/links",
            None,
            {
                "external_id": session["external_id"],
                "institution": institution,
                "access_mode": "recurrent",
                "identification_info": IDENTIFICATION,
            },
        )
        success = deeplinks.build(deeplinks.SuccessEvent(link["id"], institution), session["callback_urls"])
        self._request("POST", f"/v1/widget-sessions/{session['id']}/events", token, {"url": success})
        return str(link["id"])

    def _request(self, method: str, path: str, token: str | None, body: object) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base_url}{path}", data, headers, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
            answer: dict[str, Any] = json.loads(response.read())
            return answer

    def token(self, user_id: str) -> str:
        """A bearer token for `user_id` (`ofda token USER_ID`)."""
        completed = subprocess.run(
            [str(_ofda()), "token", user_id],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return completed.stdout.strip()


def _ofda() -> Path:
    # The console script installed beside this interpreter (the project's venv).
    return Path(sys.executable).with_name("ofda")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def live_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBackend]:
    """`ofda run` on a free loopback port with a throwaway SQLite database, in emulator mode (no
    Belvo credentials). Skipped only while the backend package does not exist yet."""
    try:
        from server import create_app  # noqa: F401 (only the presence is checked)
    except ImportError:
        pytest.skip("the backend (server.create_app) does not exist yet")
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    workdir = tmp_path_factory.mktemp("ofda-run")
    # Emulator mode: no Belvo settings or callback overrides from the developer's shell.
    inherited = ("BELVO_", "CALLBACK_", "FLASK_", "DATABASE_URL", "PUBLIC_BASE_URL")
    env = {key: value for key, value in os.environ.items() if not key.startswith(inherited)}
    env.update(
        DATABASE_URL=f"sqlite:///{workdir / 'live.sqlite3'}",
        PUBLIC_BASE_URL=base_url,
        # App2App on the laptop: the application link on the backend's own address (docs/contract.md section 6).
        APPLICATION_LINK=f"{base_url}/belvo/app2app",
        APP_JWT_SECRET=secrets.token_hex(32),
        # Each platform's suite creates about ten sessions in a few seconds, and leaves most open.
        SESSION_RATE_LIMIT_PER_MINUTE="1000",
        SESSION_RATE_LIMIT_PER_DAY="1000",
        SESSION_MAX_PENDING="1000",
    )
    log_path = workdir / "ofda-run.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(_ofda()), "run", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not _healthy(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"`ofda run` did not become healthy:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield LiveBackend(base_url, env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def fake_backend() -> Iterator[fake.FakeBackend]:
    """The stand-in backend of fake_backend.py, for what a real backend cannot be made to answer."""
    with fake.fake_backend() as backend:
        yield backend
