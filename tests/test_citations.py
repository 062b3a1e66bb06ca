"""Every source a comment cites can be opened: Belvo's pages, or a document in the repository.

Citations of documents outside the repository (a "facts file", a "threat model", numbered "decisions",
the contract anywhere but ``docs/contract.md``) are refused; every ``docs/belvo.md §N`` and
``docs/security.md X1`` names a section that exists.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
_TEXT = {".py", ".md", ".json", ".kt", ".kts", ".swift", ".ts", ".tsx", ".js", ".html", ".css", ".xml",
         ".plist", ".entitlements", ".toml", ".yaml", ".yml", ".txt", ".ini", ".cfg", ""}  # fmt: skip
_SKIPPED_DIRS = {"node_modules", "build", "__pycache__", "Pods", "DerivedData"}
_OUTSIDE = re.compile(
    r"(?i)facts file|threat model|belvo-ofda-facts|\bdecision \d|\bfacts §?\d"
    r"|(?<!docs/)contract(?:\.md)? (?:section|§)"
)


def _text_files() -> Iterator[Path]:
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".") and d not in _SKIPPED_DIRS]
        for name in files:
            path = Path(directory, name)
            if path.suffix in _TEXT and path != Path(__file__):
                yield path


def _citations(pattern: str) -> Iterator[tuple[Path, str]]:
    compiled = re.compile(pattern)
    for path in _text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in compiled.finditer(text):
            yield path.relative_to(ROOT), match.group(1)


def test_no_citation_of_a_document_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _text_files()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if _OUTSIDE.search(line)
    ]
    assert found == []


def test_the_check_recognises_such_citations() -> None:
    assert _OUTSIDE.search("(facts file section 3.2)")
    assert _OUTSIDE.search("# threat model B1")
    assert _OUTSIDE.search("per decision 4")
    assert _OUTSIDE.search("(contract section 4)")
    assert not _OUTSIDE.search("(docs/belvo.md §3.2, docs/security.md B1, docs/contract.md section 4)")


def _belvo_sections() -> set[str]:
    text = (DOCS / "belvo.md").read_text(encoding="utf-8")
    headings = re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", text, re.MULTILINE)
    items = re.findall(r"^- \*\*(\d+\.\d+)\*\*", text, re.MULTILINE)
    return {*headings, *items}


def _security_rules() -> set[str]:
    text = (DOCS / "security.md").read_text(encoding="utf-8")
    return {
        *re.findall(r"^## ([A-H])\. ", text, re.MULTILINE),
        *re.findall(r"^- \*\*([A-H]\d+)\*\*", text, re.MULTILINE),
    }


@pytest.mark.parametrize(
    ("pattern", "known"),
    [
        (r"docs/belvo\.md,? §(\d+(?:\.\d+)?)", _belvo_sections),
        (r"docs/security\.md ([A-H]\d*)\b", _security_rules),
    ],
    ids=["belvo", "security"],
)
def test_every_cited_section_exists(pattern: str, known: object) -> None:
    assert callable(known)
    sections = known()
    cited = list(_citations(pattern))
    assert cited, "the pattern finds no citation at all"
    assert [f"{path}: {section}" for path, section in cited if section not in sections] == []
