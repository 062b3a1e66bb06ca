"""Benchmark: ``POST /v1/widget-sessions`` under the server the Procfile ships, next to a naive baseline
built the way Belvo's own Python SDK would do it, all calling the same upstream that answers each
request after a fixed delay, as Belvo's API does across a network.

    .venv/bin/python bench/sessions.py [--delay-ms 50] [--login-delay-ms 50] [--duration 5]
                                       [--clients 1,8,32] [--rounds 3]
                                       [--database-url postgresql+psycopg://...]

Everything runs on 127.0.0.1 and stops by itself:

- *upstream*: a small asyncio HTTP server standing in for Belvo (``POST /api/token/`` after
  ``--delay-ms``, the login check ``GET /api/`` after ``--login-delay-ms``, the same by default: each is
  one round trip to Belvo), in its own process;
- *backend*: ``server:create_app()`` in real mode pointed at the upstream, run by the Procfile's ``web``
  line (its server and settings, gevent's workers, ``--workers`` as ``WEB_CONCURRENCY``), with its
  SQLite database (or ``--database-url``) migrated first;
- *naive*: a minimal Flask endpoint under plain gunicorn gthread (the default a team would reach for; same
  number of workers, ``--threads`` each) that, per request, does what ``belvo.Client(...)`` +
  ``client.WidgetToken.create(...)`` do in belvo-python 0.39.1: a new ``requests.Session`` with Basic
  auth, the login ``GET /api/``, then ``POST /api/token/``. No validation, no database, no
  authentication: the least a backend could do;
- *relay*: an endpoint that only relays ``POST /api/token/`` on one pooled ``requests.Session``, run by
  the Procfile's ``web`` line like the backend (the same workers): what our server, Flask and requests
  cost on this machine before any work of the backend's own (authentication, validation, rate limit,
  storage, logs).

For each number of concurrent clients (one keep-alive connection each, posting without pause) it
measures the steady state: the clients run for ``--warmup`` seconds, then ``--duration`` seconds of
which every request counts, so the burst of all clients starting at the same instant is not measured.
It prints throughput, p50/p99 latency, the *overhead* (latency minus the upstream delays the target must
wait: the token call's, plus the login's for the naive baseline, so that it measures each server's own
work) and the servers' CPU time per request (from /proc). An *upstream* row sends the same load
straight to the stand-in: the floor of this set-up (load generator, stand-in and machine), which every
other row includes. ``--rounds N`` measures everything N times, interleaved; on a shared virtual machine
one round's p99 can move by a quarter from one minute to the next, so the targets are judged on medians
over rounds, and only as ratios to the baselines measured in the same run:

- throughput at 32 clients at least 1.5x the naive baseline's;
- overhead p99 at 8 and at 32 clients no worse than the naive baseline's, and within 1.5x the relay's;
- CPU per request (at 32 clients) within 1.3x the relay's.

No client waits less than the upstream delays, so throughput at 32 clients cannot pass 32 / delay (640
req/s at 50 ms), nor the naive baseline's 32 / (delay + login delay): the report prints the ceiling next
to the throughput target. With a free login (``--login-delay-ms 0``), a naive baseline above 427 req/s
would put the throughput target past that ceiling: no backend could meet it, however little it did.

For a figure that does not move, it also counts the Python calls one request makes in each app (cProfile,
in this process), so a change that adds work shows even in a noisy run. The last line sums the run up
for scripts::

    sessions: db=sqlite tput32=... naive_tput32=... p99_8=... naive_p99_8=... relay_p99_8=... p99_32=...
    naive_p99_32=... relay_p99_32=... cpu=... relay_cpu=...

(one line; ``n/a`` for a figure the chosen ``--clients`` do not measure).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import itertools
import json
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SECRET_ID, SECRET_PASSWORD = "bench-secret-id", "bench-secret-password"
APP_JWT_SECRET = "bench-app-jwt-secret-of-32-characters-or-more"  # noqa: S105 (a local benchmark)
CPF_BODY = {"identification_info": [{"type": "CPF", "number": "76109277673", "name": "Ralph Bragg"}]}
STARTUP_TIMEOUT = 30.0
#: Requests profiled per app for the call counts (each waits out the upstream delay once or twice).
CALL_COUNT_REQUESTS = 40
REQUEST_TIMEOUT = 30.0


# -- the upstream stand-in ---------------------------------------------------------------------------------


def serve_upstream(port: int, delay: float, login_delay: float) -> None:
    """Belvo's token endpoint after ``delay`` seconds, the login check after ``login_delay``. HTTP/1.1
    keep-alive; replies on one connection leave in the order of their requests.

    One asyncio loop with the least HTTP parsing that works for these clients (a head, then
    ``Content-Length`` bytes): each reply leaves within a fraction of a millisecond of its due time, and
    the stand-in takes little of the CPUs the servers under test need."""
    import jwt

    exp = datetime.now(UTC) + timedelta(days=1)
    token = jwt.encode({"token_type": "access", "exp": exp}, "bench-belvo-key-" * 4, "HS512")
    token_reply = http_response(json.dumps({"refresh": "bench-refresh-token", "access": token}).encode())
    login_reply = http_response(b"{}")

    class Upstream(asyncio.Protocol):
        def __init__(self) -> None:
            self.buffer = b""
            self.transport: asyncio.Transport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport  # asyncio sets TCP_NODELAY: no reply waits for a delayed ACK

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (length := request_length(self.buffer)) is not None:
                token_request, self.buffer = self.buffer.startswith(b"POST "), self.buffer[length:]
                transport = self.transport
                assert transport is not None
                # POST /api/token/; the login check is a GET. Each client sends one request at a time.
                if token_request:
                    loop.call_later(delay, write_unless_closed, transport, token_reply)
                else:
                    loop.call_later(login_delay, write_unless_closed, transport, login_reply)

    def write_unless_closed(transport: asyncio.Transport, reply: bytes) -> None:
        if not transport.is_closing():
            transport.write(reply)

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(Upstream, "127.0.0.1", port, backlog=256))
    loop.run_until_complete(server.serve_forever())


def http_response(body: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def request_length(buffer: bytes) -> int | None:
    """The length in bytes of the first request in ``buffer``; ``None`` until all of it has arrived."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    length = end + 4 + content_length(buffer[:end])
    return length if len(buffer) >= length else None


