"""One-statement writes on one SQLite file from two processes of 16 threads each (the Procfile's web
process), timed write by write: the request path's retries (``server.storage.write`` on an engine made
with ``busy_handler=False``) against SQLite's own busy handler (the baseline: same code, same writes).

    .venv/bin/python bench/sqlite_writes.py [--rounds N] [--seconds S] [--gap-ms MS]

Each thread writes a row, then does ``--gap-ms`` of other work (a sleep), and again. ``--gap-ms 0`` is a
flat-out contest for the lock; the default, 30 ms, about the load of the sessions benchmark at 32 clients.
Target: the write's p99 no worse than the baseline's (medians over rounds, each measured in this run).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.schema import CreateIndex, CreateTable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.storage import make_engine, write

PROCESSES = 2
THREADS = 16
ROWS = Table(
    "rows",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("owner", String(64), index=True),
    Column("value", String(64)),
)


def writer(url: str, busy_handler: bool, seconds: float, gap: float, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    engine = make_engine(url, busy_handler=busy_handler, isolation_level="AUTOCOMMIT", pool_size=THREADS)
    latencies: list[float] = []
    lock = threading.Lock()
    statement = ROWS.insert()

    def run() -> None:
        mine = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            write(engine, statement, {"owner": os.urandom(8).hex(), "value": os.urandom(8).hex()})
            mine.append(time.perf_counter() - started)
            time.sleep(gap)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    out.put(latencies)


def measure(busy_handler: bool, seconds: float, gap: float) -> tuple[float, float, float, float]:
    """Writes per second, and the write's p50, p99 and p99.9 (ms), on a fresh database."""
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(CreateTable(ROWS))
            for index in ROWS.indexes:
                connection.execute(CreateIndex(index))
        engine.dispose()
        out: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        processes = [
            multiprocessing.Process(target=writer, args=(url, busy_handler, seconds, gap, out))
            for _ in range(PROCESSES)
        ]
        for process in processes:
            process.start()
        latencies = [latency for _ in processes for latency in out.get()]
        for process in processes:
            process.join()
    cuts = statistics.quantiles(latencies, n=1000, method="inclusive")
    return len(latencies) / seconds, cuts[499] * 1000, cuts[989] * 1000, cuts[998] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds of writing per measurement")
    parser.add_argument("--gap-ms", type=float, default=30.0, help="each thread's pause between writes")
    args = parser.parse_args()
    gap = args.gap_ms / 1000
    print(f"{PROCESSES} processes x {THREADS} threads, {args.gap_ms:g} ms between writes, {args.seconds:g} s")
    print(f"{'writes':<10} {'round':>5} {'writes/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9}")
    p99s: dict[str, list[float]] = {"retries": [], "sqlite": []}
    for round_ in range(1, args.rounds + 1):
        for name, busy_handler in (("retries", False), ("sqlite", True)):
            rate, p50, p99, p999 = measure(busy_handler, args.seconds, gap)
            p99s[name].append(p99)
            print(f"{name:<10} {round_:>5} {rate:>9.0f} {p50:>8.3f} {p99:>8.2f} {p999:>9.2f}")
    ours, baseline = statistics.median(p99s["retries"]), statistics.median(p99s["sqlite"])
    verdict = "met" if ours <= baseline else "NOT met"
    print(
        f"write p99 with the request path's retries <= with SQLite's busy handler: {ours:.2f} vs "
        f"{baseline:.2f} ms (x{ours / baseline:.2f}), {verdict}"
    )


if __name__ == "__main__":
    main()
