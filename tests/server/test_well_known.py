"""The association files that let iOS and Android hand our https callback URLs to the app."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from server.config import ConfigError
from server.storage import database
from tests.conftest import make_app
from tests.server.conftest import REAL_BELVO
from tests.support import assert_error

FINGERPRINT = ":".join(["AB"] * 32)


def app_with(database_url: str, **config: Any) -> Flask:
    app = make_app(database_url, **REAL_BELVO, **config)
    database(app).dispose()
    return app


def test_apple_app_site_association(database_url: str) -> None:
    app = app_with(database_url, IOS_APP_IDS="ABCDE12345.com.example.app", APP_LINK_PATHS="/belvo/*")
    response = app.test_client().get("/.well-known/apple-app-site-association")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    details = response.get_json()["applinks"]["details"]
    assert details == [{"appIDs": ["ABCDE12345.com.example.app"], "components": [{"/": "/belvo/*"}]}]


def test_asset_links(database_url: str) -> None:
    app = app_with(database_url, ANDROID_PACKAGE="com.example.app", ANDROID_CERT_SHA256=FINGERPRINT.lower())
    response = app.test_client().get("/.well-known/assetlinks.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    [statement] = response.get_json()
    assert statement["relation"] == ["delegate_permission/common.handle_all_urls"]
    assert statement["target"] == {
        "namespace": "android_app",
        "package_name": "com.example.app",
        "sha256_cert_fingerprints": [FINGERPRINT],
    }


def test_unconfigured_platforms_are_contract_404s(database_url: str) -> None:
    client = app_with(database_url).test_client()
    assert_error(client.get("/.well-known/apple-app-site-association"), 404, "not_found")
    assert_error(client.get("/.well-known/assetlinks.json"), 404, "not_found")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"IOS_APP_IDS": "com.example.app"}, "IOS_APP_IDS"),
        ({"ANDROID_PACKAGE": "com.example.app"}, "ANDROID_CERT_SHA256"),
        ({"ANDROID_PACKAGE": "com.example.app", "ANDROID_CERT_SHA256": "AB:CD"}, "ANDROID_CERT_SHA256"),
        ({"ANDROID_PACKAGE": "not a package", "ANDROID_CERT_SHA256": FINGERPRINT}, "ANDROID_PACKAGE"),
        ({"APP_LINK_PATHS": "belvo/*"}, "APP_LINK_PATHS"),
    ],
)
def test_misconfiguration_refuses_to_start(database_url: str, setting: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        app_with(database_url, **setting)
