"""Small helpers shared by the test packages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


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
