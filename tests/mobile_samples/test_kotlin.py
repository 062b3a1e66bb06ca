"""The Android sample's plain-Kotlin core, compiled with kotlinc from the npm registry and run on this
machine's Java: its parser against the deeplink corpus, its navigation policy against the shared
cases, and its backend client and widget flow against a running `ofda run`."""

from __future__ import annotations

import pytest

from tests.mobile_samples.conftest import LiveBackend
from tests.mobile_samples.toolchains import CORPUS, corpus_env, run_kotlin

pytestmark = pytest.mark.mobile


def test_the_kotlin_parser_and_navigation_policy_pass_the_shared_corpus() -> None:
    result = run_kotlin("CorpusTests", corpus_env(CORPUS))
    assert result.returncode == 0, result.summary()
    assert result.output.rstrip().endswith(" 0 failed"), result.summary()


def test_the_kotlin_client_and_flow_work_against_a_running_backend(live_backend: LiveBackend) -> None:
    env = {"OFDA_BASE_URL": live_backend.base_url, "OFDA_TOKEN": live_backend.token("kotlin-sample-user")}
    result = run_kotlin("LiveBackendTests", env)
    assert result.returncode == 0, result.summary()
    assert result.output.rstrip().endswith(" 0 failed"), result.summary()
