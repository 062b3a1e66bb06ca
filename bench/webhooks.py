"""Benchmark: deliveries ``POST /v1/webhooks/belvo`` acknowledges per second, and their p99, over HTTP
against the Procfile's deployment, beside the same stack answering an empty 200.

    .venv/bin/python bench/webhooks.py [--deliveries 2000] [--clients 8] [--database-url URL]

The deployment is the one tests/deployment runs (tests/deployment/stack.py): the Procfile's release, two
web instances (its gunicorn line), its worker, the standalone emulator as Belvo, on a fresh schema of
the PostgreSQL server ``--database-url`` names (default ``TEST_DATABASE_URL``). Deliveries are
``new_transactions_available`` and ``historical_update`` for one user's verified link, 10% of them
duplicates, sent round-robin over both instances by ``--clients`` threads with keep-alive connections.

- *backend*: the endpoint as deployed: authenticate, validate, store the webhook and queue its job in
  one transaction, answer;
- *baseline*: the same gunicorn line, two instances, serving a Flask app whose endpoint answers an
  empty 200: what the HTTP stack alone costs on this machine, measured in the same run.

Belvo wants an answer within 5 s; the ratio of the backend's p99 to the baseline's is the figure to watch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.deployment

from server.auth import mint_token
from server.config import Secret
from server.storage import normalise_url
from tests.deployment.stack import (
    APP_JWT_SECRET,
    WEBHOOK_AUTH,
    deployment,
    free_port,
    wait_until_up,
    web_command,
)
from tests.support import postgres_schema

INSTITUTION = "ofmockbank_br_retail"


def empty_app() -> Flask:
    """The baseline: the webhook route answering an empty 200, nothing else."""
    app = Flask("baseline")

    @app.post("/v1/webhooks/belvo")
    def receive() -> tuple[str, int]:
        return "", 200

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    return app


def linked_link(web: str, emulator: str) -> str:
    """One user's session completed with a verified link; its id."""
    headers = {
        "Authorization": f"Bearer {mint_token('bench-user', Secret(APP_JWT_SECRET), timedelta(hours=1))}"
    }
    body = {"identification_info": [{"type": "CPF", "number": "76109277673", "name": "Ralph Bragg"}]}
    session = requests.post(f"{web}/v1/widget-sessions", json=body, headers=headers, timeout=30).json()
    link = {"external_id": session["external_id"], "institution": INSTITUTION}
    link_id: str = requests.post(f"{emulator}/_control/links", json=link, timeout=30).json()["id"]
    success = f"{session['callback_urls']['success']}?link={link_id}&institution={INSTITUTION}"
    posted = requests.post(
        f"{web}/v1/widget-sessions/{session['id']}/events", json={"url": success}, headers=headers, timeout=30
    )
    assert posted.status_code == 200, posted.text
    return link_id


def deliveries(total: int, link_id: str) -> list[dict[str, Any]]:
    codes = [("TRANSACTIONS", "new_transactions_available"), ("ACCOUNTS", "historical_update")]
    unique = [
        {
            "webhook_id": uuid.uuid4().hex,
            "webhook_type": codes[n % 2][0],
            "webhook_code": codes[n % 2][1],
            "link_id": link_id,
            "data": {},
        }
        for n in range(total - total // 10)
    ]
    return unique + unique[: total - len(unique)]


def send(urls: list[str], payloads: list[dict[str, Any]], clients: int) -> tuple[list[float], float]:
    """Every payload once, round-robin over ``urls``; each delivery's latency and the total time."""
    local = threading.local()

    def deliver(index: int) -> float:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        response = session.post(
            f"{urls[index % len(urls)]}/v1/webhooks/belvo",
            json=payloads[index],
            headers={"Authorization": WEBHOOK_AUTH},
            timeout=30,
        )
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text
        return elapsed

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = list(pool.map(deliver, range(len(payloads))))
    return latencies, time.perf_counter() - started


def report(name: str, latencies: list[float], total: float) -> tuple[float, float]:
    ordered = sorted(latencies)
    rate = len(ordered) / total
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000
    print(f"{name:9} {rate:8.0f} deliveries/s   ack p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")
    return rate, p99


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url (or TEST_DATABASE_URL): a PostgreSQL server, as the deployment uses")

    with (
        tempfile.TemporaryDirectory() as logs,
        postgres_schema(args.database_url) as url,
        deployment(url, Path(logs)) as stack,
    ):
        baseline_urls = []
        for index in range(len(stack.web_ports)):
            port = free_port()
            stack.start(f"baseline-{index}", web_command("bench.webhooks:empty_app()"), PORT=str(port))
            baseline_urls.append(f"http://127.0.0.1:{port}")
            wait_until_up(f"{baseline_urls[-1]}/healthz", stack.processes[f"baseline-{index}"])
        payloads = deliveries(args.deliveries, linked_link(stack.web_urls[0], stack.emulator_url))

        backend_rate, backend_p99 = report("backend", *send(stack.web_urls, payloads, args.clients))
        baseline_rate, baseline_p99 = report("baseline", *send(baseline_urls, payloads, args.clients))

        engine = create_engine(normalise_url(url))
        started = time.perf_counter()
        with engine.connect() as connection:
            while connection.scalar(text("SELECT count(*) FROM webhook_events WHERE processed_at IS NULL")):
                time.sleep(0.2)
                connection.rollback()
        engine.dispose()
        print(f"every webhook applied by the worker {time.perf_counter() - started:.1f} s after the last ack")
    print(
        f"backend / baseline: {backend_rate / baseline_rate:.2f}x the deliveries/s, "
        f"{backend_p99 / baseline_p99:.1f}x the ack p99"
    )


if __name__ == "__main__":
    main()
