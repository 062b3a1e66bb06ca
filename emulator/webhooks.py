"""Belvo's webhooks: payloads (facts file 4.2/4.3) and their delivery, with retries, off the request path.

Belvo posts JSON to the configured URL with the static ``Authorization`` value set in its dashboard (no
signature, facts file 4.1) and retries when it gets no 2xx. Deliveries here run on one background
thread, in order; ``drain()`` waits for the queue to empty so tests need no sleeps.

>>> payload = historical_update("6f1e...", "ext-1", "ACCOUNTS", {"total_accounts": 3}, "4363b08b-...")
>>> payload["webhook_code"], payload["process_type"], len(payload["webhook_id"])
('historical_update', 'historical_update', 32)
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import requests

from emulator.data import LinkData

Json = dict[str, Any]
log = logging.getLogger(__name__)
# Belvo asks receivers to answer within 5 seconds (facts file 4.1); a slower answer counts as a failure.
DELIVERY_TIMEOUT = (3.05, 5.0)


def webhook(
    link_id: str,
    external_id: str | None,
    webhook_type: str,
    webhook_code: str,
    data: Json,
    request_id: str,
    process_type: str,
) -> Json:
    """One webhook body in Belvo's shape; ``webhook_id`` is 32 hex, ``request_id`` a UUID (facts 6.1)."""
    return {
        "webhook_id": uuid.uuid4().hex,
        "webhook_type": webhook_type,
        "webhook_code": webhook_code,
        "process_type": process_type,
        "link_id": link_id,
        "request_id": request_id,
        "external_id": external_id,
        "data": data,
    }


def historical_update(
    link_id: str, external_id: str | None, resource: str, data: Json, request_id: str
) -> Json:
    return webhook(link_id, external_id, resource, "historical_update", data, request_id, "historical_update")


def _movements(items: tuple[Json, ...], inflow: Callable[[Json], bool]) -> Json:
    """Belvo's summary of a resource of dated movements (TRANSACTIONS, INVESTMENT_TRANSACTIONS)."""
    dates = sorted(t["value_date"] for t in items)
    inflows = sum(1 for t in items if inflow(t))
    return {
        "total_transactions": len(items),
        "total_inflow_transactions": inflows,
        "total_outflow_transactions": len(items) - inflows,
        "first_transaction_date": dates[0] if dates else None,
        "last_transaction_date": dates[-1] if dates else None,
    }


def historical_data(resource: str, data: LinkData) -> Json:
    """The ``data`` object of a resource's ``historical_update``, as Belvo documents each one
    (https://developers.belvo.com/docs/webhook-accounts, .../webhook-bills, .../investments-webhooks,
    .../investment-transactions-webhooks)."""
    match resource:
        case "OWNERS":
            return {"total_owners": len(data.owners)}
        case "ACCOUNTS":
            return {"total_accounts": len(data.accounts)}
        case "TRANSACTIONS":
            return _movements(data.transactions, lambda t: t["type"] == "INFLOW")
        case "BILLS":
            return {"total_bills": len(data.bills)}
        case "INVESTMENTS":
            return {"total_investments": len(data.investments)}
        case "INVESTMENT_TRANSACTIONS":
            return _movements(data.investment_transactions, lambda t: t["type"] == "ENTRADA")
        case _:
            return {f"total_{resource.lower()}": 0}


def new_data_available(link_id: str, external_id: str | None, resource: str, request_id: str) -> Json:
    """What a refresh that found nothing new sends for a resource: ``new_<resource>_available`` with a
    count of 0 (``{"new_accounts": 1}`` in Belvo's example, https://developers.belvo.com/docs/webhook-accounts):
    the sandbox's data never changes."""
    noun = resource.lower()
    return webhook(
        link_id, external_id, resource, f"new_{noun}_available", {f"new_{noun}": 0}, request_id,
        "recurrent_update",
    )  # fmt: skip


def link_deleted(link_id: str, external_id: str | None, request_id: str) -> Json:
    """The ``LINK`` webhook an asynchronous ``DELETE /api/links/{id}/`` ends with."""
    return webhook(link_id, external_id, "LINK", "link_deleted", {}, request_id, "recurrent_update")


@dataclass(frozen=True)
class Attempt:
    """One POST of one webhook: its HTTP status, or the error that stopped it."""

    webhook_id: str
    webhook_type: str
    webhook_code: str
    link_id: str
    attempt: int
    status_code: int | None
    error: str | None
    at: str

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def to_json(self) -> Json:
        return {**asdict(self), "delivered": self.delivered}


class WebhookDispatcher:
    """Posts webhooks to one URL: in the background (``enqueue``) or now (``deliver_now``)."""

    def __init__(
        self,
        url: str | None,
        authorization: str | None,
        session: requests.Session | None,
        retry_schedule: tuple[float, ...],
        duplicates: bool,
        now: Callable[[], datetime],
    ) -> None:
        self.url = url
        self._authorization = authorization
        self._session = session or requests.Session()
        self._schedule = retry_schedule
        self._duplicates = duplicates
        self._now = now
        self._queue: queue.Queue[Json] = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._attempts: list[Attempt] = []

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        with self._lock:
            return tuple(self._attempts)

    def enqueue(self, payload: Json) -> None:
        """Deliver ``payload`` in the background (twice with ``EMULATOR_WEBHOOK_DUPLICATES``)."""
        if self.url is None:
            return
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="emulator-webhooks", daemon=True)
                self._worker.start()
        for _ in range(2 if self._duplicates else 1):
            self._queue.put(payload)

    def deliver_now(self, payload: Json) -> tuple[Attempt, ...]:
        """Deliver ``payload`` on the calling thread, retries included; return every attempt."""
        return self._deliver(payload)

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery is finished; ``False`` if ``timeout`` ran out first."""
        # Queue.join() with a timeout, through the condition join() itself waits on.
        with self._queue.all_tasks_done:
            return self._queue.all_tasks_done.wait_for(lambda: not self._queue.unfinished_tasks, timeout)

    def close(self) -> None:
        """Stop the worker; deliveries still waiting for a retry are abandoned."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                payload = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                self._deliver(payload)
            finally:
                self._queue.task_done()

    def _deliver(self, payload: Json) -> tuple[Attempt, ...]:
        attempts: list[Attempt] = []
        for number, delay in enumerate((0.0, *self._schedule), start=1):
            if delay and self._stop.wait(delay):
                break
            attempt = self._post(payload, number)
            attempts.append(attempt)
            with self._lock:
                self._attempts.append(attempt)
            if attempt.delivered:
                break
        return tuple(attempts)

    def _post(self, payload: Json, number: int) -> Attempt:
        headers = {"Content-Type": "application/json"}
        if self._authorization is not None:
            headers["Authorization"] = self._authorization
        status: int | None = None
        error: str | None = None
        try:
            response = self._session.post(
                str(self.url), json=payload, headers=headers, timeout=DELIVERY_TIMEOUT
            )
            status = response.status_code
        except requests.RequestException as exc:
            error = type(exc).__name__
        # Ids and outcome only: payloads carry external ids and the Authorization value is a secret.
        log.info(
            "webhook %s %s/%s link=%s attempt=%d status=%s error=%s",
            payload["webhook_id"], payload["webhook_type"], payload["webhook_code"],
            payload["link_id"], number, status, error,
        )  # fmt: skip
        return Attempt(
            webhook_id=payload["webhook_id"],
            webhook_type=payload["webhook_type"],
            webhook_code=payload["webhook_code"],
            link_id=payload["link_id"],
            attempt=number,
            status_code=status,
            error=error,
            at=self._now().isoformat(),
        )
