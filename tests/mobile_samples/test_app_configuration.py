"""The parts of the samples no compiler here can build (the Android app, the iOS app's plist files,
the React Native screen's props), checked statically for what docs/security.md G asks of them: verified
App Links / universal links, no cleartext in release, a WebView with no bridge into the app, no file
access, and nothing persisted from the widget page."""

from __future__ import annotations

import plistlib
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import tree_sitter

from tests.mobile_samples.toolchains import MOBILE

pytestmark = pytest.mark.mobile

ANDROID_NS = "{http://schemas.android.com/apk/res/android}"
ANDROID_APP = MOBILE / "android" / "app" / "src"
IOS_APP = MOBILE / "ios" / "OFDASample"
RN_SCREEN = MOBILE / "react-native" / "src" / "WidgetScreen.tsx"
RN_WEBVIEW_CLIENT = (
    MOBILE
    / "node_modules"
    / "react-native-webview"
    / "android"
    / "src"
    / "main"
    / "java"
    / "com"
    / "reactnativecommunity"
    / "webview"
    / "RNCWebViewClient.java"
)


def _xml(path: Path) -> ET.Element:
    return ET.parse(path).getroot()  # noqa: S314 (the repository's own files)


def _calls(source: str, function: str) -> bool:
    """Whether `source` calls `function` (a mention in a comment does not count)."""
    return re.search(rf"\b{function}\s*\(", source) is not None


def _android(element: ET.Element, name: str) -> str | None:
    return element.get(ANDROID_NS + name)


def _intent_filters(manifest: ET.Element) -> list[ET.Element]:
    return manifest.findall("./application/activity/intent-filter")


def test_android_app_links_are_verified_https_under_the_backends_app_link_paths() -> None:
    manifest = _xml(ANDROID_APP / "main" / "AndroidManifest.xml")
    app_links = [f for f in _intent_filters(manifest) if _android(f, "autoVerify") == "true"]
    assert len(app_links) == 1
    data = app_links[0].findall("data")
    assert [_android(d, "scheme") for d in data] == ["https"]
    # The backend serves assetlinks.json for APP_LINK_PATHS, /belvo/* by default.
    assert [_android(d, "pathPrefix") for d in data] == ["/belvo/"]
    categories = {_android(c, "name") for c in app_links[0].findall("category")}
    assert "android.intent.category.BROWSABLE" in categories


def test_android_release_builds_refuse_cleartext_and_backups() -> None:
    manifest = _xml(ANDROID_APP / "main" / "AndroidManifest.xml")
    application = manifest.find("application")
    assert application is not None
    assert _android(application, "allowBackup") == "false"
    assert _android(application, "networkSecurityConfig") == "@xml/network_security_config"
    release = _xml(ANDROID_APP / "main" / "res" / "xml" / "network_security_config.xml")
    base = release.find("base-config")
    assert base is not None
    assert base.get("cleartextTrafficPermitted") == "false"


def test_android_nothing_of_the_app_leaves_the_device_in_a_backup_or_transfer() -> None:
    application = _xml(ANDROID_APP / "main" / "AndroidManifest.xml").find("application")
    assert application is not None
    # From Android 12, allowBackup=false no longer stops device-to-device transfer: the rules do.
    assert _android(application, "dataExtractionRules") == "@xml/data_extraction_rules"
    rules = _xml(ANDROID_APP / "main" / "res" / "xml" / "data_extraction_rules.xml")
    everything = {"root", "file", "database", "sharedpref", "external"}
    for section in ("cloud-backup", "device-transfer"):
        block = rules.find(section)
        assert block is not None, section
        assert block.findall("include") == []
        assert {exclude.get("domain") for exclude in block.findall("exclude")} == everything


def test_android_debug_builds_allow_cleartext_to_the_laptop_only() -> None:
    debug = _xml(ANDROID_APP / "debug" / "res" / "xml" / "network_security_config.xml")
    base = debug.find("base-config")
    assert base is not None
    assert base.get("cleartextTrafficPermitted") == "false"
    cleartext = [d for d in debug.findall("domain-config") if d.get("cleartextTrafficPermitted") == "true"]
    domains = [domain for config in cleartext for domain in config.findall("domain")]
    hosts = {(domain.text, domain.get("includeSubdomains")) for domain in domains}
    assert hosts == {("10.0.2.2", "false"), ("127.0.0.1", "false"), ("localhost", "false")}


def test_android_rotation_keeps_the_widget_and_its_page() -> None:
    activity = _xml(ANDROID_APP / "main" / "AndroidManifest.xml").find("./application/activity")
    assert activity is not None
    changes = set((_android(activity, "configChanges") or "").split("|"))
    assert {"orientation", "screenSize", "screenLayout", "smallestScreenSize", "keyboardHidden"} <= changes


def _android_app_source(name: str) -> str:
    return (ANDROID_APP / "main" / "java" / "com" / "example" / "ofda" / "sample" / name).read_text()


