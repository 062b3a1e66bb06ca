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


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL")
def test_the_webhooks_benchmark_compares_the_deployment_with_an_empty_200() -> None:
    out = run("webhooks.py", "--deliveries", "40", "--clients", "2")
    for target in ("backend", "baseline"):
        assert re.search(rf"^{target} +\d+ deliveries/s +ack p50 .* p99 ", out, re.MULTILINE), out
    assert re.search(r"^every webhook applied by the worker ", out, re.MULTILINE), out
    assert re.search(r"^backend / baseline: \d+\.\d+x the deliveries/s, \d+\.\dx the ack p99", out, re.M), out


@pytest.mark.parametrize("clients", ["1", "8"])
def test_the_sessions_benchmark_gets_an_answer_to_every_request(clients: str) -> None:
    # At 8 clients each of the 25 users asks about 6 times, as in a full run: more than a user may hold
    # open, fewer than a user may ask for in a minute. The backend must refuse none of the bench's load.
    out = run("sessions.py", "--clients", clients, "--duration", "0.5", "--warmup", "0.1", "--users", "25")
    rows = re.findall(rf"^(\w+) +1 +{clients} +(\d+) +(\d+) ", out, re.MULTILINE)
    assert sorted(target for target, _, _ in rows) == ["backend", "baseline", "relay", "upstream"], out
    assert all(int(requests) > 0 and int(errors) == 0 for _, requests, errors in rows), out
    assert re.search(
        r"^Python calls per request .*: backend [\d,]+, baseline [\d,]+, relay [\d,]+", out, re.M
    )
    if clients == "8":
        assert re.search(r"^target \(backend overhead p99 < 10 ms at 8 clients\): \d", out, re.MULTILINE)
