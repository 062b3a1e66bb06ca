"""The institutions a widget session may name: the Brazilian ones Belvo lists at ``GET /api/institutions/``
(the emulator's own list in emulator mode), fetched once and kept for an hour.

A session naming an institution Belvo does not list would open a widget with nothing to choose: it is
refused with ``422`` instead. When Belvo cannot say (unreachable, or a refusal), the check is skipped and
logged: Belvo refuses a bad token request itself, and the list is a convenience, not a gate.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from flask import current_app

from server.belvo import BelvoClient, BelvoError, belvo_client
from server.errors import Unprocessable

log = logging.getLogger(__name__)

#: How long the list is trusted: institutions are added or retired rarely, and a new one is at worst an
#: hour late.
CACHE_SECONDS: Final = 3600.0
#: The country of OFDA (Belvo's ``country_code`` filter).
COUNTRY: Final = "BR"


@dataclass(frozen=True)
class _Fetched:
    codes: frozenset[str]
    at: float


class InstitutionCatalogue:
    """Belvo's institution codes, fetched through ``client`` at most once per ``CACHE_SECONDS`` per
    process (threads share one fetch)."""

    def __init__(self, client: BelvoClient, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._fetched: _Fetched | None = None

    def codes(self) -> frozenset[str] | None:
        """The codes, or ``None`` when Belvo cannot be asked now."""
        with self._lock:
            fetched = self._fetched
            if fetched is not None and self._clock() - fetched.at < CACHE_SECONDS:
                return fetched.codes
            try:
                listed = self._client.list_institutions({"country_code": COUNTRY})
            except BelvoError as exc:
                log.warning("institution list unavailable; not checking institutions: %s", exc)
                return fetched.codes if fetched is not None else None
            codes = frozenset(item["name"] for item in listed if isinstance(item.get("name"), str))
            self._fetched = _Fetched(codes, self._clock())
            return codes


def check_known(catalogue: InstitutionCatalogue, institutions: Sequence[str]) -> None:
    """422 naming the first requested institution Belvo does not list."""
    if not institutions:
        return
    known = catalogue.codes()
    if known is None:
        return
    for index, code in enumerate(institutions):
        if code not in known:
            raise Unprocessable(
                f"Belvo lists no institution {code!r} for Brazil (GET /api/institutions/)",
                field=f"institutions.{index}",
            )


_EXTENSION: Final = "ofda.institutions"
_CREATE_LOCK: Final = threading.Lock()


def catalogue() -> InstitutionCatalogue:
    """The running app's catalogue over its Belvo client, made on first use."""
    extensions = current_app.extensions
    with _CREATE_LOCK:
        found: InstitutionCatalogue | None = extensions.get(_EXTENSION)
        if found is None:
            found = extensions[_EXTENSION] = InstitutionCatalogue(belvo_client())
        return found