def content_length(head: bytes) -> int:
    """The ``Content-Length`` of a request's or response's head (0 when it has none)."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


# -- the baseline ------------------------------------------------------------------------------------------


def baseline_app(api_url: str | None = None) -> Any:
    """A Flask app minting widget tokens the way belvo-python 0.39.1 does (new client per request), and
    the same call relayed on a pooled session; the upstream is ``api_url`` or ``$BELVO_API_URL``."""
    import requests
    import requests.adapters
    from flask import Flask, jsonify

    app = Flask("baseline")
    api_url = api_url or os.environ["BELVO_API_URL"]

    @app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok"}

    pooled = requests.Session()
    pooled.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))

    @app.post("/relay")
    def relay() -> Any:
        body = {"id": SECRET_ID, "password": SECRET_PASSWORD, "scopes": "read_institutions,write_links"}
        reply = pooled.post(f"{api_url}/api/token/", json=body, timeout=(3.05, 10))
        return jsonify(reply.json()), 201

    @app.post("/token")
    def token() -> Any:
        session = requests.Session()
        session.auth = (SECRET_ID, SECRET_PASSWORD)
        session.headers.update({"User-Agent": "belvo-python (0.39.1)", "Content-Type": "application/json"})
        session.get(f"{api_url}/api/", timeout=5).raise_for_status()  # Client(...) logs in first
        body = {"id": SECRET_ID, "password": SECRET_PASSWORD, "scopes": "read_institutions,write_links"}
        reply = session.post(f"{api_url}/api/token/", json=body)  # the SDK sets no timeout on POSTs
        session.close()
        return jsonify(reply.json()), 201

    return app


# -- processes ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(port: int, path: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"nothing answered GET {path} on port {port} within {STARTUP_TIMEOUT:.0f} s")


@contextmanager
def process(args: Sequence[str], env: dict[str, str], log: Path, cwd: Path = REPO) -> Iterator[int]:
    """Run ``args`` for the duration of the block (its pid is the value); stop it, and only it, after."""
    with log.open("w") as output:
        child = subprocess.Popen(args, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield child.pid
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def gunicorn_gthread(app: str, port: int, workers: int, threads: int) -> list[str]:
    """Plain gunicorn with its threaded workers: the naive baseline's server."""
    return [
        str(VENV_BIN / "gunicorn"),
        "--worker-class=gthread",
        f"--workers={workers}",
        f"--threads={threads}",
        f"--bind=127.0.0.1:{port}",
        "--backlog=256",
        app,
    ]


