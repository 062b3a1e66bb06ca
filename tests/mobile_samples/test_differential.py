"""The Kotlin and TypeScript parsers agree with the Python parser beyond the fixture corpus: seeded
random deeplinks (odd schemes, hosts and paths, broken and multi-byte percent escapes, repeated and
unknown parameters, callback URL sets with and without an App2App application link, valid and
not) are read by `deeplinks.parse`, written as a
corpus, and run through both platforms' corpus programs."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

import deeplinks
from tests.mobile_samples.toolchains import corpus_env, run_kotlin, run_node_tests

pytestmark = pytest.mark.mobile

UUID = "cb65f82c-dc93-4d3e-8270-9a27528397f5"
# Each ingredient: (usual choices, odd ones). An odd one is picked with probability ODD, so about half
# the URLs parse and the other half fail on one rule or another.
ODD = 0.05
SCHEMES = (
    ["myapp", "ofdaapp", "com.example.ofda", "MyApp", "https"],
    ["javascript", "intent", "my_app", "1app", ""],
)
SEPARATORS = (["://"], [":", ":/", ""])
AUTHORITIES = (
    ["success", "exit", "error", "warning", "event", "belvo", "BELVO", "Success", "app.example.com"],
    ["done", "app.example.com:443", "success:80", "succ%65ss", "user@host", "", "[::1]"],
)
PATHS = (
    [
        *[
            "",
            "",
            "",
            "/success",
            "/exit",
            "/event",
            "/error",
            "/warning",
            "/belvo/success",
            "/success/",
            "/cb",
        ],
        *["/belvo-widget", "/belvo-widget/"],
    ],
    ["/x/", "//exit", "/./exit", "/%2e%2e/exit", "/SUCCESS", "/exit;x", "/succ%65ss"],
)
NAMES = (
    [
        *["link", "institution", "last_encountered_error_code", "last_encountered_error_message"],
        *["meta_data_institution_name", "meta_data_step", "error", "error_message", "warning"],
        *["warning_message", "status", "utm", "x", "access_token", "consent_id", "locale"],
    ],
    ["", "%6c%69nk", "a+b", "__proto__", "f%C3%A9"],
)
VALUES = (
    [UUID, UUID.upper(), "ok", "a+b", "%41", "%2541", "%c3%a3", "%C3%A3o", "%f0%9f%98%80", "abandon-survey"],
    [
        *["", "%zz", "%", "%f", "%ff", "%e2%80%ae", "%00", "%0a", "%c2%85", "%ed%a0%80", "%c0%af"],
        *["a b", "\u00e9", "#frag", "[x]", "a=b"],
    ],
)
APP = {"success": "myapp://belvo/success", "exit": "myapp://belvo/exit", "event": "myapp://belvo/event"}
LINK = "https://app.example.com/belvo-widget"
# App2App: the application link, and links that cannot be one.
APP2APP_SETS: list[Any] = [
    {**APP, "application_link": LINK},
    {**APP, "application_link": LINK + "/"},
    {**APP, "application_link": None},
    {**APP, "application_link": LINK + "?x=1"},
    {**APP, "application_link": "myapp://belvo/resume"},
    {**APP, "application_link": "https://app.example.com/cb"},
    {
        "success": "https://app.example.com/cb",
        "exit": "myapp://x",
        "event": "myapp://e",
        "application_link": "https://app.example.com/cb/",
    },
    {**APP, "app_link": LINK},
]
RESUME_BASES = (
    [LINK, LINK, LINK + "/", "HTTPS://App.Example.COM/belvo-widget"],
    [
        *["http://app.example.com/belvo-widget", "https://evil.example/belvo-widget", LINK + "//"],
        *["https://app.example.com:443/belvo-widget", "https://app.example.com/Belvo-Widget", LINK + "#x"],
    ],
)
CALLBACK_SETS: list[Any] = [
    APP,
    {"success": "ofdaapp://success", "exit": "ofdaapp://exit", "event": "ofdaapp://error"},
    {
        "success": "https://app.example.com/cb?status=success",
        "exit": "https://app.example.com/cb?status=exit",
        "event": "https://app.example.com/cb?status=event",
    },
    {"success": "myapp://cb?t=1", "exit": "myapp://cb", "event": "myapp://e"},
    {"success": "myapp://s", "exit": "myapp://s", "event": "myapp://e"},
    {"success": "myapp://s?link=1", "exit": "myapp://x", "event": "myapp://e"},
    {"success": "javascript://s", "exit": "myapp://x", "event": "myapp://e"},
    {"success": "myapp://s", "exit": "myapp://x"},
    *APP2APP_SETS,
]


def pick(rng: random.Random, choices: tuple[list[str], list[str]]) -> str:
    usual, odd = choices
    return rng.choice(odd if rng.random() < ODD else usual)


# What each kind needs to parse, so that a good share of the URLs are events.
ESSENTIALS = [
    f"link={UUID}&institution=ofmockbank_br_retail",
    "error=ACCESS_TOKEN_NOT_VALID",
    "warning=institution_disabled",
    "last_encountered_error_code=login_error",
    "access_token=tok.1&consent_id=9e763d19&locale=pt",
]


def random_url(rng: random.Random) -> str:
    fields = [pick(rng, NAMES) + "=" + pick(rng, VALUES) for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.7:
        fields.insert(rng.randint(0, len(fields)), rng.choice(ESSENTIALS))
    if rng.random() < ODD:
        fields.append(rng.choice(["", "flag", "=x"]))
    base = pick(rng, SCHEMES) + pick(rng, SEPARATORS) + pick(rng, AUTHORITIES) + pick(rng, PATHS)
    return base + ("?" + "&".join(fields) if fields else "")


def random_resume_url(rng: random.Random) -> str:
    """A URL the bank could send back to the application link, with the usual and odd ingredients."""
    fields = [pick(rng, NAMES) + "=" + pick(rng, VALUES) for _ in range(rng.randint(0, 3))]
    if rng.random() > ODD:
        fields.insert(
            rng.randint(0, len(fields)), "access_token=" + rng.choice(["tok.1", "a+b%2B", "eyJ.x-_"])
        )
    return pick(rng, RESUME_BASES) + ("?" + "&".join(fields) if fields else "")


def differential_corpus(directory: Path, seed: int, count: int) -> int:
    """Writes `count` random cases with the Python parser's answers; returns how many parsed."""
    rng = random.Random(seed)
    cases = []
    for index in range(count):
        case: dict[str, Any] = {"name": f"random-{seed}-{index}"}
        if rng.random() < 0.15:
            case["url"] = random_resume_url(rng)
            case["callback_urls"] = APP2APP_SETS[0] if rng.random() < 0.7 else rng.choice(APP2APP_SETS)
        else:
            case["url"] = random_url(rng)
            if rng.random() < 0.3:
                case["callback_urls"] = rng.choice(CALLBACK_SETS)
        try:
            case["expect"] = deeplinks.parse(case["url"], case.get("callback_urls")).to_dict()
        except deeplinks.DeeplinkError as error:
            case["expect_error"] = error.code
        cases.append(case)
    directory.mkdir()
    (directory / "random.json").write_text(json.dumps(cases, ensure_ascii=False), encoding="utf-8")
    return sum("expect" in case for case in cases)


@pytest.fixture(scope="module")
def random_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("differential") / "fixtures"
    parsed = differential_corpus(directory, seed=20261121, count=1500)
    # Events and errors both, for the comparison to mean something.
    assert 200 < parsed < 1300
    return directory


def test_kotlin_reads_random_deeplinks_as_python_does(random_corpus: Path) -> None:
    result = run_kotlin("CorpusTests", corpus_env(random_corpus))
    assert result.returncode == 0, result.summary()


def test_typescript_reads_random_deeplinks_as_python_does(random_corpus: Path) -> None:
    result = run_node_tests("corpus.test.js", corpus_env(random_corpus))
    assert result.returncode == 0, result.summary()
