"""Deeplinks parsed per second on the fixture corpus, against a bare urllib loop on the same URLs.

    .venv/bin/python bench/parse.py [--rounds N]

The baseline splits each URL with `urllib.parse.urlsplit` and its query with `parse_qsl`: no
validation, no classification, no events. Target: validated parsing within 3x of it. Both loops
run in this process, over the same URLs, best of N rounds.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from deeplinks import DeeplinkError, parse
from deeplinks.corpus import load_fixtures

TARGET_RATIO = 3.0
Case = tuple[str, Any]


def deeplinks_loop(cases: Sequence[Case]) -> None:
    for url, callback_urls in cases:
        try:  # noqa: SIM105 (contextlib.suppress would add its own cost to the timed loop)
            parse(url, callback_urls)
        except DeeplinkError:
            pass


def baseline_loop(cases: Sequence[Case]) -> None:
    for url, _ in cases:
        try:  # noqa: SIM105 (as above)
            parse_qsl(urlsplit(url).query, keep_blank_values=True)
        except ValueError:  # e.g. "Invalid IPv6 URL"; none in the corpus today
            pass


# urlsplit memoises its last 128 URLs (functools.lru_cache), so on a set of fewer URLs the baseline
# above mostly looks results up. For information, the same loop without that cache:
_uncached_urlsplit = urlsplit.__wrapped__  # type: ignore[attr-defined]


def uncached_baseline_loop(cases: Sequence[Case]) -> None:
    for url, _ in cases:
        try:  # noqa: SIM105 (as above)
            parse_qsl(_uncached_urlsplit(url).query, keep_blank_values=True)
        except ValueError:
            pass


def _timed(loop: Callable[[Sequence[Case]], None], cases: Sequence[Case], repeat: int) -> float:
    # CPU time of this process: other work on a shared machine does not count against either loop.
    start = time.process_time()
    for _ in range(repeat):
        loop(cases)
    return time.process_time() - start


def report(label: str, cases: Sequence[Case], rounds: int) -> float:
    """Print both rates (URLs per second, best round) and their ratio; return the ratio.

    The loops alternate round by round, so a busy machine slows both alike."""
    repeat = max(1, 2_000 // len(cases))
    ours = bare = uncached = float("inf")
    for _ in range(rounds):
        ours = min(ours, _timed(deeplinks_loop, cases, repeat))
        bare = min(bare, _timed(baseline_loop, cases, repeat))
        uncached = min(uncached, _timed(uncached_baseline_loop, cases, repeat))
    ratio = ours / bare
    count = len(cases) * repeat
    print(f"{label} ({len(cases)} URLs)")
    print(f"  deeplinks.parse (validated, typed):     {count / ours:10,.0f} URLs per CPU second")
    print(f"  urlsplit + parse_qsl (bare):            {count / bare:10,.0f} URLs per CPU second")
    print(f"  the same without urlsplit's cache:      {count / uncached:10,.0f} URLs per CPU second")
    print(f"  ratio: deeplinks takes {ratio:.2f}x the bare time (target: within {TARGET_RATIO:g}x)")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=40, help="timings per loop; the best counts")
    rounds = parser.parse_args().rounds
    fixtures = load_fixtures()
    everything = [(fixture.url, fixture.callback_urls) for fixture in fixtures]
    valid = [(fixture.url, fixture.callback_urls) for fixture in fixtures if fixture.expect is not None]
    ratios = [report("whole corpus", everything, rounds), report("valid events only", valid, rounds)]
    verdict = "met" if max(ratios) <= TARGET_RATIO else "NOT met"
    print(f"target {verdict}: worst ratio {max(ratios):.2f}x")


if __name__ == "__main__":
    main()
