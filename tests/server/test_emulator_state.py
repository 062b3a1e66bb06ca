"""Emulator mode as it is run: one emulator however many processes serve the backend, the same one after a
restart, and the backend's Belvo deadline firing against it as against Belvo."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from server.auth import mint_token
from server.config import DEV_APP_JWT_SECRET, Secret
from server.services.webhooks import webhook_worker
from server.storage import database
from tests.conftest import make_app
from tests.emulator.builders import basic
from tests.server.lifecycle import Flow, success
from tests.server.test_links import linked

BASIC = basic()
SESSION = {"identification_info": [{"type": "CPF", "number": "76109277673", "name": "Ralph Bragg"}]}


def _pages(flow: Flow, link_id: str, resource: str) -> list[Any]:
    response = flow.get("alice", f"/v1/links/{link_id}/{resource}?page_size=1000")
    assert response.status_code == 200, response.get_json()
    results: list[Any] = response.get_json()["results"]
    return results


def test_a_restart_between_a_success_and_reading_the_data_serves_the_same_data(database_url: str) -> None:
    with Flow.start(database_url) as before:
        link = linked(before, "alice", ready=("ACCOUNTS", "TRANSACTIONS"))
        transactions = _pages(before, link["id"], "transactions")
        accounts = _pages(before, link["id"], "accounts")
        assert transactions

    with Flow.start(database_url) as after:  # a new process on the same database: `ofda run` again
        assert _pages(after, link["id"], "transactions") == transactions
        assert _pages(after, link["id"], "accounts") == accounts
        assert after.get("alice", f"/v1/links/{link['id']}").get_json()["status"] == "valid"


def test_two_processes_are_one_emulator(database_url: str) -> None:
    """Two apps on one database stand for two gunicorn workers: a widget URL made by one opens on the
    other, a link made on one is verified through the other, and a fault rule set on one is counted on
    both."""
    with Flow.start(database_url) as first, Flow.start(database_url) as second:
        session = first.create_session("alice")
        url = urlsplit(session["widget_url"])
        opened = second.client.get(f"{url.path}?{url.query}")
        assert opened.status_code == 303, "the token the first process minted is valid on the second"
        assert first.client.get(opened.headers["Location"]).status_code == 200, "so is its widget session"

        link = second.belvo_link(session["external_id"])
        verified = first.post_event("alice", session["id"], success(session, link))
        assert verified.status_code == 200, verified.get_json()

        first.fault(f"/api/links/{link['id']}/", 503, times=2)
        answers = [
            flow.client.get(f"/sandbox/api/links/{link['id']}/", headers=BASIC)
            for flow in (second, first, second)
        ]
        assert [a.status_code for a in answers] == [503, 503, 200]
        assert second.faults() == first.faults() == []


def test_a_slow_emulator_trips_the_backends_deadline(database_url: str) -> None:
    """A latency fault longer than the deadline: 503 upstream_unavailable, as a slow Belvo gives."""
    app = make_app(database_url, BELVO_DEADLINE_SECONDS="0.5", BELVO_RETRY_SCHEDULE="0")
    client = app.test_client()
    try:
        client.post(
            "/sandbox/_control/faults", json={"match": "/api/token/", "status": None, "delay_ms": 3000}
        )
        flow = Flow(app, client, clock=None)  # type: ignore[arg-type]  # only its request helpers
        response = flow.post_session("alice")

        assert response.status_code == 503, response.get_json()
        assert response.get_json()["errors"][0]["code"] == "upstream_unavailable"
        assert response.headers["Retry-After"]
    finally:
        webhook_worker(app).drain()
        database(app).engine.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_under_gunicorn_two_workers_are_one_emulator(tmp_path: Path) -> None:
    """The Procfile's gunicorn with two workers in emulator mode: every widget URL the backend hands out
    opens, whichever worker serves it, and a fault rule holds for every read until it is cleared."""
    url = f"http://127.0.0.1:{_free_port()}"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'ofda.sqlite3'}", "PUBLIC_BASE_URL": url}
    bin_dir = Path(sys.executable).parent
    subprocess.run([bin_dir / "ofda", "db", "upgrade"], env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "2", "--threads", "4",
         "--bind", url.removeprefix("http://"), "server:create_app()"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(400):
            assert server.poll() is None, "gunicorn exited"
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.05)
        secret = Secret(DEV_APP_JWT_SECRET)
        opened = []
        for number in range(20):
            # One user each: a user may hold only a few pending sessions. A new connection each time, so
            # the kernel hands requests to either worker.
            bearer = {"Authorization": f"Bearer {mint_token(f'user-{number}', secret, timedelta(hours=1))}"}
            created = requests.post(f"{url}/v1/widget-sessions", json=SESSION, headers=bearer, timeout=10)
            assert created.status_code == 201, created.text
            widget = requests.get(created.json()["widget_url"], allow_redirects=False, timeout=10)
            opened.append(widget.status_code)
        assert opened == [303] * 20, "every token is valid on every worker"

        fault = {"match": "/api/institutions/", "status": 503, "times": -1}
        assert requests.post(f"{url}/sandbox/_control/faults", json=fault, timeout=5).status_code == 201
        faulted = [
            requests.get(f"{url}/sandbox/api/institutions/", headers=BASIC, timeout=5) for _ in range(10)
        ]
        requests.delete(f"{url}/sandbox/_control/faults", timeout=5)
        cleared = [
            requests.get(f"{url}/sandbox/api/institutions/", headers=BASIC, timeout=5) for _ in range(10)
        ]
        assert [r.status_code for r in faulted] == [503] * 10
        assert [r.status_code for r in cleared] == [200] * 10
    finally:
        server.terminate()
        server.wait(timeout=15)
