"""The backend under gunicorn, started as the Procfile's ``web`` line starts it, with gunicorn's debug and
access logs on, on SQLite and on PostgreSQL: no CPF, name or token reaches any line, and what gunicorn
answers itself (414, 431, a malformed request) and what the app answers through it (a chunked 413) keep
the contract's error shape; with two workers, a burst of keep-alive clients is spread over both, and a
reload sends no connection to a worker that is stopping; requests waiting on the database (a PostgreSQL
lock, SQLite's write lock) do not hold up the worker's others.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import psycopg
import pytest
import requests
from gunicorn.config import Config

from server.gunicorn_conf import PrivateLogger, on_starting
from server.observability import ROUTE_ENVIRON_KEY
from tests.conftest import DATABASES
from tests.server.conftest import CPF, NAME
from tests.support import postgres_schema

ROOT = Path(__file__).resolve().parents[2]
FORMATTED_CPF = f"{CPF[:3]}.{CPF[3:6]}.{CPF[6:9]}-{CPF[9:]}"
WRONG_CPF = CPF[:-1] + str((int(CPF[-1]) + 1) % 10)  # its check digit does not match


@dataclass
class Gunicorn:
    url: str
    output: Path

    def lines(self) -> list[str]:
        return self.output.read_text(encoding="utf-8").splitlines()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def web_command() -> str:
    """The Procfile's ``web`` line, with gunicorn's debug log and access log to stdout."""
    [line] = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")]
    return f"exec {line.removeprefix('web:').strip()} --log-level debug --access-logfile -"


@contextmanager
def database(tmp: Path, kind: str) -> Iterator[str]:
    """A new database of ``kind`` (``sqlite``, ``postgresql``) for a web process, until the block ends."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'db.sqlite3'}"
        return
    with postgres_schema(os.environ["TEST_DATABASE_URL"]) as url:
        yield url