def test_android_draws_edge_to_edge_within_the_insets_and_hides_the_widget_from_screenshots() -> None:
    activity = _android_app_source("WidgetActivity.kt")
    assert _calls(activity, "enableEdgeToEdge")
    assert _calls(activity, "ViewCompat.setOnApplyWindowInsetsListener")
    for inset in ("systemBars()", "displayCutout()", "ime()"):
        assert f"WindowInsetsCompat.Type.{inset}" in activity
    assert "window.setFlags(WindowManager.LayoutParams.FLAG_SECURE" in activity


def test_android_handles_the_launch_link_once() -> None:
    activity = _android_app_source("WidgetActivity.kt")
    view_model = _android_app_source("WidgetViewModel.kt")
    # Recents re-delivers the launching intent; the saved state survives process death.
    assert "Intent.FLAG_ACTIVITY_LAUNCHED_FROM_HISTORY" in activity
    assert "val fresh = LAUNCH_HANDLED !in savedState" in view_model


def test_android_webview_has_no_bridge_and_no_file_or_content_access() -> None:
    activity = _android_app_source("WidgetActivity.kt")
    assert not _calls(activity, "addJavascriptInterface")
    for setting in (
        "allowFileAccess = false",
        "allowContentAccess = false",
        "setSupportMultipleWindows(false)",
    ):
        assert setting in activity
    # Everything the page stored goes when the session ends.
    for cleanup in ("clearCache(true)", "WebStorage.getInstance().deleteAllData()", "removeAllCookies"):
        assert cleanup in activity


def test_android_app_kotlin_files_parse() -> None:
    tree_sitter_kotlin = pytest.importorskip("tree_sitter_kotlin", reason="tree-sitter-kotlin (dev extra)")
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_kotlin.language()))
    files = sorted(ANDROID_APP.rglob("*.kt")) + sorted((MOBILE / "android").glob("**/*.gradle.kts"))
    assert files

    def has_error(path: Path) -> bool:
        return bool(parser.parse(path.read_bytes()).root_node.has_error)

    assert [str(path.relative_to(MOBILE)) for path in files if has_error(path)] == []


def test_ios_registers_the_callback_scheme_and_universal_links() -> None:
    info = plistlib.loads((IOS_APP / "Info.plist").read_bytes())
    schemes = [scheme for url_type in info["CFBundleURLTypes"] for scheme in url_type["CFBundleURLSchemes"]]
    assert schemes == ["$(OFDA_CALLBACK_SCHEME)"]
    entitlements = plistlib.loads((IOS_APP / "OFDASample.entitlements").read_bytes())
    assert entitlements["com.apple.developer.associated-domains"] == ["applinks:$(OFDA_APP_LINK_HOST)"]


def test_ios_webview_keeps_nothing_and_has_no_bridge() -> None:
    controller = (IOS_APP / "WidgetViewController.swift").read_text()
    assert "websiteDataStore = .nonPersistent()" in controller
    for bridge in ("addScriptMessageHandler", "WKUserScript", "evaluateJavaScript"):
        assert not _calls(controller, bridge)
    assert "decidePolicyFor navigationAction" in controller


def test_react_native_webview_sends_every_navigation_to_the_policy_and_has_no_bridge() -> None:
    screen = RN_SCREEN.read_text()
    # react-native-webview hands URLs outside originWhitelist straight to Linking.openURL.
    assert 'originWhitelist={["*"]}' in screen
    assert "onShouldStartLoadWithRequest={onShouldStartLoadWithRequest}" in screen
    for bridge in ("onMessage", "injectedJavaScript"):
        assert re.search(rf"\b{bridge}\s*[=:]", screen) is None
    for setting in ("incognito: true", "allowFileAccess: false", "allowUniversalAccessFromFileURLs: false"):
        assert setting in screen


def test_react_native_webview_blocks_a_navigation_javascript_did_not_answer_in_time() -> None:
    # react-native-webview waits 250 ms for onShouldStartLoadWithRequest, then loads the page anyway;
    # the sample's patch (react-native/patches/, applied by npm's postinstall) makes it block instead.
    source = RN_WEBVIEW_CLIENT.read_text()
    timeout = re.search(r"> SHOULD_OVERRIDE_URL_LOADING_TIMEOUT\) \{(.*?)\breturn (\w+);", source, re.DOTALL)
    interrupted = re.search(r"catch \(InterruptedException e\) \{(.*?)\breturn (\w+);", source, re.DOTALL)
    assert timeout is not None, "the waiting code of RNCWebViewClient has changed"
    assert interrupted is not None, "the waiting code of RNCWebViewClient has changed"
    # shouldOverrideUrlLoading returns true to stop the navigation.
    assert (timeout.group(2), interrupted.group(2)) == ("true", "true")


def test_react_native_reads_the_launch_url_through_launch_links() -> None:
    screen = RN_SCREEN.read_text()
    assert "launchLinks.unhandled(await Linking.getInitialURL())" in screen
    assert len(re.findall(r"Linking\.getInitialURL\(", screen)) == 1


