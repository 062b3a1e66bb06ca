"""The deeplinks command: parse and fixtures, as a tester would run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from deeplinks.cli import main
from deeplinks.corpus import load_fixtures

SEED_EXIT = (
    "your-url-here://exit?last_encountered_error_code=login_error"
    "&last_encountered_error_message=Invalid%20credentials%20provided%20to%20login%20to%20the%20institution"
    "&meta_data_institution_name=amex_mx_retail&meta_data_step=abandon-survey"
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_parse_prints_the_event_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "parse", SEED_EXIT)
    assert (status, err) == (0, "")
    assert json.loads(out) == {
        "type": "exit",
        "error": {
            "code": "login_error",
            "message": "Invalid credentials provided to login to the institution",
        },
        "institution": "amex_mx_retail",
        "step": "abandon-survey",
        "extra": {},
    }


def test_parse_prints_accents_as_they_are(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "parse", "myapp://warning?warning=x&warning_message=Sess%C3%A3o")
    assert status == 0
    assert '"message": "Sessão"' in out


def test_parse_of_a_bad_url_prints_the_error_json_to_stderr_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(capsys, "parse", "myapp://success?link=nope&institution=x")
    assert (status, out) == (2, "")
    assert json.loads(err) == {
        "code": "invalid_deeplink",
        "message": "expected link as a UUID like 'cb65f82c-dc93-4d3e-8270-9a27528397f5'; got 'nope'",
        "field": "link",
    }


def test_parse_with_callback_urls(capsys: pytest.CaptureFixture[str]) -> None:
    callbacks = json.dumps({"success": "a://b/success", "exit": "a://b/exit", "event": "a://b/event"})
    status, out, _ = run(capsys, "parse", "other://b/exit", "--callback-urls", callbacks)
    assert status == 2
    status, out, _ = run(capsys, "parse", "a://b/event?error=X", "--callback-urls", callbacks)
    assert (status, json.loads(out)["type"]) == (0, "error")


@pytest.mark.parametrize("value", ["{not json", "[1, 2]"])
def test_parse_rejects_callback_urls_that_are_not_a_json_object(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["parse", "a://exit", "--callback-urls", value])
    assert raised.value.code == 2
    assert "--callback-urls: expected" in capsys.readouterr().err


def test_fixtures_json_lists_the_whole_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "fixtures", "--json")
    assert status == 0
    assert json.loads(out) == [fixture.to_dict() for fixture in load_fixtures()]


def test_fixtures_table_of_one_kind(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "fixtures", "--kind", "error")
    lines = out.splitlines()
    names = [fixture.name for fixture in load_fixtures("error")]
    assert status == 0
    assert [line.split()[0] for line in lines[:-1]] == names
    assert lines[-1] == f"{len(names)} fixtures"
    assert "seed-error" in lines[0]
    assert "error ACCESS_TOKEN_NOT_VALID" in lines[0]


def test_fixtures_table_shows_control_characters_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "fixtures", "--kind", "malformed")
    line = next(line for line in out.splitlines() if line.startswith("raw-nul-prefix "))
    assert "\\x00myapp://success" in line
    assert "\x00" not in out


def test_python_m_deeplinks_and_the_console_script_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deeplinks", "parse", SEED_EXIT], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["error"]["code"] == "login_error"
    (script,) = [point for point in entry_points(group="console_scripts") if point.name == "deeplinks"]
    assert script.value == "deeplinks.cli:main"


def test_output_cut_short_by_the_reader_ends_quietly() -> None:
    # As `deeplinks fixtures | head` once head has exited: the pipe has no reader left.
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "deeplinks", "fixtures"], stdout=write,
            stderr=subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (1, "")