@contextmanager
def web_process(
    tmp: Path, workers: int, database_url: str | None = None
) -> Iterator[tuple[Gunicorn, subprocess.Popen[bytes]]]:
    """The web process in emulator mode (widget URLs carrying Belvo's access token), on ``database_url``
    (a new SQLite file unless given; migrated first, as the Procfile's ``release`` does), and its
    master's process, until the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp),
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "DATABASE_URL": database_url or f"sqlite:///{tmp / 'db.sqlite3'}",
        "PUBLIC_BASE_URL": url,
        "LOG_LEVEL": "DEBUG",
    }
    subprocess.run(["ofda", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    output = tmp / "output.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            ["/bin/sh", "-c", web_command()], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/readyz", timeout=10).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert process.poll() is None, output.read_text()
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.2)
        yield Gunicorn(url, output), process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module", params=DATABASES)
def gunicorn(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    tmp = tmp_path_factory.mktemp("gunicorn")
    with database(tmp, request.param) as url, web_process(tmp, 1, url) as (server, _master):
        yield server


def bearer(gunicorn: Gunicorn, user_id: str) -> dict[str, str]:
    """A token minted by `ofda token` against the same settings (emulator mode's development secret)."""
    token = subprocess.run(
        [str(Path(sys.executable).parent / "ofda"), "token", user_id],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DATABASE_URL": "sqlite://"},
    ).stdout.strip()
    return {"Authorization": f"Bearer {token}"}


def connect(url: str) -> socket.socket:
    address = urlsplit(url)
    return socket.create_connection((address.hostname, address.port), timeout=10)


def raw_exchange(gunicorn: Gunicorn, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as bytes; the status, headers and body of the answer."""
    with connect(gunicorn.url) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            match = re.search(rb"(?i)content-length: (\d+)", head)
            if match and len(body) >= int(match.group(1)):
                break
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, value in (h.split(": ", 1) for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def assert_error_shape(status: int, headers: dict[str, str], raw: bytes, expected: int, code: str) -> None:
    assert status == expected, raw
    assert headers["content-type"] == "application/json", raw
    body = json.loads(raw)
    assert set(body) == {"errors", "request_id"}
    assert body["errors"][0]["code"] == code
    assert headers["x-request-id"] == body["request_id"]


def settle(gunicorn: Gunicorn, needle: str) -> None:
    """Wait (a while at most) for a line with ``needle``: access lines are written after the answer."""
    deadline = time.monotonic() + 10
    while not any(needle in line for line in gunicorn.lines()) and time.monotonic() < deadline:
        time.sleep(0.1)


def test_no_cpf_name_or_token_reaches_any_log_line(gunicorn: Gunicorn) -> None:
    auth = bearer(gunicorn, "ana")
    created = requests.post(
        f"{gunicorn.url}/v1/widget-sessions",
        json={"identification_info": [{"type": "CPF", "number": FORMATTED_CPF, "name": NAME}]},
        headers=auth,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    widget_url = created.json()["widget_url"]
    access_token = widget_url.split("access_token=", 1)[1].split("&", 1)[0]
    assert access_token
    # The widget URL, with the token in its query string, also as the referrer of a request.
    requests.get(widget_url, headers={"Referer": widget_url}, allow_redirects=False, timeout=10)
    # A CPF and a name in paths and query strings, on routes that exist and on routes that do not.
    query = {"cpf": FORMATTED_CPF, "name": NAME, "access_token": access_token}
    requests.get(f"{gunicorn.url}/v1/links/{CPF}", params=query, headers=auth, timeout=10)
    requests.get(f"{gunicorn.url}/v1/widget-sessions/{NAME}", params=query, headers=auth, timeout=10)
    requests.get(f"{gunicorn.url}/nothing/{NAME}/{CPF}", params=query, timeout=10)
    # ...and in bodies the app refuses.
    requests.post(f"{gunicorn.url}/v1/deeplinks/parse", json={"url": f"x://{NAME}/{CPF}"}, timeout=10)
    refused = {"identification_info": [{"type": "CPF", "number": WRONG_CPF, "name": NAME}]}
    requests.post(f"{gunicorn.url}/v1/widget-sessions", json=refused, headers=auth, timeout=10)
    owner = {"webhook_type": "OWNERS", "data": {"display_name": NAME, "document_id": FORMATTED_CPF}}
    requests.post(f"{gunicorn.url}/v1/webhooks/belvo", json=owner, timeout=10)
    # Requests gunicorn refuses before the app sees them: a request line that is not HTTP, one too long,
    # a header too large.
    target = f"/x?name={NAME}&cpf={CPF}&access_token={access_token}".encode()
    raw_exchange(gunicorn, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    raw_exchange(gunicorn, b"GET " + target * 200 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    raw_exchange(gunicorn, b"GET / HTTP/1.1\r\nHost: x\r\nX-Note: " + target * 200 + b"\r\n\r\n")
    settle(gunicorn, "GET <unmatched> 404")

    lines = gunicorn.lines()
    leaks = [CPF, FORMATTED_CPF, WRONG_CPF, *NAME.split(), access_token, "eyJ", "access_token="]
    for line in lines:
        for leak in leaks:
            assert leak not in line, line
    # The logs were on: every request is in the access log by its route, and gunicorn's debug lines too.
    messages = [json.loads(line)["message"] for line in lines if line.startswith("{")]
    assert any(m.startswith("POST /v1/widget-sessions 201 ") for m in messages)
    assert any(m.startswith("GET /sandbox/widget/ ") for m in messages)
    assert any(m.startswith("GET /v1/links/<link_id> 404 ") for m in messages)
    assert any(m.startswith("GET /v1/widget-sessions/<session_id> 404 ") for m in messages)
    assert any("request refused by the server: 414" in m for m in messages)
    assert any(json.loads(line)["level"] == "debug" for line in lines if line.startswith('{"ts"'))


def test_the_start_up_log_says_once_where_the_server_listens(gunicorn: Gunicorn) -> None:
    # With a socket per worker (Linux) the master holds none: gunicorn's own line would have no address.
    said = [json.loads(line)["message"] for line in gunicorn.lines() if '"Listening at' in line]
    assert len(said) == 1, said
    assert f"0.0.0.0:{urlsplit(gunicorn.url).port} " in said[0]


def test_gunicorn_refusals_are_in_the_error_shape(gunicorn: Gunicorn) -> None:
    too_long = b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert_error_shape(*raw_exchange(gunicorn, too_long), 414, "uri_too_long")

    big_header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n"
    assert_error_shape(*raw_exchange(gunicorn, big_header), 431, "header_fields_too_large")

    many_headers = b"".join(b"X-%d: 1\r\n" % i for i in range(150))
    too_many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many_headers + b"\r\n"
    assert_error_shape(*raw_exchange(gunicorn, too_many), 431, "header_fields_too_large")

    not_http = b"GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n"
    assert_error_shape(*raw_exchange(gunicorn, not_http), 400, "invalid_request")


def test_a_chunked_body_over_the_limit_is_413(gunicorn: Gunicorn) -> None:
    auth = bearer(gunicorn, "ana")["Authorization"].encode()
    body = b'{"identification_info": [], "padding": "' + b"x" * 70_000 + b'"}'
    request = (
        b"POST /v1/widget-sessions HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth + b"\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % len(body)
        + body
        + b"\r\n0\r\n\r\n"
    )
    assert_error_shape(*raw_exchange(gunicorn, request), 413, "payload_too_large")


def test_405_carries_allow(gunicorn: Gunicorn) -> None:
    response = requests.delete(f"{gunicorn.url}/healthz", timeout=10)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_any_access_log_format_an_operator_picks_stays_private(tmp_path: Path) -> None:
    access_log = tmp_path / "access.log"
    config = Config()
    config.set("accesslog", str(access_log))
    # Every atom gunicorn documents that could carry what a client sent.
    config.set(
        "access_log_format",
        '%(h)s %(u)s "%(r)s" %(U)s?%(q)s "%(f)s" "%(a)s" %({authorization}i)s %({query_string}e)s',
    )
    logger = PrivateLogger(config)
    query = f"cpf={CPF}&name={NAME}&access_token=eyJhbGciOiJIUzI1NiJ9.e30.sig"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/v1/links/{CPF}?{query}",
        "PATH_INFO": f"/v1/links/{CPF}",
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_REFERER": f"https://app.example/{NAME}?{query}",
        "HTTP_USER_AGENT": f"{NAME}'s phone",
        "HTTP_AUTHORIZATION": "Basic " + "cmFscGg6YnJhZ2c=",
        ROUTE_ENVIRON_KEY: "/v1/links/<link_id>",
    }
    request = SimpleNamespace(headers=[("AUTHORIZATION", environ["HTTP_AUTHORIZATION"])])
    response = SimpleNamespace(status="404 NOT FOUND", headers=[("X-Request-Id", "abc")], sent=120)
    try:
        logger.access(response, request, environ, timedelta(milliseconds=3))
    finally:
        for log in (logger.access_log, logger.error_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
                handler.close()

    [line] = access_log.read_text().splitlines()
    assert (
        json.loads(line)["message"]
        == '- - "GET /v1/links/<link_id> HTTP/1.1" /v1/links/<link_id>?- "-" "-" - -'
    )
    for leak in (CPF, *NAME.split(), "eyJ", "203.0.113.7", "cmFscGg6YnJhZ2c=", "ralph"):
        assert leak not in line


def workers_of(master: int) -> list[int]:
    """The pids of the processes ``master`` started."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[1]) == master:
            found.append(int(stat.parent.name))
    return found


def sockets_held(pids: list[int], port: int, state: str = "01") -> Counter[int]:
    """How many TCP sockets on ``port`` in ``state`` each of ``pids`` holds, shared ones counted for each
    (Linux's /proc; ``01``: established connections, ``0A``: listening)."""
    owners: dict[str, list[int]] = {}
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue  # the process ended meanwhile
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                owners.setdefault(target.removeprefix("socket:[").removesuffix("]"), []).append(pid)
    held: Counter[int] = Counter()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, inode = int(fields[1].rpartition(":")[2], 16), fields[9]
        if local_port == port and fields[3] == state:
            held.update(owners.get(inode, []))
    return held


def listening_sockets(port: int) -> int:
    """How many TCP sockets listen on ``port`` (Linux's /proc)."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return sum(1 for row in rows if int(row[1].rpartition(":")[2], 16) == port and row[3] == "0A")


def running_workers(master: int, port: int, count: int) -> list[int]:
    """The ``count`` workers of ``master``, once each listens on ``port`` (on a socket of its own or on
    the master's)."""
    deadline = time.monotonic() + 30
    while True:
        workers = workers_of(master)
        listening = sockets_held(workers, port, "0A")
        if len(workers) == count and len(listening) == count:
            return workers
        assert time.monotonic() < deadline, f"workers {workers}, listening {listening}"
        time.sleep(0.1)


def kept_alive(url: str, count: int) -> list[socket.socket]:
    """``count`` keep-alive connections opened together, each having had one answer."""
    connections = [connect(url) for _ in range(count)]
    for connection in connections:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    for connection in connections:
        assert connection.recv(65536).startswith(b"HTTP/1.1 200"), "no answer on a new connection"
    return connections


@pytest.mark.parametrize(
    ("bind", "environ", "own_socket"),
    [
        (["0.0.0.0:8000"], {}, True),
        (["127.0.0.1:8000", "[::1]:8000"], {}, True),
        (["unix:/run/web.sock"], {}, False),
        (["fd://3"], {}, False),
        (["127.0.0.1:0"], {}, False),
        (["0.0.0.0:8000"], {"LISTEN_FDS": "1"}, False),
    ],
)
def test_workers_listen_on_sockets_of_their_own_where_they_can(
    monkeypatch: pytest.MonkeyPatch, bind: list[str], environ: dict[str, str], own_socket: bool
) -> None:
    monkeypatch.delenv("LISTEN_FDS", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    cfg = Config()
    cfg.set("bind", bind)
    said: list[str] = []
    on_starting(
        SimpleNamespace(cfg=cfg, log=SimpleNamespace(info=lambda text, *args: said.append(text % args)))
    )
    assert cfg.reuse_port is (own_socket and sys.platform == "linux")
    # gunicorn's "Listening at" line has no address when the master holds no socket: this one does.
    assert said == ([f"Listening at: {','.join(bind)} (a socket per worker)"] if cfg.reuse_port else [])


async def busy_clients(port: int, count: int, seconds: float) -> list[asyncio.StreamWriter]:
    """``count`` clients connecting together, each asking on its keep-alive connection without pause for
    ``seconds``; their connections, still open."""

    async def client() -> asyncio.StreamWriter:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < until:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: (\d+)", head)
            assert length, head
            await reader.readexactly(int(length.group(1)))
        return writer

    until = time.monotonic() + seconds
    return list(await asyncio.gather(*(client() for _ in range(count))))


@pytest.mark.skipif(sys.platform != "linux", reason="the kernel spreads connections over sockets on Linux")
@pytest.mark.parametrize("kind", DATABASES)
def test_a_burst_of_keep_alive_clients_is_spread_over_the_workers(tmp_path: Path, kind: str) -> None:
    # With one socket shared by the workers, the worker that was awake often took most of such a burst
    # (sent from a script, of 32 clients 28, 31, 32, 25 and 31 in five tries; 32 widget-session clients
    # made 2,949 requests to one worker and 1,298 to the other), and a connection stays with its worker.
    with database(tmp_path, kind) as url, web_process(tmp_path, 2, url) as (server, master):
        port = urlsplit(server.url).port or 0
        workers = running_workers(master.pid, port, 2)
        assert listening_sockets(port) == 2  # one each, not one between them

        async def burst() -> Counter[int]:
            writers = await busy_clients(port, 32, seconds=0.3)
            held = sockets_held(workers, port)
            for writer in writers:
                writer.close()
            return held

        # On a thread of its own: a test run before this one on the same worker may have left an event
        # loop running on this thread (Playwright's synchronous API does).
        with ThreadPoolExecutor(1) as thread:
            held = thread.submit(asyncio.run, burst()).result()
    assert held.total() == 32
    # Spread by a hash of each connection's addresses: fewer than 5 of 32 happens about once in 50,000 runs.
    assert min(held[worker] for worker in workers) >= 5, held


@pytest.mark.skipif(sys.platform != "linux", reason="the kernel spreads connections over sockets on Linux")
@pytest.mark.parametrize("kind", DATABASES)
def test_a_reload_leaves_no_connection_with_a_worker_that_is_stopping(tmp_path: Path, kind: str) -> None:
    with database(tmp_path, kind) as url, web_process(tmp_path, 2, url) as (server, master):
        port = urlsplit(server.url).port or 0
        old = set(running_workers(master.pid, port, 2))
        # Both workers get requests that never end: stopped by the reload, they wait for them.
        unfinished = [connect(server.url) for _ in range(32)]
        try:
            for connection in unfinished:
                connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            deadline = time.monotonic() + 10
            while (held := sockets_held(sorted(old), port)).total() < 32:
                assert time.monotonic() < deadline, held
                time.sleep(0.1)
            assert len(held) == 2
            master.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 30
            while len(sockets_held(sorted(set(workers_of(master.pid)) - old), port, "0A")) < 2:
                assert time.monotonic() < deadline, server.output.read_text()
                time.sleep(0.1)
            assert old <= set(workers_of(master.pid))  # still draining
            # A connection the kernel gave a stopping worker would wait for it to drain (30 s at most).
            for connection in kept_alive(server.url, 32):
                connection.close()
        finally:
            for connection in unfinished:
                connection.close()


#: Statements waiting for a lock on this schema's sessions table (other tests share the server).
WAITING_ON_SESSIONS = (
    "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'widget_sessions'::regclass"
)


@pytest.mark.skipif("postgresql" not in DATABASES, reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_on_postgresql_requests_waiting_on_the_database_do_not_hold_up_the_others(tmp_path: Path) -> None:
    with database(tmp_path, "postgresql") as url, web_process(tmp_path, 1, url) as (server, _master):
        auth = bearer(server, "ana")
        body = {"identification_info": [{"type": "CPF", "number": CPF, "name": NAME}]}
        created = requests.post(f"{server.url}/v1/widget-sessions", json=body, headers=auth, timeout=30)
        assert created.status_code == 201, created.text
        session_url = f"{server.url}/v1/widget-sessions/{created.json()['id']}"
        blocker = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        with ThreadPoolExecutor(2) as pool:
            try:
                # Until this transaction ends, every statement on the sessions' table waits.
                blocker.execute("LOCK TABLE widget_sessions IN ACCESS EXCLUSIVE MODE")
                waiting = [pool.submit(requests.get, session_url, headers=auth, timeout=30) for _ in range(2)]
                deadline = time.monotonic() + 10
                while blocker.execute(WAITING_ON_SESSIONS).fetchone() != (2,):
                    assert time.monotonic() < deadline, "the reads never reached the database"
                    time.sleep(0.05)
                # Both reads wait on the database; the worker still answers what does not need it (a
                # worker stopped by the reads would not answer before the lock goes).
                assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
                assert not any(read.done() for read in waiting)
            finally:
                blocker.rollback()
                blocker.close()
            assert [read.result().status_code for read in waiting] == [200, 200]


def test_on_sqlite_writes_waiting_for_the_write_lock_do_not_hold_up_the_others(tmp_path: Path) -> None:
    with web_process(tmp_path, 1) as (server, _master):
        auth = {user: bearer(server, user) for user in ("ana", "bia")}
        body = {"identification_info": [{"type": "CPF", "number": CPF, "name": NAME}]}
        sessions = f"{server.url}/v1/widget-sessions"
        created = requests.post(sessions, json=body, headers=auth["ana"], timeout=30)
        assert created.status_code == 201, created.text
        # Another process's transaction holds SQLite's one write lock until it ends.
        blocker = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
        with ThreadPoolExecutor(2) as pool:
            try:
                blocker.execute("BEGIN IMMEDIATE")
                # Ana's second session (the request path's own write) and Bia's first (a transaction).
                waiting = [
                    pool.submit(requests.post, sessions, json=body, headers=auth[user], timeout=30)
                    for user in auth
                ]
                time.sleep(1)  # both reach their first write and wait for the lock
                # The worker still answers what does not need the database (a worker stopped by the
                # writes would not answer before the lock goes).
                assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
                assert not any(write.done() for write in waiting)
            finally:
                blocker.execute("COMMIT")
                blocker.close()
            assert [write.result().status_code for write in waiting] == [201, 201]
