"""Emulator mode as it is run: one emulator however many processes serve the backend, the same one after a
restart, and the backend's Belvo deadline firing against it as against Belvo."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

import deeplinks
from server.auth import mint_token
from server.config import DEV_APP_JWT_SECRET, Secret
from server.storage import database
from server.webhook_queue import webhook_queue
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
        webhook_queue(app).drain()
        database(app).dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def _serving(command: list[str], env: dict[str, str], url: str) -> Iterator[None]:
    """Run ``command`` (a server for ``url``) until the block ends, once it answers ``/healthz``."""
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):
            assert server.poll() is None, f"{command[:3]} exited"
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.05)
        yield
    finally:
        server.terminate()
        server.wait(timeout=15)


def _bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(user, Secret(DEV_APP_JWT_SECRET), timedelta(hours=1))}"}


def _environment(tmp_path: Path, url: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'ofda.sqlite3'}", "PUBLIC_BASE_URL": url}
    ofda = Path(sys.executable).parent / "ofda"
    subprocess.run([str(ofda), "db", "upgrade"], env=env, check=True, capture_output=True)
    return env


def _all_transactions(url: str, link_id: str) -> list[Any]:
    """The link's transactions through the backend, once its TRANSACTIONS webhook has been applied."""
    for _ in range(200):
        response = requests.get(
            f"{url}/v1/links/{link_id}/transactions?page_size=1000", headers=_bearer("alice"), timeout=10
        )
        if response.status_code != 409:
            break
        time.sleep(0.05)
    assert response.status_code == 200, response.text
    results: list[Any] = response.json()["results"]
    return results


def test_a_restarted_ofda_run_serves_the_same_links_and_data(tmp_path: Path) -> None:
    """``ofda run`` stopped and started again between a success and reading the link's transactions."""
    url = f"http://127.0.0.1:{_free_port()}"
    env = _environment(tmp_path, url)
    ofda_run = [str(Path(sys.executable).parent / "ofda"), "run", "--port", url.rsplit(":", 1)[1]]
    with _serving(ofda_run, env, url):
        session = requests.post(
            f"{url}/v1/widget-sessions", json=SESSION, headers=_bearer("alice"), timeout=10
        ).json()
        link = requests.post(
            f"{url}/sandbox/_control/links",
            json={
                "external_id": session["external_id"],
                "institution": "ofmockbank_br_retail",
                "fetch_resources": ["ACCOUNTS", "TRANSACTIONS"],
                "send_webhooks": True,
            },
            timeout=10,
        ).json()
        event = deeplinks.build(
            deeplinks.SuccessEvent(link["id"], link["institution"]), session["callback_urls"]
        )
        verified = requests.post(
            f"{url}/v1/widget-sessions/{session['id']}/events",
            json={"url": event},
            headers=_bearer("alice"),
            timeout=10,
        )
        assert verified.status_code == 200, verified.text
        before = _all_transactions(url, link["id"])
    assert before

    with _serving(ofda_run, env, url):
        assert _all_transactions(url, link["id"]) == before
        at_belvo = requests.get(f"{url}/sandbox/api/links/{link['id']}/", headers=BASIC, timeout=10)
        assert at_belvo.status_code == 200


def test_under_gunicorn_two_workers_are_one_emulator(tmp_path: Path) -> None:
    """The Procfile's gunicorn with two workers in emulator mode: every widget URL the backend hands out
    opens, whichever worker serves it, and a fault rule holds for every read until it is cleared."""
    url = f"http://127.0.0.1:{_free_port()}"
    gunicorn = [
        sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "2", "--threads", "4",
        "--bind", url.removeprefix("http://"), "server:create_app()",
    ]  # fmt: skip
    with _serving(gunicorn, _environment(tmp_path, url), url):
        opened = []
        for number in range(20):
            # One user each: a user may hold only a few pending sessions. A new connection each time, so
            # the kernel hands requests to either worker.
            created = requests.post(
                f"{url}/v1/widget-sessions", json=SESSION, headers=_bearer(f"user-{number}"), timeout=10
            )
            assert created.status_code == 201, created.text
            widget = requests.get(created.json()["widget_url"], allow_redirects=False, timeout=10)
            opened.append(widget.status_code)
        assert opened == [303] * 20, "every token is valid on every worker"

        fault = {"match": "/api/institutions/", "status": 503, "times": -1}
        assert requests.post(f"{url}/sandbox/_control/faults", json=fault, timeout=5).status_code == 201
        listing = f"{url}/sandbox/api/institutions/"
        faulted = [requests.get(listing, headers=BASIC, timeout=5) for _ in range(10)]
        requests.delete(f"{url}/sandbox/_control/faults", timeout=5)
        cleared = [requests.get(listing, headers=BASIC, timeout=5) for _ in range(10)]
        assert [r.status_code for r in faulted] == [503] * 10
        assert [r.status_code for r in cleared] == [200] * 10
