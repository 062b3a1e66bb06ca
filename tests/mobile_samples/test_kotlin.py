"""The Android sample's plain-Kotlin core, compiled with kotlinc from the npm registry and run on this
machine's Java: its parser against the deeplink corpus, its navigation policy against the shared
cases, and its backend client and widget flow against a running `ofda run`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mobile_samples.conftest import LiveBackend
from tests.mobile_samples.fake_backend import FakeBackend
from tests.mobile_samples.toolchains import CORPUS, KOTLIN, compile_kotlin, corpus_env, run_kotlin

pytestmark = pytest.mark.mobile


def test_the_kotlin_parser_and_navigation_policy_pass_the_shared_corpus() -> None:
    result = run_kotlin("CorpusTests", corpus_env(CORPUS))
    assert result.returncode == 0, result.summary()
    assert result.output.rstrip().endswith(" 0 failed"), result.summary()


def test_the_kotlin_client_and_flow_work_against_a_running_backend(live_backend: LiveBackend) -> None:
    result = run_kotlin("LiveBackendTests", live_backend.app_env("kotlin-sample-user"))
    assert result.returncode == 0, result.summary()
    assert result.output.rstrip().endswith(" 0 failed"), result.summary()


def test_the_kotlin_flow_comes_back_from_the_bank_and_never_loads_a_foreign_widget_url(
    fake_backend: FakeBackend,
) -> None:
    result = run_kotlin("ResumeTests", fake_backend.env())
    assert result.returncode == 0, result.summary()
    assert result.output.rstrip().endswith(" 0 failed"), result.summary()
    resumes = [body for method, path, body in fake_backend.received if path == "/v1/widget-sessions/resume"]
    # A cold start sends the link alone; with a pending session its id goes along (docs/contract.md section 6).
    assert {"url"} in [set(body) for body in resumes]
    assert {"url": resumes[1]["url"], "session_id": "s-pending"} in resumes


def test_the_core_compiles_only_against_the_java_api_android_minsdk_has(tmp_path: Path) -> None:
    # BackendClient once called URLEncoder.encode(String, Charset): Java 10, Android API 33. On
    # Android 8-12L every GET and POST .../events then threw NoSuchMethodError.
    client = KOTLIN / "src" / "main" / "kotlin" / "com" / "example" / "ofda" / "core" / "BackendClient.kt"
    source = client.read_text()
    assert 'URLEncoder.encode(id, "UTF-8")' in source
    scratch = tmp_path / "BackendClient.kt"
    scratch.write_text(
        source.replace('URLEncoder.encode(id, "UTF-8")', "URLEncoder.encode(id, Charsets.UTF_8)")
    )
    others = [path for path in (KOTLIN / "src" / "main").rglob("*.kt") if path.name != client.name]
    result = compile_kotlin([*others, scratch], tmp_path / "classes")
    assert result.returncode != 0
    assert "BackendClient.kt" in result.output, result.summary()
    assert "Charset" in result.output, result.summary()


def test_the_kotlin_consent_badge_shows_for_a_consent_about_to_expire_or_expired() -> None:
    result = run_kotlin("ConsentBadgeTests", {})
    assert result.returncode == 0, result.summary()
    assert result.output.rstrip().endswith(" 0 failed"), result.summary()


def test_the_kotlin_client_lists_consents_and_renews_an_expired_one(live_backend: LiveBackend) -> None:
    result = run_kotlin("ConsentLiveTests", live_backend.consent_env("kotlin-consent-user"))
    assert result.returncode == 0, result.summary()
    assert result.output.rstrip().endswith(" 0 failed"), result.summary()
