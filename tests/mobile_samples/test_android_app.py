"""The Android app module (not only the plain-Kotlin core), compiled by kotlinc against the Android
API 36 and AndroidX signatures: Java stubs made at test time from PyPI's chaquopy-stubs-android*
packages (android_stubs.py), plus the few Kotlin-only AndroidX declarations written by hand
(android_ktx/). What this proves: every Android and AndroidX class, method, property and constant the
app uses exists with parameter types that fit. What it does not: the API level of each call (the stubs
do not carry it), resources and the manifest (no aapt here), and anything at run time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.mobile_samples.toolchains import ANDROID_APP, compile_android_app

pytestmark = pytest.mark.mobile

ACTIVITY = Path("src", "main", "java", "com", "example", "ofda", "sample", "WidgetActivity.kt")


def test_the_android_app_compiles_against_the_android_api_36_signatures(tmp_path: Path) -> None:
    result = compile_android_app(ANDROID_APP, tmp_path)
    assert result.returncode == 0, result.summary()
    assert (tmp_path / "classes" / "com" / "example" / "ofda" / "sample" / "WidgetActivity.class").is_file()


def test_a_misspelt_webview_api_fails_the_compilation(tmp_path: Path) -> None:
    copy = tmp_path / "app"
    shutil.copytree(ANDROID_APP, copy, ignore=shutil.ignore_patterns("build"))
    activity = copy / ACTIVITY
    source = activity.read_text()
    assert "view.loadUrl(widgetUrl)" in source
    activity.write_text(source.replace("view.loadUrl(widgetUrl)", "view.loadURL(widgetUrl)"))
    result = compile_android_app(copy, tmp_path / "out")
    assert result.returncode != 0
    assert "WidgetActivity.kt" in result.output, result.summary()
    assert "loadURL" in result.output, result.summary()
