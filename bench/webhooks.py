"""Benchmark: how fast ``POST /v1/webhooks/belvo`` acknowledges Belvo, against applying each webhook before
answering, on the same deliveries, with Belvo (the emulator) made slow.

    .venv/bin/python bench/webhooks.py [--deliveries 400] [--belvo-delay-ms 200] [--database-url URL]

The backend runs in emulator mode in this process (Flask test clients, no sockets). One user holds a
verified link; the deliveries are ``new_transactions_available`` for that link, 20% orphan webhooks for
links the user never reported (their recovery asks Belvo for the link, which answers after
``--belvo-delay-ms``) and 10% duplicates, sent by 4 threads.

- *ours*: store, acknowledge, apply in the background (what the endpoint does);
- *baseline*: the same endpoint, but each sender waits until the webhook is applied before sending the
  next, i.e. what answering only after applying would cost Belvo per delivery.

Belvo wants an answer within 5 s (docs/belvo.md §4.1); the figure to watch is the p99 acknowledgement time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from server import create_app
from server.auth import mint_token
from server.services.webhooks import webhook_worker
from server.settings import settings

AUTH = "Bearer bench-webhook-secret"
THREADS = 4
IDENTIFICATION = [{"type": "CPF", "number": "76109277673", "name": "Ralph Bragg"}]


def prepare(app: Flask, orphans: int) -> tuple[str, str, list[str]]:
    """A user with one verified link, and ``orphans`` more links of theirs only Belvo knows about."""
    client = app.test_client()
    token = mint_token("bench-user", settings(app).app_jwt_secret, timedelta(hours=1))
    headers = {"Authorization": f"Bearer {token}"}
    session = client.post(
        "/v1/widget-sessions", json={"identification_info": IDENTIFICATION}, headers=headers
    )
    session_json = session.get_json()
    external_id = session_json["external_id"]

    def belvo_link() -> str:
        body = {"external_id": external_id, "institution": "ofmockbank_br_retail"}
        link_id: str = client.post("/sandbox/_control/links", json=body).get_json()["id"]
        return link_id

    link_id = belvo_link()
    url = f"{session_json['callback_urls']['success']}?link={link_id}&institution=ofmockbank_br_retail"
    posted = client.post(
        f"/v1/widget-sessions/{session_json['id']}/events", json={"url": url}, headers=headers
    )
    assert posted.status_code == 200, posted.get_json()
    return external_id, link_id, [belvo_link() for _ in range(orphans)]


def deliveries(total: int, external_id: str, link_id: str, orphans: list[str]) -> list[dict[str, Any]]:
    unique = total - total // 10
    payloads = []
    for n in range(unique):
        orphan = n % 5 == 0 and n // 5 < len(orphans)
        payloads.append(
            {
                "webhook_id": uuid.uuid4().hex,
                "webhook_type": "TRANSACTIONS",
                "webhook_code": "historical_update" if orphan else "new_transactions_available",
                "link_id": orphans[n // 5] if orphan else link_id,
                "external_id": external_id,
                "data": {},
            }
        )
    return payloads + payloads[: total - unique]


def run(app: Flask, payloads: list[dict[str, Any]], wait_applied: bool) -> tuple[list[float], float]:
    """Send ``payloads`` from ``THREADS`` threads; return each delivery's latency and the total time until
    every webhook is applied."""
    worker = webhook_worker(app)

    def send(chunk: list[dict[str, Any]]) -> list[float]:
        client = app.test_client()
        latencies = []
        for payload in chunk:
            started = time.perf_counter()
            response = client.post("/v1/webhooks/belvo", json=payload, headers={"Authorization": AUTH})
            assert response.status_code == 200, response.get_json()
            if wait_applied:
                worker.drain()
            latencies.append(time.perf_counter() - started)
        return latencies

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        chunks = pool.map(send, [payloads[i::THREADS] for i in range(THREADS)])
        latencies = [value for chunk in chunks for value in chunk]
    worker.drain()
    return latencies, time.perf_counter() - started


def fresh_app(database_url: str | None, directory: Path, name: str, belvo_delay_ms: int) -> Flask:
    app = create_app(
        {
            "DATABASE_URL": database_url or f"sqlite:///{directory / name}.sqlite3",
            "AUTO_MIGRATE": True,
            "BELVO_WEBHOOK_AUTH": AUTH,
            "LOG_LEVEL": "WARNING",
        }
    )
    if belvo_delay_ms > 0:
        fault = {"match": "/api/links/", "status": None, "delay_ms": belvo_delay_ms, "times": -1}
        assert app.test_client().post("/sandbox/_control/faults", json=fault).status_code == 201
    return app


def report(name: str, latencies: list[float], total: float) -> float:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    print(
        f"{name:9} {len(ordered) / total:8.0f} deliveries/s   ack p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   "
        f"all applied after {total:5.2f} s"
    )
    return p99


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=400)
    parser.add_argument("--belvo-delay-ms", type=int, default=200)
    parser.add_argument("--database-url", help="default: a fresh SQLite file per run")
    args = parser.parse_args(argv)

    results: dict[str, float] = {}
    scenarios: list[tuple[str, bool]] = [("ours", False), ("baseline", True)]
    with tempfile.TemporaryDirectory() as directory:
        for name, wait_applied in scenarios:
            if args.database_url and name == "baseline":
                print("(--database-url: the baseline runs on the same database after the first run)")
            app = fresh_app(args.database_url, Path(directory), name, args.belvo_delay_ms)
            orphans = args.deliveries // 5
            external_id, link_id, orphan_ids = prepare(app, orphans)
            payloads = deliveries(args.deliveries, external_id, link_id, orphan_ids)
            results[name] = report(name, *run(app, payloads, wait_applied))
    ratio: Callable[[str], float] = lambda key: results["baseline"] / max(results[key], 1e-9)  # noqa: E731
    print(f"ack p99: baseline / ours = {ratio('ours'):.1f}x")


if __name__ == "__main__":
    main()
