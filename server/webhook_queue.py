"""Applying stored webhooks, and reconciling users' links with Belvo, off the request path: one interface,
a real and an in-process implementation.

The endpoint stores a delivery and queues applying it in the same transaction (so nothing is acknowledged
that is not queued), then answers Belvo. Whichever queue runs it:

- failed attempts are retried with backoff (:data:`BACKOFF`: 1, 2, 4 ... 128 s), so a transient 503 from
  Belvo while a link is recovered from its webhooks heals by itself;
- a periodic sweep (every 10 s) queues again every webhook still ``received`` :data:`SWEEP_AGE` after it
  was stored that nothing is waiting to run: the job of a worker killed mid-way, or one whose retries ran
  out. ``ofda webhooks retry`` runs the same sweep by hand;
- applying is exactly once per ``webhook_id`` (:func:`server.services.webhooks.process` claims the row),
  so a job that runs twice changes nothing the second time;
- reconciling a user's links (:mod:`server.services.reconcile`) is queued by ``GET /v1/links`` when the
  user's last one is a few minutes old (``RECONCILE_AFTER_SECONDS``), and by a sweep every minute for
  every user whose last one is older than ``RECONCILE_EVERY_SECONDS``; it is retried with the same
  backoff, and running it twice changes nothing the second time.

:class:`ProcrastinateQueue` (PostgreSQL, every multi-instance deployment) uses procrastinate, a task queue
on the PostgreSQL the deployment already has: the job row is inserted on the request's own connection,
and ``ofda worker`` (the Procfile's ``worker:`` process) runs the jobs and the sweeps.
:class:`InProcessQueue` (SQLite, the embedded default of ``scripts/run``) runs them on threads of the
server itself, so a laptop has nothing more to install or start.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import procrastinate
from flask import Flask, current_app
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from server.clock import now as clock_now
from server.models import WebhookStatus
from server.services import reconcile
from server.services.webhooks import apply_stored, received_ids
from server.settings import settings
from server.storage import database

log = logging.getLogger(__name__)

#: How long a webhook may stay ``received`` before the sweep queues it again: longer than a job waits
#: behind a busy queue, short enough that a killed worker's jobs are applied within the minute.
SWEEP_AGE: Final = timedelta(seconds=30)
SWEEP_EVERY_SECONDS: Final = 10
#: A worker that has not written its heartbeat for this long is dead: its running jobs are retried.
STALLED_AFTER_SECONDS: Final = 10.0
HEARTBEAT_SECONDS: Final = 2.0

APPLY_TASK: Final = "ofda.apply_webhook"
SWEEP_TASK: Final = "ofda.sweep_webhooks"
RECONCILE_TASK: Final = "ofda.reconcile_links"
RECONCILE_SWEEP_TASK: Final = "ofda.sweep_reconciles"
#: How often the reconcile sweep looks for users due, and how many it queues at most each time (the
#: longest waiting first), so that the first sweep of a large deployment does not flood Belvo.
RECONCILE_SWEEP_EVERY_SECONDS: Final = 60
RECONCILE_SWEEP_BATCH: Final = 500


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: ``first`` seconds before the first retry, doubling, ``retries`` at most.

    >>> [Backoff(first=1, retries=3).wait(n) for n in range(4)]
    [1.0, 2.0, 4.0, None]
    """

    first: float
    retries: int

    def wait(self, retries_done: int) -> float | None:
        """Seconds before the next attempt, after ``retries_done`` retries failed too; None: give up
        (the sweep still finds the webhook ``received``)."""
        return None if retries_done >= self.retries else float(self.first * 2**retries_done)


BACKOFF: Final = Backoff(first=1.0, retries=8)


class _ProcrastinateBackoff(BaseRetryStrategy):
    """:class:`Backoff` as procrastinate's retry strategy (``job.attempts``: the retries made so far)."""

    def __init__(self, backoff: Backoff) -> None:
        self._backoff = backoff

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        seconds = self._backoff.wait(job.attempts)
        return None if seconds is None else RetryDecision(retry_in={"seconds": int(seconds)})


