"""The fixture corpus every deeplink parser is held to: Python here, Kotlin, TypeScript and Swift
in the mobile samples, and the server's QA page.

`deeplinks/fixtures/*.json` each hold a JSON array of cases::

    {"name": "seed-success",                  unique, kebab-case
     "url": "your-url-here://success?...",    the deeplink, exactly as received
     "callback_urls": {"success": ..., ...},  optional: parse the URL with these
     "expect": {"type": "success", ...},      the event's contract JSON, or else
     "expect_error": "invalid_deeplink",      the DeeplinkError code
     "note": "..."}                           optional: why the case exists

>>> fixtures = load_fixtures("warning")
>>> [fixture.name for fixture in fixtures][:2]
['seed-warning', 'seed-warning-on-facts-callbacks']
>>> fixtures[0].expect.code
'institution_disabled'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from deeplinks.errors import ERROR_CODES, CorpusError, DeeplinkError
from deeplinks.events import (
    ErrorEvent,
    Event,
    ExitError,
    ExitEvent,
    ResumeEvent,
    SuccessEvent,
    WarningEvent,
    from_dict,
)

FIXTURES_DIRECTORY: Final = Path(__file__).parent / "fixtures"
KINDS: Final = ("success", "exit", "error", "warning", "resume", "malformed")
"""A fixture's kind: the type of the event it expects, or `malformed` when it expects an error."""

_NAME: Final = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_REQUIRED: Final = frozenset({"name", "url"})
_OPTIONAL: Final = frozenset({"callback_urls", "expect", "expect_error", "note"})


@dataclass(frozen=True)
class Fixture:
    """One corpus case: a URL and the event (or error code) parsing it must give."""

    name: str
    url: str
    expect: Event | None = None
    expect_error: str | None = None
    callback_urls: Mapping[str, Any] | None = field(default=None, hash=False)
    note: str | None = None

    @property
    def kind(self) -> str:
        return "malformed" if self.expect is None else self.expect.type

    @property
    def summary(self) -> str:
        """What parsing must give, in a few words.

        >>> [fixture.summary for fixture in load_fixtures("exit")][:3]
        ['exit login_error', 'exit login_error', 'exit abandon-survey']
        """
        match self.expect:
            case None:
                return f"rejected: {self.expect_error}"
            case SuccessEvent(institution=institution):
                return f"success {institution}"
            case ExitEvent(error=ExitError(code=code)):
                return f"exit {code}"
            case ExitEvent(step=step, institution=institution):
                return " ".join(["exit", *filter(None, [institution, step])])
            case ErrorEvent(code=code) | WarningEvent(code=code):
                return f"{self.expect.type} {code}"
            case ResumeEvent(locale=locale):
                return " ".join(["resume", *filter(None, [locale])])

    def to_dict(self) -> dict[str, Any]:
        """The case as it is written in the fixture files."""
        case: dict[str, Any] = {"name": self.name, "url": self.url}
        if self.callback_urls is not None:
            case["callback_urls"] = dict(self.callback_urls)
        if self.expect is not None:
            case["expect"] = self.expect.to_dict()
        else:
            case["expect_error"] = self.expect_error
        if self.note is not None:
            case["note"] = self.note
        return case


def load_fixtures(kind: str | None = None, directory: Path | None = None) -> list[Fixture]:
    """Every case of `directory/*.json` (default: the corpus shipped in the package), file by file
    (success.json, exit.json, error.json, warning.json, resume.json, malformed.json, then any
    other in name order), optionally only those of one `kind` (see `KINDS`). A malformed file raises
    `CorpusError` naming the file and case."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"expected a kind among {', '.join(KINDS)}; got {kind!r}")
    fixtures: list[Fixture] = []
    seen: dict[str, str] = {}
    for path in sorted((directory or FIXTURES_DIRECTORY).glob("*.json"), key=_file_order):
        cases = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(cases, list):
            raise CorpusError(f"{path.name}: expected a JSON array of cases")
        for index, case in enumerate(cases):
            where = f"{path.name}[{index}]"
            fixture = _fixture(case, where)
            if fixture.name in seen:
                raise CorpusError(f"{where}: name {fixture.name!r} is already used in {seen[fixture.name]}")
            seen[fixture.name] = where
            if kind is None or fixture.kind == kind:
                fixtures.append(fixture)
    return fixtures


def _file_order(path: Path) -> tuple[int, str]:
    """Files named after a kind first, in the order of `KINDS` (success first), then the rest."""
    return (KINDS.index(path.stem) if path.stem in KINDS else len(KINDS), path.name)


def _fixture(case: object, where: str) -> Fixture:
    if not isinstance(case, dict):
        raise CorpusError(f"{where}: expected an object")
    keys = set(case)
    if not keys >= _REQUIRED or not keys <= _REQUIRED | _OPTIONAL:
        raise CorpusError(
            f"{where}: expected the keys name, url and some of {', '.join(sorted(_OPTIONAL))}; "
            f"got {sorted(keys)}"
        )
    name, url, note = case["name"], case["url"], case.get("note")
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise CorpusError(f"{where}: expected a kebab-case name; got {name!r}")
    if not isinstance(url, str) or not (note is None or isinstance(note, str)):
        raise CorpusError(f"{where} {name}: expected url and note as strings")
    callback_urls = case.get("callback_urls")
    if callback_urls is not None and not isinstance(callback_urls, dict):
        raise CorpusError(f"{where} {name}: expected callback_urls as an object")
    if ("expect" in keys) == ("expect_error" in keys):
        raise CorpusError(f"{where} {name}: expected exactly one of expect and expect_error")
    expect: Event | None = None
    if "expect" in keys:
        try:
            expect = from_dict(case["expect"])
        except DeeplinkError as error:
            raise CorpusError(f"{where} {name}: expect is not an event: {error}") from None
    elif case["expect_error"] not in ERROR_CODES:
        raise CorpusError(
            f"{where} {name}: expected expect_error among {sorted(ERROR_CODES)}; got {case['expect_error']!r}"
        )
    return Fixture(
        name=name,
        url=url,
        expect=expect,
        expect_error=case.get("expect_error"),
        callback_urls=None if callback_urls is None else MappingProxyType(callback_urls),
        note=note,
    )
