"""The fixture corpus: every case passes, and the corpus holds what the issue promises."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import deeplinks
from deeplinks import codes
from deeplinks.corpus import FIXTURES_DIRECTORY, KINDS, Fixture, load_fixtures
from deeplinks.errors import CorpusError

FIXTURES = load_fixtures()
RAW_CASES = {
    case["name"]: case
    for path in sorted(FIXTURES_DIRECTORY.glob("*.json"))
    for case in json.loads(path.read_text(encoding="utf-8"))
}


def _ids(fixture: Fixture) -> str:
    return fixture.name


@pytest.mark.parametrize("fixture", FIXTURES, ids=_ids)
def test_case_parses_to_its_expectation(fixture: Fixture) -> None:
    raw = RAW_CASES[fixture.name]
    if "expect" in raw:
        event = deeplinks.parse(fixture.url, fixture.callback_urls)
        # Same JSON, same key order as written in the corpus (the contract's order).
        assert json.dumps(event.to_dict()) == json.dumps(raw["expect"])
    else:
        with pytest.raises(deeplinks.DeeplinkError) as raised:
            deeplinks.parse(fixture.url, fixture.callback_urls)
        assert raised.value.code == raw["expect_error"]


@pytest.mark.parametrize("fixture", [f for f in FIXTURES if f.expect is not None], ids=_ids)
def test_expected_event_survives_build_and_parse(fixture: Fixture) -> None:
    # Short callback URLs, so that the 4096-character case still fits once rebuilt.
    callbacks = {
        "success": "a:success",
        "exit": "a:exit",
        "event": "a:event",
        "application_link": "https://a/r",
    }
    assert fixture.expect is not None
    assert deeplinks.parse(deeplinks.build(fixture.expect, callbacks), callbacks) == fixture.expect


def test_loaded_fixtures_write_back_as_the_files_hold_them() -> None:
    assert {fixture.name: fixture.to_dict() for fixture in FIXTURES} == RAW_CASES


def test_fixtures_come_kind_by_kind_success_first() -> None:
    kinds = [fixture.kind for fixture in FIXTURES]
    assert sorted(kinds, key=KINDS.index) == kinds


def test_corpus_has_every_kind_and_at_least_40_malformed_cases() -> None:
    counts = {kind: len(load_fixtures(kind)) for kind in KINDS}
    assert all(counts.values()), counts
    assert counts["malformed"] >= 40
    assert sum(counts.values()) == len(FIXTURES)


def test_belvo_seed_examples_are_in_the_corpus() -> None:
    # The four deeplinks of Belvo's "Hosted Widget Overview (OFDA)" page, joined onto one line.
    seeds = [
        "your-url-here://success?link=cb65f82c-dc93-4d3e-8270-9a27528397f5&institution=erebor_br_retail",
        "your-url-here://exit?last_encountered_error_code=login_error&last_encountered_error_message="
        "Invalid%20credentials%20provided%20to%20login%20to%20the%20institution"
        "&meta_data_institution_name=amex_mx_retail&meta_data_step=abandon-survey",
        "your-url-here://error?error=ACCESS_TOKEN_NOT_VALID&error_message="
        "The%20access%20token%20was%20not%20provided%20or%20is%20not%20valid",
        "your-url-here://warning?warning=institution_disabled&warning_message="
        "The%20institution%20is%20temporarily%20unavailable.",
    ]
    expected_by_url = {f.url: f.expect for f in FIXTURES if f.callback_urls is None}
    assert all(expected_by_url.get(url) is not None for url in seeds)


def _expected_pairs(kind: str) -> set[tuple[str, str | None]]:
    pairs: set[tuple[str, str | None]] = set()
    for fixture in load_fixtures(kind):
        match fixture.expect:
            case deeplinks.ExitEvent(error=deeplinks.ExitError(code=code, message=message)):
                pairs.add((code, message))
            case deeplinks.ErrorEvent(code=code, message=message):
                pairs.add((code, message))
            case deeplinks.WarningEvent(code=code, message=message):
                pairs.add((code, message))
    return pairs


@pytest.mark.parametrize(
    ("kind", "documented"),
    [("exit", codes.EXIT_MESSAGES), ("error", codes.ERROR_MESSAGES), ("warning", codes.WARNING_MESSAGES)],
)
def test_every_documented_code_and_message_is_a_case(kind: str, documented: dict[str, Any]) -> None:
    wanted = {(code, message) for code, messages in documented.items() for message in messages}
    assert wanted <= _expected_pairs(kind)


def _expected_json(fixture: Fixture) -> str:
    return json.dumps(fixture.expect.to_dict() if fixture.expect else None, ensure_ascii=False)


def _has_extra(fixture: Fixture) -> bool:
    return fixture.expect is not None and bool(fixture.expect.extra)


SHAPES: dict[str, Callable[[Fixture], bool]] = {
    "custom scheme": lambda f: not f.url.startswith(("http://", "https://")),
    "https universal link": lambda f: f.url.startswith("https://"),
    "path like myapp://belvo/success": lambda f: f.url.startswith("myapp://belvo/success"),
    "'+' for spaces": lambda f: "+" in f.url and " " in _expected_json(f),
    "%20 for spaces": lambda f: "%20" in f.url,
    "Portuguese accents": lambda f: "ção" in _expected_json(f),
    "unknown extra parameters": _has_extra,
    "callback URLs given": lambda f: f.callback_urls is not None,
}


@pytest.mark.parametrize("shape", SHAPES)
def test_corpus_covers_the_url_shapes_the_issue_lists(shape: str) -> None:
    assert any(SHAPES[shape](f) for f in FIXTURES if f.expect is not None)


def _write(directory: Path, name: str, cases: Any) -> None:
    (directory / name).write_text(json.dumps(cases), encoding="utf-8")


GOOD = {"name": "ok-case", "url": "myapp://exit", "expect_error": "unknown_event"}


@pytest.mark.parametrize(
    ("cases", "message"),
    [
        ({"name": "x"}, "expected a JSON array"),
        (["text"], "expected an object"),
        ([{**GOOD, "name": "Not_Kebab"}], "kebab-case"),
        ([{**GOOD, "expect": {"type": "exit"}}], "exactly one of expect and expect_error"),
        ([{"name": "x", "url": "myapp://exit"}], "exactly one of expect and expect_error"),
        ([{**GOOD, "expect_error": "nope"}], "expect_error among"),
        ([{**GOOD, "colour": "red"}], "expected the keys"),
        ([{"name": "x", "url": "myapp://exit", "expect": {"type": "exit"}}], "expect is not an event"),
        ([GOOD, GOOD], "already used"),
    ],
)
def test_malformed_corpus_files_are_reported(tmp_path: Path, cases: Any, message: str) -> None:
    _write(tmp_path, "cases.json", cases)
    with pytest.raises(CorpusError, match=message):
        load_fixtures(directory=tmp_path)


def test_names_must_be_unique_across_files(tmp_path: Path) -> None:
    _write(tmp_path, "a.json", [GOOD])
    _write(tmp_path, "b.json", [GOOD])
    with pytest.raises(CorpusError, match=r"b.json\[0\].*already used in a.json\[0\]"):
        load_fixtures(directory=tmp_path)


def test_kind_filter() -> None:
    assert {f.kind for f in load_fixtures("exit")} == {"exit"}
    assert all(f.expect_error for f in load_fixtures("malformed"))
    with pytest.raises(ValueError, match="expected a kind"):
        load_fixtures("cancel")


RESUME_CASES = [f for f in FIXTURES if f.callback_urls is not None and "application_link" in f.callback_urls]


RESUME_SHAPES: dict[str, Callable[[Fixture], bool]] = {
    "valid": lambda f: f.kind == "resume",
    "missing token": lambda f: f.kind == "malformed" and "access_token" not in f.url and "?" in f.url,
    "empty token": lambda f: f.kind == "malformed" and "access_token=&" in f.url,
    "wrong host": lambda f: f.expect_error == "unknown_event" and "//evil." in f.url,
    "http instead of https": lambda f: (
        f.expect_error is not None
        and f.url.startswith("http://")
        and str((f.callback_urls or {})["application_link"]).startswith("https://")
    ),
    "extra keys passed through": lambda f: (
        f.kind == "resume" and len(f.expect.extra) > 1 if f.expect else False
    ),
    "percent-encoded values": lambda f: f.kind == "resume" and "%" in f.url,
    "duplicated known key": lambda f: f.kind == "malformed" and f.url.count("access_token=") > 1,
    "fragment": lambda f: f.kind == "malformed" and "#" in f.url,
    "scheme and host case": lambda f: f.kind == "resume" and f.url.startswith("HTTPS://"),
    "trailing slash": lambda f: f.kind == "resume" and "/?" in f.url,
}


def test_corpus_has_at_least_20_resume_cases_valid_and_refused() -> None:
    assert len(RESUME_CASES) >= 20
    assert len([f for f in RESUME_CASES if f.kind == "resume"]) >= 10
    assert len([f for f in RESUME_CASES if f.kind == "malformed"]) >= 10
    assert [f.name for f in FIXTURES if f.kind == "resume"] == [f.name for f in load_fixtures("resume")]


@pytest.mark.parametrize("shape", RESUME_SHAPES)
def test_resume_cases_cover_the_shapes_the_issue_lists(shape: str) -> None:
    assert any(RESUME_SHAPES[shape](f) for f in RESUME_CASES)


@pytest.mark.parametrize("fixture", [f for f in RESUME_CASES if f.kind == "resume"], ids=_ids)
def test_resume_query_is_the_urls_query_unchanged(fixture: Fixture) -> None:
    assert isinstance(fixture.expect, deeplinks.ResumeEvent)
    assert fixture.url.endswith("?" + fixture.expect.query)
