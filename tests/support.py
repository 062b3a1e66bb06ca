"""Small helpers shared by the test packages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


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


def assert_error(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The response is an error in the contract's shape (section 2): ``status``, the first error's
    ``code`` and ``field``, and a request id echoed in ``X-Request-Id``."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"errors", "request_id"}
    assert body["errors"][0]["code"] == code
    assert body["errors"][0]["field"] == field
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    assert response.headers["X-Request-Id"] == body["request_id"]
    return body
