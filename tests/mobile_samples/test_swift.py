"""The iOS sample, where no Swift compiler exists: every Swift file parses (tree-sitter-swift), and the
Swift corpus tests are exactly what the generator makes from the current corpus. Running them needs
`swift test` on a Mac (or Linux with a Swift toolchain); see mobile_samples/ios/README.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mobile_samples.toolchains import (
    CORPUS,
    IOS,
    check_swift_corpus_tests,
    swift_files,
    swift_syntax_problems,
)

pytestmark = pytest.mark.mobile


def test_the_ios_sample_has_its_app_core_and_tests() -> None:
    names = {path.name for path in swift_files()}
    assert {"Deeplinks.swift", "WidgetViewController.swift", "DeeplinkCorpusTests.swift"} <= names


@pytest.mark.parametrize("path", swift_files(), ids=lambda path: str(path.relative_to(IOS)))
def test_every_swift_file_parses(path: Path) -> None:
    assert swift_syntax_problems(path.read_bytes()) == []


def test_the_syntax_check_finds_a_broken_swift_file() -> None:
    broken = b"func decide(_ url: String) -> Bool {\n    if url.isEmpty { return false\n}\n"
    assert swift_syntax_problems(broken) != []


def test_the_swift_corpus_tests_are_generated_from_the_current_corpus() -> None:
    result = check_swift_corpus_tests(CORPUS)
    regenerate = "run mobile_samples/ios/scripts/generate_corpus_tests.py"
    assert result.returncode == 0, f"{regenerate}\n{result.summary()}"