class WebhookQueue(ABC):
    """Where stored webhooks wait to be applied, and users' links to be reconciled with Belvo."""

    def __init__(self, app: Flask) -> None:
        self._app = app

    @abstractmethod
    def enqueue(self, db: Session, webhook_id: str) -> None:
        """Queue applying ``webhook_id`` as part of ``db``'s transaction: it is queued when that commits."""

    @abstractmethod
    def enqueue_reconcile(self, db: Session, user_id: str) -> None:
        """Queue reconciling ``user_id``'s links as part of ``db``'s transaction."""

    def sweep_reconciles(self) -> int:
        """Queue reconciling the links of the users due (``RECONCILE_EVERY_SECONDS``); how many."""
        every = settings(self._app).reconcile_every
        with self._app.app_context(), database(self._app).sessionmaker() as db:
            queued = reconcile.queue_due(
                db, clock_now(), every, self.enqueue_reconcile, RECONCILE_SWEEP_BATCH
            )
        if queued:
            log.info("users' links queued for reconciling", extra={"count": queued})
        return queued

    @abstractmethod
    def sweep(self, min_age: timedelta) -> int:
        """Queue again every webhook ``received`` for at least ``min_age`` that no job is waiting to
        apply; return how many were queued."""

    @abstractmethod
    def drain(self) -> None:
        """Apply, before returning, everything queued so far, retries included (tests, ``ofda webhooks
        retry``); on PostgreSQL this process runs the jobs, as the worker would."""


# -- PostgreSQL: procrastinate -------------------------------------------------------------------------

#: Webhooks the sweep queues again: still received, old enough, and no job of theirs waiting (``todo``,
#: retries included) or running on a live worker (a dead worker's job is retried as stalled first).
_SWEEPABLE = text(
    """
    SELECT w.webhook_id FROM webhook_events AS w
    WHERE w.status = :received AND w.received_at <= :cutoff
      AND NOT EXISTS (
        SELECT 1 FROM procrastinate_jobs AS j
        WHERE j.queueing_lock = w.webhook_id AND j.status IN ('todo', 'doing')
      )
    ORDER BY w.received_at
    """
)


