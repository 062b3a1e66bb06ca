"""``/.well-known/apple-app-site-association`` and ``/.well-known/assetlinks.json`` (public).

Served as ``application/json`` with a 200 and no redirect, as both OSes require (MASTG-TEST-0070);
404 in the contract's shape when the platform is not configured.
"""

from __future__ import annotations

from flask import Response, current_app, jsonify

from server.api import Blueprint
from server.applinks import AppLinks
from server.errors import NotFound

bp = Blueprint("well_known", __name__, url_prefix="/.well-known", description="App association files")


def _app_links() -> AppLinks:
    links: AppLinks = current_app.extensions["ofda.applinks"]
    return links


@bp.get("/apple-app-site-association")
@bp.errors(404)
def apple_app_site_association() -> Response:
    """The iOS Universal Links association (IOS_APP_IDS, APP_LINK_PATHS)."""
    document = _app_links().apple_app_site_association()
    if document is None:
        raise NotFound("No iOS app is configured (set IOS_APP_IDS)")
    return jsonify(document)


@bp.get("/assetlinks.json")
@bp.errors(404)
def asset_links() -> Response:
    """The Android App Links statements (ANDROID_PACKAGE, ANDROID_CERT_SHA256)."""
    document = _app_links().asset_links()
    if document is None:
        raise NotFound("No Android app is configured (set ANDROID_PACKAGE and ANDROID_CERT_SHA256)")
    return jsonify(document)