def procfile_web(app: str, port: int, workers: int) -> list[str]:
    """The Procfile's ``web`` command serving ``app`` on ``port``: what a deployment runs."""
    line = next(
        line.partition(":")[2]
        for line in (REPO / "Procfile").read_text().splitlines()
        if line.startswith("web:")
    )
    values = {"PORT": str(port), "WEB_CONCURRENCY": str(workers)}
    expanded = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: values.get(m[1], m[2]), line)
    program, *args = shlex.split(expanded)
    if args[-1] != "server:create_app()":
        raise RuntimeError(f"expected the Procfile's web line to end with the app, got {line!r}")
    return [str(VENV_BIN / program), *args[:-1], app]


# -- the load ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What the load is sent to: the server's process (for its CPU time), its port and path, each
    request's extra headers (given the client's index), and the upstream delays each request waits out
    (seconds): latency beyond them is the server's own overhead."""

    pid: int
    port: int
    path: str
    headers_for: Callable[[int], dict[str, str]]
    upstream_wait: float


def no_headers(_client: int) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Load:
    latencies: tuple[float, ...]
    errors: int
    #: CPU time the server's processes spent during the measured window.
    cpu_seconds: float


@dataclass(frozen=True)
class Result:
    round: int
    target: str
    clients: int
    latencies: tuple[float, ...]
    upstream_wait: float
    errors: int
    seconds: float
    #: CPU time the server's workers spent, per successful request.
    cpu_ms: float

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, p: int) -> float:
        if len(self.latencies) < 2:  # a smoke run on a loaded machine may get a single answer in
            return max(self.latencies, default=float("nan")) * 1000
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000

    def overhead(self, p: int) -> float:
        """The ``p``-th percentile of latency less the upstream delays this target waits out, in ms."""
        return self.percentile(p) - self.upstream_wait * 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its children (a gunicorn master and its workers),
    from Linux's /proc."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0
    for process_id in [str(pid), *children]:
        fields = Path(f"/proc/{process_id}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def drive(target: Target, clients: int, warmup: float, seconds: float) -> Load:
    """``clients`` keep-alive connections, each posting without pause for ``warmup`` then ``seconds``;
    only requests sent in the second part count. The clients start together, so their first requests
    arrive at once and queue behind each other: that burst belongs to the warm-up, not to the steady
    state of ``clients`` concurrent users being measured.

    The clients share one asyncio loop and parse no more of a response than its status and length, so
    the load generator takes little of the CPUs the server needs, and no GIL handoff between client
    threads adds to the latencies it records."""
    return asyncio.run(_drive(target, clients, warmup, seconds))


async def _drive(target: Target, clients: int, warmup: float, seconds: float) -> Load:
    body = json.dumps(CPF_BODY).encode()
    started = time.perf_counter()
    measure_from, until = started + warmup, started + warmup + seconds
    latencies: list[float] = []
    errors = 0

    async def client(index: int) -> None:
        nonlocal errors
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while (began := time.perf_counter()) < until:
            head = f"POST {target.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            for name, value in target.headers_for(index).items():
                head += f"{name}: {value}\r\n"
            request = f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
            try:
                if connection is None:
                    connection = await asyncio.open_connection("127.0.0.1", target.port)
                reader, writer = connection
                writer.write(request)
                response_head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
                await reader.readexactly(content_length(response_head))
                ok = response_head.startswith(b"HTTP/1.1 2")
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                if connection is not None:
                    connection[1].close()
                connection = None
                ok = False
            if began < measure_from:
                continue
            if ok:
                latencies.append(time.perf_counter() - began)
            else:
                errors += 1
        if connection is not None:
            connection[1].close()

    async def cpu_in_window() -> float:
        await asyncio.sleep(measure_from - time.perf_counter())
        before = cpu_seconds(target.pid)
        await asyncio.sleep(until - time.perf_counter())
        return cpu_seconds(target.pid) - before

    cpu = asyncio.create_task(cpu_in_window())
    await asyncio.gather(*(client(i) for i in range(clients)))
    return Load(tuple(latencies), errors, await cpu)


def python_calls_per_request(app: Any, path: str, headers_for: Callable[[int], dict[str, str]]) -> float:
    """Python and builtin function calls one request makes, counted by cProfile with the app in this
    process: unlike the timings, a figure the machine's other load does not move."""
    import cProfile
    import pstats

    client = app.test_client()

    def post(turn: int) -> None:
        response = client.post(path, json=CPF_BODY, headers=headers_for(turn))
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"POST {path} answered {response.status_code} in-process")

    post(0)  # first-request set-up is not per-request work
    profile = cProfile.Profile()
    profile.enable()
    for turn in range(1, CALL_COUNT_REQUESTS + 1):
        post(turn)
    profile.disable()
    return pstats.Stats(profile).total_calls / CALL_COUNT_REQUESTS  # type: ignore[attr-defined,no-any-return]