class ProcrastinateQueue(WebhookQueue):
    """Jobs in procrastinate's tables, run by ``ofda worker``; one procrastinate app per Flask app, whose
    tasks call back into that Flask app."""

    def __init__(self, app: Flask, conninfo: str, backoff: Backoff = BACKOFF) -> None:
        super().__init__(app)
        self.tasks = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))

        @self.tasks.task(name=APPLY_TASK, retry=_ProcrastinateBackoff(backoff))
        def apply_webhook(webhook_id: str) -> None:
            apply_stored(app, webhook_id)

        @self.tasks.periodic(cron=f"* * * * * */{SWEEP_EVERY_SECONDS}", periodic_id="sweep")
        # Ahead of every webhook job: the sweep must not wait behind the backlog it is there to rescue.
        @self.tasks.task(name=SWEEP_TASK, queueing_lock=SWEEP_TASK, pass_context=True, priority=100)
        async def sweep_webhooks(context: procrastinate.JobContext, timestamp: int) -> None:
            manager = self.tasks.job_manager
            for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS):
                if job.task_name in (APPLY_TASK, RECONCILE_TASK):
                    log.warning("retrying a job its dead worker left running", extra={"job": job.id})
                    await manager.retry_job(job)
            await asyncio.to_thread(self.sweep, SWEEP_AGE)

        @self.tasks.task(name=RECONCILE_TASK, retry=_ProcrastinateBackoff(backoff))
        def reconcile_links(user_id: str) -> None:
            reconcile.reconcile_stored(app, user_id)

        # Every minute: RECONCILE_SWEEP_EVERY_SECONDS in cron's terms.
        @self.tasks.periodic(cron="* * * * *", periodic_id="reconcile")
        @self.tasks.task(name=RECONCILE_SWEEP_TASK, queueing_lock=RECONCILE_SWEEP_TASK, priority=100)
        async def sweep_reconciles(timestamp: int) -> None:
            await asyncio.to_thread(self.sweep_reconciles)

        self._apply = apply_webhook
        self._reconcile = reconcile_links

    def enqueue(self, db: Session, webhook_id: str) -> None:
        # The request's own psycopg connection: the job row commits (or not) with the webhook's row.
        connection = db.connection().connection.driver_connection
        self._apply.configure(queueing_lock=webhook_id, connection=connection).defer(webhook_id=webhook_id)

    def enqueue_reconcile(self, db: Session, user_id: str) -> None:
        try:
            # A savepoint (emitted when the connection is asked for inside it): the lock's refusal must
            # not abort the caller's transaction.
            with db.begin_nested():
                connection = db.connection().connection.driver_connection
                self._reconcile.configure(queueing_lock=f"reconcile:{user_id}", connection=connection).defer(
                    user_id=user_id
                )
        except AlreadyEnqueued:
            pass  # one job of the user's is waiting already: it will read Belvo after this one would

    def sweep(self, min_age: timedelta) -> int:
        with self._app.app_context(), database(self._app).sessionmaker() as db:
            cutoff = clock_now() - min_age
            ids = list(db.scalars(_SWEEPABLE, {"received": WebhookStatus.RECEIVED.value, "cutoff": cutoff}))
            queued = 0
            for webhook_id in ids:
                try:
                    with db.begin_nested():
                        self.enqueue(db, webhook_id)
                    queued += 1
                except AlreadyEnqueued:
                    pass  # queued meanwhile (a stalled job retried): one waiting job is enough
            db.commit()
        if queued:
            log.warning("webhooks left received were queued again", extra={"count": queued})
        return queued

    def run_worker(self, concurrency: int) -> None:
        """Run jobs until stopped (SIGINT/SIGTERM: running jobs finish first)."""
        self.tasks.run_worker(
            concurrency=concurrency,
            # A done job's row has nothing left to tell: the webhook's row keeps its outcome.
            delete_jobs="successful",
            update_heartbeat_interval=HEARTBEAT_SECONDS,
            stalled_worker_timeout=STALLED_AFTER_SECONDS,
        )

    def drain(self) -> None:
        while True:
            # On a thread of its own: the caller may be inside an event loop (Playwright's, in tests),
            # where procrastinate could not start its own.
            worker = threading.Thread(
                target=self.tasks.run_worker,
                kwargs={
                    "wait": False,
                    "concurrency": 4,
                    "install_signal_handlers": False,
                    "listen_notify": False,
                    "delete_jobs": "successful",
                },
                name="webhooks-drain",
            )
            worker.start()
            worker.join()
            due = self._next_retry()
            if due is None:
                return
            threading.Event().wait(max(0.0, (due - datetime.now(due.tzinfo)).total_seconds()))

    def _next_retry(self) -> datetime | None:
        """When the earliest job still waiting is due (a retry scheduled later), or None."""
        with database(self._app).engine.connect() as connection:
            due: datetime | None = connection.scalar(
                text(
                    "SELECT min(coalesce(scheduled_at, now())) FROM procrastinate_jobs"
                    " WHERE status = 'todo' AND task_name IN (:apply, :reconcile)"
                ),
                {"apply": APPLY_TASK, "reconcile": RECONCILE_TASK},
            )
        return due


# -- SQLite: threads of the server process ---------------------------------------------------------------

#: One pool for the process: an app per process in production, but many apps in a test run, which must
#: not each keep threads alive. Threads start on the first webhook (so also after a pre-fork import).
_POOL: Final = ThreadPoolExecutor(max_workers=2, thread_name_prefix="webhooks")


#: What each task of :class:`InProcessQueue` runs, by the task's name (procrastinate's are registered as
#: tasks of its app instead).
_RUNNERS: Final[dict[str, Callable[[Flask, str], object]]] = {
    APPLY_TASK: apply_stored,
    RECONCILE_TASK: reconcile.reconcile_stored,
}


@dataclass(frozen=True)
class _Job:
    """One queued job of :class:`InProcessQueue`: a task's name and its one argument."""

    task: str
    key: str


