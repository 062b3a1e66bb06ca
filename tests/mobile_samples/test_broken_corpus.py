"""Each platform's check really reads the one corpus: with one expectation broken, all three fail."""

from __future__ import annotations

import pytest

from tests.mobile_samples.conftest import BrokenCorpus
from tests.mobile_samples.toolchains import check_swift_corpus_tests, corpus_env, run_kotlin, run_node_tests

pytestmark = pytest.mark.mobile


def test_kotlin_fails_on_exactly_the_broken_case(broken_corpus: BrokenCorpus) -> None:
    result = run_kotlin("CorpusTests", corpus_env(broken_corpus.directory))
    assert result.returncode != 0, result.summary()
    assert result.output.rstrip().endswith(" 1 failed"), result.summary()
    assert f"FAIL {broken_corpus.file}" in result.output
    assert broken_corpus.name in result.output


def test_typescript_fails_on_exactly_the_broken_case(broken_corpus: BrokenCorpus) -> None:
    result = run_node_tests("corpus.test.js", corpus_env(broken_corpus.directory))
    assert result.returncode != 0, result.summary()
    assert "# fail 1\n" in result.output, result.summary()
    assert "not ok" in result.output
    assert broken_corpus.name in result.output


def test_swift_corpus_tests_no_longer_match_the_broken_corpus(broken_corpus: BrokenCorpus) -> None:
    result = check_swift_corpus_tests(broken_corpus.directory)
    assert result.returncode != 0, result.summary()
    assert "_broken" in result.output, result.summary()
