"""Small helpers shared by the test packages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

from server.storage import normalise_url


@dataclass
class Clock:
    """A clock the test moves: pass it as ``create_app({"CLOCK": clock})`` (the emulator shares it) or
    as the emulator's ``EMULATOR_NOW``."""

    moment: datetime = field(default_factory=lambda: datetime(2026, 11, 21, 12, 0, tzinfo=UTC))

    @classmethod
    def now(cls) -> Clock:
        """Starting at the real time (for servers a browser talks to)."""
        return cls(datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float = 0, **delta: float) -> None:
        self.moment += timedelta(seconds=seconds, **delta)


@contextmanager
def postgres_schema(server_url: str) -> Iterator[str]:
    """A new, empty schema on the PostgreSQL server ``server_url`` names, dropped afterwards: the URL
    yielded puts it first on the search path, so tests (and the processes they start) stay apart."""
    base = normalise_url(server_url)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