def app_user_tokens(users: int) -> list[str]:
    from server.auth import mint_token
    from server.config import Secret

    return [mint_token(f"bench-user-{i}", Secret(APP_JWT_SECRET), timedelta(hours=1)) for i in range(users)]


def round_robin(tokens: Sequence[str]) -> Callable[[int], dict[str, str]]:
    """Like real traffic, each user asks for a session now and then, under the backend's default rate
    limit (10 per user per minute)."""
    turn = itertools.count()
    return lambda _client: {"Authorization": f"Bearer {tokens[next(turn) % len(tokens)]}"}


def first_sessions(port: int, tokens: Sequence[str], clients: int) -> None:
    """One session per user before measuring: the runs then see returning users (the common case; a
    user's first session also draws their external id)."""
    body = json.dumps(CPF_BODY)
    local = threading.local()

    def create(token: str) -> None:
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        local.connection.request("POST", "/v1/widget-sessions", body=body, headers=headers)
        response = local.connection.getresponse()
        response.read()
        if response.status != 201:
            raise RuntimeError(f"creating a first session answered {response.status}")

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(create, tokens))


# -- main --------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--delay-ms", type=float, default=50.0, help="upstream delay on /api/token/")
    parser.add_argument(
        "--login-delay-ms", type=float, help="upstream delay on the login check GET /api/ (default: same)"
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per measurement")
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="seconds of load before each measurement (same clients)"
    )
    parser.add_argument("--clients", default="1,8,32", help="concurrent clients, comma-separated")
    parser.add_argument("--rounds", type=int, default=1, help="times to measure everything, interleaved")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both servers)")
    parser.add_argument(
        "--threads", type=int, default=16, help="gunicorn threads per worker (the naive baseline's)"
    )
    parser.add_argument("--users", type=int, default=2000, help="app users taking turns (rate limit: 10/min)")
    parser.add_argument("--database-url", help="the backend's database (default: a temporary SQLite file)")
    parser.add_argument("--serve-upstream", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.login_delay_ms is None:
        args.login_delay_ms = args.delay_ms
    if args.serve_upstream:
        serve_upstream(args.serve_upstream, args.delay_ms / 1000, args.login_delay_ms / 1000)
        return

    concurrency = [int(n) for n in args.clients.split(",")]
    delay, login_delay = args.delay_ms / 1000, args.login_delay_ms / 1000
    with tempfile.TemporaryDirectory(prefix="bench-sessions-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        upstream_port, backend_port, relay_port, naive_port = (free_port() for _ in range(4))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("BELVO_", "DATABASE_URL"))},
            "BELVO_API_URL": f"http://127.0.0.1:{upstream_port}",
            "BELVO_SECRET_ID": SECRET_ID,
            "BELVO_SECRET_PASSWORD": SECRET_PASSWORD,
            "BELVO_WEBHOOK_AUTH": "Bearer bench-webhook-secret",
            "APP_JWT_SECRET": APP_JWT_SECRET,
            "TERMS_URL": "https://example.com/terms",
            # The bench's users never finish a widget, so their sessions stay open: the cap on open
            # sessions is still checked on every request, just never reached.
            "SESSION_MAX_PENDING": "1000000",
            # Nor does a long run's count of sessions per user and day stand in its way.
            "SESSION_RATE_LIMIT_PER_DAY": "1000000",
            "DATABASE_URL": args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}",
            # The relay's app is bench/sessions.py itself; the server's settings module is in the repo.
            "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "bench")]),
        }
        upstream_cmd = [
            sys.executable,
            __file__,
            "--serve-upstream",
            str(upstream_port),
            "--delay-ms",
            str(args.delay_ms),
            "--login-delay-ms",
            str(args.login_delay_ms),
        ]
        upstream_pid = stack.enter_context(process(upstream_cmd, env, workdir / "upstream.log"))
        wait_until_up(upstream_port, "/api/")

        subprocess.run(
            [str(VENV_BIN / "ofda"), "db", "upgrade"],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
            timeout=60,
        )
        backend_pid = stack.enter_context(
            process(
                procfile_web("server:create_app()", backend_port, args.workers),
                env,
                workdir / "backend.log",
            )
        )
        # The relay runs under the backend's server, the naive baseline under plain gunicorn gthread.
        relay_pid = stack.enter_context(
            process(
                procfile_web("sessions:baseline_app()", relay_port, args.workers),
                env,
                workdir / "relay.log",
                cwd=REPO / "bench",
            )
        )
        naive_pid = stack.enter_context(
            process(
                gunicorn_gthread("sessions:baseline_app()", naive_port, args.workers, args.threads),
                env,
                workdir / "naive.log",
                cwd=REPO / "bench",
            )
        )
        wait_until_up(backend_port, "/readyz")
        wait_until_up(relay_port, "/healthz")
        wait_until_up(naive_port, "/healthz")

        tokens = app_user_tokens(args.users)
        first_sessions(backend_port, tokens, max(concurrency))
        targets = {
            "backend": Target(backend_pid, backend_port, "/v1/widget-sessions", round_robin(tokens), delay),
            # The SDK's client logs in, then asks for the token: two round trips to Belvo.
            "naive": Target(naive_pid, naive_port, "/token", no_headers, login_delay + delay),
            "relay": Target(relay_pid, relay_port, "/relay", no_headers, delay),
            # The floor of this set-up: the same load straight at the upstream stand-in.
            "upstream": Target(upstream_pid, upstream_port, "/api/token/", no_headers, delay),
        }
        from server import create_app

        # The backend as gunicorn runs it, minus the request log lines (they would interleave with the
        # report); the same users take turns.
        backend_app = create_app({**env, "LOG_LEVEL": "WARNING"})
        baseline_in_process = baseline_app(env["BELVO_API_URL"])
        calls = {
            "backend": python_calls_per_request(backend_app, "/v1/widget-sessions", round_robin(tokens)),
            "naive": python_calls_per_request(baseline_in_process, "/token", no_headers),
            "relay": python_calls_per_request(baseline_in_process, "/relay", no_headers),
        }
        results: list[Result] = []
        for round_ in range(1, args.rounds + 1):
            for clients in concurrency:
                for name, target in targets.items():
                    load = drive(target, clients, args.warmup, args.duration)
                    cpu_ms = load.cpu_seconds * 1000 / max(len(load.latencies), 1)
                    results.append(
                        Result(
                            round_,
                            name,
                            clients,
                            load.latencies,
                            target.upstream_wait,
                            load.errors,
                            args.duration,
                            cpu_ms,
                        )
                    )
        database = "sqlite" if env["DATABASE_URL"].startswith("sqlite") else "postgresql"
        report(results, calls, delay, args, database)


