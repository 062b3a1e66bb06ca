"""The React Native sample: its TypeScript core compiled by tsc (strict) and tested with Node's test
runner against the deeplink corpus, the shared navigation cases and a running `ofda run`; its screen
type-checked against the real react-native and react-native-webview types."""

from __future__ import annotations

import pytest

from tests.mobile_samples.conftest import LiveBackend
from tests.mobile_samples.fake_backend import FakeBackend
from tests.mobile_samples.toolchains import (
    CORPUS,
    REACT_NATIVE,
    corpus_env,
    lint_react_native_hooks,
    run_node_tests,
    typecheck_react_native_app,
)

pytestmark = pytest.mark.mobile


def test_the_typescript_parser_and_navigation_policy_pass_the_shared_corpus() -> None:
    result = run_node_tests("corpus.test.js", corpus_env(CORPUS))
    assert result.returncode == 0, result.summary()
    assert "# fail 0" in result.output, result.summary()


def test_the_launch_url_is_handed_to_the_flow_once() -> None:
    result = run_node_tests("launchLinks.test.js", {})
    assert result.returncode == 0, result.summary()
    assert "# fail 0" in result.output, result.summary()


def test_the_react_native_screen_type_checks_against_the_real_webview_types() -> None:
    result = typecheck_react_native_app()
    assert result.returncode == 0, result.summary()


def test_the_react_native_hooks_depend_on_exactly_what_they_use() -> None:
    result = lint_react_native_hooks()
    assert result.returncode == 0, result.summary()


def test_the_hook_check_finds_a_callback_that_changes_on_every_render() -> None:
    # What the screen had: `run` depended on the `request` prop (a new object on each render of App),
    # so the launch effect ran again, resumed the session again and remounted the widget.
    screen = (REACT_NATIVE / "src" / "WidgetScreen.tsx").read_text()
    assert "    [show],\n  );" in screen
    broken = screen.replace("    [show],\n  );", "    [show, flow, request],\n  );", 1)
    result = lint_react_native_hooks(stdin=broken, as_file="src/WidgetScreen.tsx")
    assert result.returncode != 0
    assert "unnecessary dependencies: 'flow' and 'request'" in result.output, result.summary()


def test_the_typescript_client_and_flow_work_against_a_running_backend(live_backend: LiveBackend) -> None:
    result = run_node_tests("liveBackend.test.js", live_backend.app_env("typescript-sample-user"))
    assert result.returncode == 0, result.summary()
    assert "# fail 0" in result.output, result.summary()


def test_the_typescript_flow_comes_back_from_the_bank_and_never_loads_a_foreign_widget_url(
    fake_backend: FakeBackend,
) -> None:
    result = run_node_tests("resume.test.js", fake_backend.env())
    assert result.returncode == 0, result.summary()
    assert "# fail 0" in result.output, result.summary()
    resumes = [body for method, path, body in fake_backend.received if path == "/v1/widget-sessions/resume"]
    # A cold start sends the link alone; with a pending session its id goes along (docs/contract.md section 6).
    assert {"url"} in [set(body) for body in resumes]
    assert {"url": resumes[1]["url"], "session_id": "s-pending"} in resumes


def test_the_typescript_consent_badge_shows_for_a_consent_about_to_expire_or_expired() -> None:
    result = run_node_tests("consents.test.js", {})
    assert result.returncode == 0, result.summary()
    assert "# fail 0" in result.output, result.summary()


def test_the_typescript_client_lists_consents_and_renews_an_expired_one(live_backend: LiveBackend) -> None:
    result = run_node_tests("consentsLive.test.js", live_backend.consent_env("typescript-consent-user"))
    assert result.returncode == 0, result.summary()
    assert "# fail 0" in result.output, result.summary()
