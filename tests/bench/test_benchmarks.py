"""The benchmarks still run end to end and measure what they say, with tiny loads.

Their figures are not judged here (speed targets live in the benchmarks themselves, never in tests); a
benchmark that crashes, or whose requests start failing, is what these catch.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=BENCH.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_parse_benchmark_compares_with_the_bare_parse() -> None:
    out = run("parse.py", "--rounds", "2")
    assert re.search(r"deeplinks takes \d+\.\d+x the bare time", out), out


def test_the_sqlite_writes_benchmark_compares_the_retries_with_sqlites_busy_handler() -> None:
    out = run("sqlite_writes.py", "--rounds", "1", "--seconds", "0.5")
    assert re.search(r"^retries +1 +\d+ ", out, re.MULTILINE), out
    assert re.search(r"^sqlite +1 +\d+ ", out, re.MULTILINE), out
    assert re.search(
        r"busy handler: \d+\.\d+ vs \d+\.\d+ ms \(x\d+\.\d+\), (met|NOT met)$", out, re.MULTILINE
    ), out


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL")
def test_the_webhooks_benchmark_compares_the_deployment_with_an_empty_200() -> None:
    out = run("webhooks.py", "--deliveries", "40", "--clients", "2")
    for target in ("backend", "baseline"):
        assert re.search(rf"^{target} +\d+ deliveries/s +ack p50 .* p99 ", out, re.MULTILINE), out
    assert re.search(r"^every webhook applied by the worker ", out, re.MULTILINE), out
    assert re.search(r"^backend / baseline: \d+\.\d+x the deliveries/s, \d+\.\dx the ack p99", out, re.M), out


@pytest.mark.parametrize(("clients", "users"), [("1", "25"), ("8,32", "100")])
def test_the_sessions_benchmark_gets_an_answer_to_every_request(clients: str, users: str) -> None:
    # Each user asks a few times, as in a full run: more than a user may hold open by default, fewer than
    # a user may ask for in a minute. The backend must refuse none of the bench's load.
    out = run("sessions.py", "--clients", clients, "--duration", "0.5", "--warmup", "0.1", "--users", users)
    for count in clients.split(","):
        rows = re.findall(rf"^(\w+) +1 +{count} +(\d+) +(\d+) ", out, re.MULTILINE)
        assert sorted(target for target, _, _ in rows) == ["backend", "naive", "relay", "upstream"], out
        assert all(int(requests) > 0 and int(errors) == 0 for _, requests, errors in rows), out
    # The overhead is the latency less the upstream delays each target waits out (the naive baseline's
    # login check as well as its token call): never below zero, or the stand-in skipped a delay.
    overheads = re.findall(r"^\w+ +1 +\d+ +\d+ +\d+ +[\d.]+ +[\d.]+ +[\d.]+ +(-?[\d.]+) ", out, re.MULTILINE)
    assert overheads, out
    assert all(float(overhead) >= 0 for overhead in overheads), out
    assert re.search(r"^Python calls per request .*: backend [\d,]+, naive [\d,]+, relay [\d,]+", out, re.M)
    # The last line sums the run up for scripts; figures the loads chosen do not measure are n/a.
    figure = r"\d+\.\d+" if clients == "8,32" else r"(?:\d+\.\d+|n/a)"
    names = "tput32 naive_tput32 p99_8 naive_p99_8 relay_p99_8 p99_32 naive_p99_32 relay_p99_32 cpu relay_cpu"
    summary = "sessions: db=sqlite " + " ".join(f"{name}={figure}" for name in names.split())
    assert re.fullmatch(summary, out.splitlines()[-1]), out
    if clients == "8,32":
        assert re.search(
            r"^  CPU per request at 32 clients <= 1.3x relay: [\d.]+ vs [\d.]+ \(x[\d.]+\), (met|NOT met)$",
            out,
            re.M,
        ), out