#: The targets, each a ratio to a baseline of the same run (module docstring).
THROUGHPUT_VS_NAIVE = 1.5
P99_VS_RELAY = 1.5
CPU_VS_RELAY = 1.3
SUMMARY_CLIENTS = (8, 32)


def report(
    results: Sequence[Result],
    calls: Mapping[str, float],
    delay: float,
    args: argparse.Namespace,
    database: str,
) -> None:
    delay_ms = delay * 1000
    print(
        f"POST /v1/widget-sessions vs a Belvo-SDK-style naive baseline; upstream delay {delay_ms:.0f} ms, "
        f"login check {args.login_delay_ms:.0f} ms; "
        f"backend and relay under the Procfile's web server, naive under gunicorn gthread; "
        f"{args.workers} workers (naive: x {args.threads} threads); database {database}; "
        f"{args.duration:g} s per run; {args.rounds} round(s); {os.cpu_count()} CPUs\n"
    )
    columns: tuple[str, ...] = ("round", "clients", "requests", "errors", "req/s", "p50 ms", "p99 ms")
    columns += ("overhead p50", "overhead p99", "CPU ms/req")
    widths = (5, 7, 8, 6, 8, 8, 8, 12, 12, 10)
    header = f"{'target':<9} " + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))
    print(header)
    print("-" * len(header))
    for r in results:
        if not r.latencies:
            print(f"{r.target:<9} {r.round:>5} {r.clients:>7} {0:>8} {r.errors:>6}  (no successful request)")
            continue
        p50_ms, p99_ms = r.percentile(50), r.percentile(99)
        print(
            f"{r.target:<9} {r.round:>5} {r.clients:>7} {len(r.latencies):>8} {r.errors:>6} "
            f"{r.throughput:>8.1f} {p50_ms:>8.2f} {p99_ms:>8.2f} {r.overhead(50):>12.2f} "
            f"{r.overhead(99):>12.2f} {r.cpu_ms:>10.2f}"
        )

    def median(target: str, clients: int, figure: Callable[[Result], float]) -> float | None:
        """The median over rounds of ``figure``; ``None`` when that load was not measured."""
        rows = [r for r in results if (r.target, r.clients) == (target, clients) and r.latencies]
        return statistics.median(figure(r) for r in rows) if rows else None

    def p99(target: str, clients: int) -> float | None:
        return median(target, clients, lambda r: r.overhead(99))

    def tput(target: str) -> float | None:
        return median(target, 32, lambda r: r.throughput)

    def cpu(target: str) -> float | None:
        return median(target, 32, lambda r: r.cpu_ms)

    print(
        f"\nPython calls per request (cProfile, in-process, {CALL_COUNT_REQUESTS} requests each): "
        + ", ".join(f"{name} {count:,.0f}" for name, count in calls.items())
        + f"; backend / relay x{calls['backend'] / calls['relay']:.2f}"
    )
    print("\ntargets (medians over rounds, ratios to this run's baselines):")
    checks = [
        (
            f"throughput at 32 clients >= {THROUGHPUT_VS_NAIVE}x naive",
            tput("backend"),
            tput("naive"),
            lambda ours, theirs: ours >= THROUGHPUT_VS_NAIVE * theirs,
            f" (ceilings: 32 / delay = {32 / delay:.0f} req/s; the naive baseline's 32 / (delay + login)"
            f" = {32 / (delay + args.login_delay_ms / 1000):.0f} req/s)",
        ),
    ]
    for clients in SUMMARY_CLIENTS:
        checks += [
            (
                f"overhead p99 at {clients} clients <= naive",
                p99("backend", clients),
                p99("naive", clients),
                lambda ours, theirs: ours <= theirs,
                "",
            ),
            (
                f"overhead p99 at {clients} clients <= {P99_VS_RELAY}x relay",
                p99("backend", clients),
                p99("relay", clients),
                lambda ours, theirs: ours <= P99_VS_RELAY * theirs,
                "",
            ),
        ]
    checks.append(
        (
            f"CPU per request at 32 clients <= {CPU_VS_RELAY}x relay",
            cpu("backend"),
            cpu("relay"),
            lambda ours, theirs: ours <= CPU_VS_RELAY * theirs,
            "",
        )
    )
    verdicts = []
    for label, ours, theirs, holds, note in checks:
        if ours is None or theirs is None:
            print(f"  {label}: not measured (--clients)")
            continue
        verdicts.append(met := holds(ours, theirs))
        ratio = ours / max(theirs, 1e-9)
        print(f"  {label}: {ours:.2f} vs {theirs:.2f} (x{ratio:.2f}), {'met' if met else 'NOT met'}{note}")
    if verdicts:
        print(f"  {'every measured target met' if all(verdicts) else 'NOT every target met'}")

    def figure(value: float | None, digits: int) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    print(
        f"sessions: db={database} tput32={figure(tput('backend'), 1)} "
        f"naive_tput32={figure(tput('naive'), 1)} "
        f"p99_8={figure(p99('backend', 8), 2)} naive_p99_8={figure(p99('naive', 8), 2)} "
        f"relay_p99_8={figure(p99('relay', 8), 2)} p99_32={figure(p99('backend', 32), 2)} "
        f"naive_p99_32={figure(p99('naive', 32), 2)} relay_p99_32={figure(p99('relay', 32), 2)} "
        f"cpu={figure(cpu('backend'), 2)} relay_cpu={figure(cpu('relay'), 2)}"
    )


if __name__ == "__main__":
    main()