@pytest.mark.parametrize(
    "path",
    [
        MOBILE / "react-native" / "App.tsx",
        IOS_APP / "SceneDelegate.swift",
        *sorted((ANDROID_APP / "main").rglob("*.kt")),
    ],
    ids=lambda path: path.name,
)
def test_the_apps_let_the_user_pick_their_bank(path: Path) -> None:
    # A session request naming institutions skips the widget's bank picker (and the sandbox's down,
    # busy and disabled banks and the abandon survey the READMEs describe).
    assert "institutions" not in path.read_text()


IOS_CORE = MOBILE / "ios" / "Sources" / "OFDACore"


def test_ios_core_builds_with_a_linux_swift_toolchain() -> None:
    # On Linux, URLSession is in FoundationNetworking, not Foundation.
    client = (IOS_CORE / "BackendClient.swift").read_text()
    guarded = r"#if canImport\(FoundationNetworking\)\s*(//[^\n]*\n\s*)*import FoundationNetworking\s*#endif"
    assert re.search(guarded, client)


def test_ios_flow_crosses_actors_as_sendable_values_one_call_at_a_time() -> None:
    client = (IOS_CORE / "BackendClient.swift").read_text()
    flow = (IOS_CORE / "WidgetFlow.swift").read_text()
    assert "public final class BackendClient: Sendable" in client
    assert "public actor WidgetFlow" in flow
    assert "public enum Screen: Sendable" in flow
    # An actor alone lets a second call in while the first awaits the backend: each public call
    # goes through the queue.
    public_calls = re.findall(r"public func (\w+)\(", flow)
    assert public_calls == ["start", "forward", "resume", "openedWith"]
    assert len(re.findall(r"try await serialised \{", flow)) == len(public_calls)


def test_ios_hides_the_widget_from_the_app_switcher_and_screen_capture() -> None:
    scene = (IOS_APP / "SceneDelegate.swift").read_text()
    controller = (IOS_APP / "WidgetViewController.swift").read_text()
    assert re.search(r"func sceneWillResignActive\(.*?window\.addSubview\(privacyCover\)", scene, re.DOTALL)
    assert "UIScreen.capturedDidChangeNotification" in controller


def test_ios_sends_the_bank_step_to_the_banks_app_or_a_secure_browser() -> None:
    controller = (IOS_APP / "WidgetViewController.swift").read_text()
    assert "options: [.universalLinksOnly: true]" in controller
    assert "ASWebAuthenticationSession(url: url, callback: .https(" in controller
    assert "SFSafariViewController(url: url)" in controller


CONSENT_SCREENS = {
    # My Belvo Portal opens the way each platform's guidance says for a third-party page.
    ANDROID_APP
    / "main"
    / "java"
    / "com"
    / "example"
    / "ofda"
    / "sample"
    / "ConsentsActivity.kt": "openInCustomTab(",
    IOS_APP / "ConsentsViewController.swift": "SFSafariViewController(url: url)",
    MOBILE / "react-native" / "src" / "ConsentsScreen.tsx": "Linking.openURL(url)",
}


@pytest.mark.parametrize("path", CONSENT_SCREENS, ids=lambda path: path.name)
def test_my_belvo_portal_opens_in_the_platforms_browser_never_a_webview_and_is_never_logged(
    path: Path,
) -> None:
    source = path.read_text()
    assert CONSENT_SCREENS[path] in source
    # The portal and renew URLs carry an access token (docs/contract.md section 7).
    for forbidden in (
        "android.webkit",
        "import WebKit",
        "react-native-webview",
        "Log.",
        "print(",
        "NSLog",
        "os_log",
        "Logger",
        "console.",
    ):
        assert forbidden not in source, forbidden


def test_android_custom_tabs_open_third_party_pages() -> None:
    tabs = (
        ANDROID_APP / "main" / "java" / "com" / "example" / "ofda" / "sample" / "BrowserTabs.kt"
    ).read_text()
    assert "CustomTabsIntent.Builder()" in tabs
    assert "Log." not in tabs


def test_the_android_sample_builds_with_its_gradle_wrapper() -> None:
    """`./gradlew` works on a fresh clone: the scripts are executable, the jar holds the wrapper's main
    class, and the properties name an https Gradle distribution new enough for the catalog's AGP."""
    android = MOBILE / "android"
    assert (android / "gradlew").stat().st_mode & 0o111
    assert (android / "gradlew.bat").is_file()
    with zipfile.ZipFile(android / "gradle" / "wrapper" / "gradle-wrapper.jar") as jar:
        assert "org/gradle/wrapper/GradleWrapperMain.class" in jar.namelist()
    properties = (android / "gradle" / "wrapper" / "gradle-wrapper.properties").read_text()
    url = re.search(r"distributionUrl=(\S+)", properties)
    assert url is not None
    version = re.search(r"https\\://services\.gradle\.org/distributions/gradle-(\d+)\.(\d+)", url.group(1))
    assert version is not None, url.group(1)
    assert (int(version[1]), int(version[2])) >= (8, 13)  # AGP 8.13's minimum
