"""Fault injection (docs/contract.md section 5): make chosen paths fail, or slow, a number of times.

A rule ``{"match": "/api/token/", "status": 503, "times": 2, "delay_ms": 0}`` makes the next two requests
whose path (relative to the emulator's root, so the same rule works mounted at ``/sandbox`` or alone)
starts with ``match`` wait ``delay_ms`` and then answer ``status`` with Belvo's error array. ``code``
picks the error code (e.g. ``too_many_sessions``; status then defaults to 400), ``times: -1`` never runs
out, and ``status: null`` only adds latency before the normal answer. The oldest live matching rule wins.

>>> rules = FaultRules()
>>> rule = rules.add(parse_rule({"match": "/api/token/", "code": "too_many_sessions"}))
>>> (rule.status, rules.take("/api/token/").code, rules.take("/api/token/"))
(400, 'too_many_sessions', None)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from emulator.errors import ErrorItem, InjectedFault, RequestInvalid
from emulator.store import Store

# Belvo's documented messages for the codes a test is likely to inject (docs/belvo.md §6.3, OpenAPI 1.35).
MESSAGES = {
    "too_many_sessions": (
        "Impossible to login, a session is already opened with the institution for these credentials"
    ),
    "institution_down": "The financial institution is down, try again later",
    "institution_unavailable": "The financial institution is unavailable",
    "institution_inactive": "The institution has been temporarily deactivated",
    "authentication_failed": "Invalid Secret Keys",
    "operational_limits_reached": "The institution has reached its operational limits",
    "unexpected_error": (
        "Belvo is unable to process the request due to an internal system issue or to an unsupported "
        "response from an institution"
    ),
    "not_found": "Not found.",
}
# Error code for a status given without one; codes without a documented message get a generic one.
_CODE_FOR_STATUS = {
    400: "validation_error",
    401: "authentication_failed",
    403: "permission_denied",
    404: "not_found",
    408: "request_timeout",
    429: "too_many_requests",
    500: "unexpected_error",
    503: "service_unavailable",
}


@dataclass(frozen=True)
class FaultRule:
    match: str
    status: int | None
    times: int
    delay_ms: int
    code: str | None
    id: int = 0

    def error(self) -> InjectedFault | None:
        """The answer this rule forces, or ``None`` for a latency-only rule."""
        if self.status is None:
            return None
        code = self.code or _CODE_FOR_STATUS.get(self.status, "unexpected_error")
        message = MESSAGES.get(code, f"Injected fault: {code}")
        return InjectedFault(self.status, (ErrorItem(code, message),))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_rule(body: Any) -> FaultRule:
    """Check a ``POST /_control/faults`` body; every broken rule is reported at once."""
    if not isinstance(body, Mapping):
        raise RequestInvalid((ErrorItem("invalid", "Expected a JSON object."),))
    problems: list[ErrorItem] = []
    match = body.get("match")
    if not isinstance(match, str) or not match.startswith("/"):
        problems.append(ErrorItem("invalid", f"Expected a path starting with '/', got {match!r}.", "match"))
    code = body.get("code")
    if code is not None and not isinstance(code, str):
        problems.append(ErrorItem("invalid", f"Expected an error code string, got {code!r}.", "code"))
    status = body.get("status", 400 if code else None)
    if status is not None and (not _is_int(status) or not 400 <= status <= 599):
        problems.append(
            ErrorItem("invalid", f"Expected null or an HTTP error status, got {status!r}.", "status")
        )
    times = body.get("times", 1)
    if not _is_int(times) or (times < 1 and times != -1):
        problems.append(
            ErrorItem("invalid", f"Expected a count >= 1, or -1 for ever, got {times!r}.", "times")
        )
    delay = body.get("delay_ms", 0)
    if not _is_int(delay) or not 0 <= delay <= 60_000:
        problems.append(ErrorItem("invalid", f"Expected 0 to 60000 milliseconds, got {delay!r}.", "delay_ms"))
    if not problems and status is None and not delay:
        problems.append(ErrorItem("invalid", "A rule needs a status, a code or a delay_ms.", None))
    if problems:
        raise RequestInvalid(tuple(problems))
    return FaultRule(str(match), status, times, delay, code)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class FaultRules:
    """The live rules of one emulator, in its store: every process sharing the store sees them, and
    each use of a rule is counted once whichever process serves the request."""

    def __init__(self, store: Store | None = None) -> None:
        self._store = store or Store(None)

    def add(self, rule: FaultRule) -> FaultRule:
        with self._store.transaction() as connection:
            cursor = connection.execute("INSERT INTO faults (rule) VALUES ('')")
            rule = replace(rule, id=cursor.lastrowid or 0)
            connection.execute("UPDATE faults SET rule = ? WHERE id = ?", (_dump(rule), rule.id))
            return rule

    def list(self) -> list[FaultRule]:
        with self._store.reading() as connection:
            rows = connection.execute("SELECT rule FROM faults ORDER BY id").fetchall()
        return [_load(row[0]) for row in rows]

    def clear(self) -> None:
        with self._store.transaction() as connection:
            connection.execute("DELETE FROM faults")

    def take(self, path: str) -> FaultRule | None:
        """Consume one use of the first rule matching ``path`` and return it (``None`` if none)."""
        if not any(path.startswith(rule.match) for rule in self.list()):
            return None  # the common case, without taking the write lock
        with self._store.transaction() as connection:
            for rule in self.list():
                if path.startswith(rule.match):
                    if rule.times == 1:
                        connection.execute("DELETE FROM faults WHERE id = ?", (rule.id,))
                    elif rule.times > 1:
                        connection.execute(
                            "UPDATE faults SET rule = ? WHERE id = ?",
                            (_dump(replace(rule, times=rule.times - 1)), rule.id),
                        )
                    return rule
            return None


def _dump(rule: FaultRule) -> str:
    return json.dumps(rule.to_json())


def _load(text: str) -> FaultRule:
    return FaultRule(**json.loads(text))