class InProcessQueue(WebhookQueue):
    """Runs jobs on a small thread pool of this process, retries on timers. What is queued lives in
    memory: after a restart, the sweep (``ofda run`` starts it) finds what was left ``received``."""

    def __init__(self, app: Flask, backoff: Backoff = BACKOFF) -> None:
        super().__init__(app)
        self._backoff = backoff
        self._lock = threading.Lock()
        self._pending: set[Future[None]] = set()
        self._timers: set[threading.Timer] = set()
        #: Webhooks with an attempt running or waiting (a retry's timer): the sweep leaves them alone.
        self._queued: set[str] = set()

    def enqueue(self, db: Session, webhook_id: str) -> None:
        self._after_commit(db, _Job(APPLY_TASK, webhook_id))

    def enqueue_reconcile(self, db: Session, user_id: str) -> None:
        self._after_commit(db, _Job(RECONCILE_TASK, user_id))

    def _after_commit(self, db: Session, job: _Job) -> None:
        def submit(_session: Session) -> None:
            self._submit(job, 0)

        event.listen(db, "after_commit", submit, once=True)

    def sweep(self, min_age: timedelta) -> int:
        with self._app.app_context(), database(self._app).sessionmaker() as db:
            ids = received_ids(db, clock_now() - min_age)
        with self._lock:
            ids = [webhook_id for webhook_id in ids if webhook_id not in self._queued]
        for webhook_id in ids:
            self._submit(_Job(APPLY_TASK, webhook_id), 0)
        return len(ids)

    def sweep_periodically(self) -> None:
        """Sweep webhooks now and every :data:`SWEEP_EVERY_SECONDS`, and users' links due for a
        reconcile every :data:`RECONCILE_SWEEP_EVERY_SECONDS`, on daemon threads (the embedded server)."""
        _every(SWEEP_EVERY_SECONDS, lambda: self.sweep(SWEEP_AGE), "webhooks-sweep")
        _every(RECONCILE_SWEEP_EVERY_SECONDS, self.sweep_reconciles, "reconcile-sweep")

    def drain(self) -> None:
        while True:
            with self._lock:
                pending, timers = set(self._pending), set(self._timers)
            if not pending and not timers:
                return
            wait(pending)
            for timer in timers:
                timer.join()

    def _submit(self, job: _Job, retries_done: int) -> None:
        with self._lock:
            if job.task == APPLY_TASK:
                self._queued.add(job.key)
        future = _POOL.submit(self._run, job, retries_done)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _run(self, job: _Job, retries_done: int) -> None:
        retry_in = None
        try:
            _RUNNERS[job.task](self._app, job.key)
        except LookupError:
            log.error("a queued webhook is not stored", extra={"webhook_id": job.key})
        except Exception:
            retry_in = self._backoff.wait(retries_done)
            log.exception("a queued job failed", extra={"task": job.task, "retry_in": retry_in})
            if retry_in is not None:
                self._retry_later(job, retries_done + 1, retry_in)
        if retry_in is None:
            # Done, or out of retries: nothing waits for it now, so the sweep may queue it again.
            with self._lock:
                self._queued.discard(job.key)

    def _retry_later(self, job: _Job, retries_done: int, seconds: float) -> None:
        def fire() -> None:
            self._submit(job, retries_done)
            with self._lock:
                self._timers.discard(timer)

        timer = threading.Timer(seconds, fire)
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()


def _every(seconds: int, work: Callable[[], object], name: str) -> None:
    """Run ``work`` now and every ``seconds`` on a daemon thread, logging what fails."""

    def loop() -> None:
        stop = threading.Event()
        while True:
            try:
                work()
            except Exception:
                log.exception("a periodic sweep failed", extra={"sweep": name})
            stop.wait(seconds)

    threading.Thread(target=loop, name=name, daemon=True).start()


# -- the app's queue -----------------------------------------------------------------------------------

_EXTENSION: Final = "ofda.webhook_queue"


def init_app(app: Flask) -> None:
    """PostgreSQL: procrastinate (a worker process runs the jobs); SQLite: this process's threads."""
    url = database(app).engine.url
    queue: WebhookQueue
    if url.get_backend_name() == "postgresql":
        queue = ProcrastinateQueue(app, url.set(drivername="postgresql").render_as_string(False))
    else:
        queue = InProcessQueue(app)
    app.extensions[_EXTENSION] = queue


def webhook_queue(app: Flask | None = None) -> WebhookQueue:
    queue: WebhookQueue = (app or current_app).extensions[_EXTENSION]
    return queue
