"""Pooled PostgreSQL connections the server dropped (a restart, a proxy's idle timeout): one that sat
idle is checked and replaced before use; one lost while in use fails that request with a 503 the app can
retry at once, and the next request succeeds. Nothing is half-written either way. A pool opens no more
server processes than its size: past it, a request waits for a connection."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from server import storage
from server.models import WidgetSession
from server.storage import database
from tests.conftest import bearer
from tests.server.conftest import session_body
from tests.support import assert_error

SESSIONS = "/v1/widget-sessions"


@pytest.fixture(autouse=True)
def _postgresql_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop a connection")


def drop_the_pools_newest_connection(app: Flask) -> None:
    """The server ends the connection the request path's pool hands out next (it takes the most recently
    used first)."""
    with database(app).autocommit.connect() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    url = database(app).autocommit.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def sessions_stored(app: Flask) -> int:
    with database(app).session() as db:
        return int(db.scalar(select(func.count()).select_from(WidgetSession)) or 0)


def create(client: FlaskClient, app: Flask) -> TestResponse:
    return client.post(SESSIONS, json=session_body(), headers=bearer(app, "alice"))


def test_a_connection_lost_in_use_answers_503_and_the_retry_succeeds(
    app_real: Flask, client_real: FlaskClient, minted: dict[str, str], belvo: responses.RequestsMock
) -> None:
    assert create(client_real, app_real).status_code == 201
    drop_the_pools_newest_connection(app_real)

    response = create(client_real, app_real)
    assert_error(response, 503, "database_unavailable")
    assert response.headers["Retry-After"] == "1"
    assert sessions_stored(app_real) == 1
    assert len(belvo.calls) == 1  # Belvo was not asked for a token the session could not keep

    assert create(client_real, app_real).status_code == 201
    assert sessions_stored(app_real) == 2


def test_a_connection_idle_too_long_is_checked_and_replaced_before_use(
    app_real: Flask,
    client_real: FlaskClient,
    minted: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert create(client_real, app_real).status_code == 201
    drop_the_pools_newest_connection(app_real)
    monkeypatch.setattr(storage, "PING_AFTER_IDLE", 0.0)  # every pooled connection counts as idle

    assert create(client_real, app_real).status_code == 201
    assert sessions_stored(app_real) == 2


def test_past_its_size_a_pool_waits_for_a_connection_instead_of_opening_one(app: Flask) -> None:
    # Each connection is a server process, which PostgreSQL's max_connections caps; a gevent worker may
    # have more requests at the database at once than DATABASE_POOL_SIZE.
    db = storage.Database.at(database(app).engine.url.render_as_string(hide_password=False), pool_size=2)

    def server_process() -> int:
        with db.engine.connect() as connection:
            pid: int = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            return pid

    held = [db.engine.connect() for _ in range(2)]
    try:
        pids = [connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() for connection in held]
        with ThreadPoolExecutor(1) as pool:
            third = pool.submit(server_process)
            with pytest.raises(TimeoutError):
                third.result(timeout=0.5)  # waiting: both connections are taken
            held.pop().close()  # back to the pool: the waiting request takes it, no new process
            assert third.result(timeout=30) == pids[1]
    finally:
        for connection in held:
            connection.close()
        db.dispose()
