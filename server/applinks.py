"""Universal Links (iOS) and App Links (Android) association files, from configuration.

With https callback URLs (threat model B2: verified links instead of a custom scheme any app can claim),
the phone's OS only hands ``https://<our host>/belvo/...`` to the app after fetching these files from
``/.well-known/`` on that host, over HTTPS and without redirects.

Settings:
    IOS_APP_IDS            comma-separated ``<TEAMID>.<bundle id>`` values
    ANDROID_PACKAGE        the Android application id
    ANDROID_CERT_SHA256    comma-separated SHA-256 fingerprints of the signing certificates
    APP_LINK_PATHS         comma-separated path patterns the apps handle (default ``/belvo/*``)

``APPLICATION_LINK`` (the App2App link the bank sends the user back to) is always covered: its path, and
the same with a trailing slash and anything after it, are added when no pattern above matches them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from server.config import ConfigError

_APPLE_APP_ID = re.compile(r"[A-Z0-9]{10}\.[A-Za-z0-9.-]+")
_ANDROID_PACKAGE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+")
_FINGERPRINT = re.compile(r"([0-9A-F]{2}:){31}[0-9A-F]{2}")


@dataclass(frozen=True)
class AppLinks:
    ios_app_ids: tuple[str, ...]
    android_package: str | None
    android_fingerprints: tuple[str, ...]
    paths: tuple[str, ...]

    def apple_app_site_association(self) -> dict[str, Any] | None:
        """The AASA document, or None when no iOS app is configured.

        >>> links = AppLinks(("ABCDE12345.com.example.app",), None, (), ("/belvo/*",))
        >>> links.apple_app_site_association()["applinks"]["details"][0]["components"]
        [{'/': '/belvo/*'}]
        """
        if not self.ios_app_ids:
            return None
        components = [{"/": path} for path in self.paths]
        return {"applinks": {"details": [{"appIDs": list(self.ios_app_ids), "components": components}]}}

    def asset_links(self) -> list[dict[str, Any]] | None:
        """The Digital Asset Links statement list, or None when no Android app is configured."""
        if not self.android_package:
            return None
        target = {
            "namespace": "android_app",
            "package_name": self.android_package,
            "sha256_cert_fingerprints": list(self.android_fingerprints),
        }
        return [{"relation": ["delegate_permission/common.handle_all_urls"], "target": target}]


def _list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(item.strip() for item in items if item.strip())


def covering(paths: tuple[str, ...], application_link: str | None) -> tuple[str, ...]:
    """``paths`` plus what the application link needs: Belvo's own example returns to the link's path
    with a slash added (https://developers.belvo.com/docs/hosted-widget-app2app-ofda). The patterns'
    ``*`` matches any characters, ``/`` included, as in Apple's components.

    >>> covering(("/belvo/*",), "https://app.example.br/belvo-widget")
    ('/belvo/*', '/belvo-widget', '/belvo-widget/*')
    >>> covering(("/belvo/*",), "https://app.example.br/belvo/app")
    ('/belvo/*',)
    """
    if application_link is None:
        return paths
    path = urlsplit(application_link).path.rstrip("/")
    needed = (path, f"{path}/*")
    probes = (path, f"{path}/", f"{path}/x")
    if all(any(fnmatchcase(probe, pattern) for pattern in paths) for probe in probes):
        return paths
    return paths + tuple(pattern for pattern in needed if pattern not in paths)


def load_app_links(
    overrides: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    *,
    application_link: str | None = None,
) -> AppLinks:
    """Read and validate the settings above; a malformed value refuses start-up. ``application_link``
    is the validated ``APPLICATION_LINK``."""
    env = os.environ if environ is None else environ

    def get(key: str) -> Any:
        return overrides[key] if key in overrides else env.get(key) or None

    ios = _list(get("IOS_APP_IDS"))
    for app_id in ios:
        if not _APPLE_APP_ID.fullmatch(app_id):
            raise ConfigError(f"IOS_APP_IDS: expected <TEAMID>.<bundle id>, got {app_id!r}")
    package = get("ANDROID_PACKAGE")
    if package is not None and not _ANDROID_PACKAGE.fullmatch(str(package)):
        raise ConfigError(
            f"ANDROID_PACKAGE: expected an application id like com.example.app, got {package!r}"
        )
    fingerprints = tuple(f.upper() for f in _list(get("ANDROID_CERT_SHA256")))
    for fingerprint in fingerprints:
        if not _FINGERPRINT.fullmatch(fingerprint):
            raise ConfigError(
                f"ANDROID_CERT_SHA256: expected 32 colon-separated hex bytes, got {fingerprint!r}"
            )
    if package and not fingerprints:
        raise ConfigError("ANDROID_CERT_SHA256: required with ANDROID_PACKAGE (App Links cannot verify)")
    paths = _list(get("APP_LINK_PATHS")) or ("/belvo/*",)
    for path in paths:
        if not path.startswith("/"):
            raise ConfigError(f"APP_LINK_PATHS: expected paths starting with '/', got {path!r}")
    return AppLinks(ios, str(package) if package else None, fingerprints, covering(paths, application_link))
