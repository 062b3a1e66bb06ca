"""Server-owned widget settings are checked at start-up: a misconfigured deployment refuses to start and
says which setting is wrong and what it expected."""

from __future__ import annotations

import json
from typing import Any

import pytest

from server.config import ConfigError, load_settings
from server.ofda import Branding, ThemeEntry
from tests.server.conftest import REAL_BELVO


def settings_with(**config: Any) -> Any:
    return load_settings({**REAL_BELVO, **config}, environ={})


def test_defaults_are_belvos_prescribed_values() -> None:
    widget = settings_with().widget
    assert widget.scopes == (
        "read_institutions",
        "write_links",
        "read_consents",
        "write_consents",
        "write_consent_callback",
        "delete_consents",
    )
    assert widget.permissions == ("REGISTER", "ACCOUNTS", "CREDIT_CARDS", "CREDIT_OPERATIONS")
    assert widget.purpose.startswith("Soluções financeiras personalizadas")
    assert (widget.branding, widget.theme, widget.color_scheme, widget.consent_duration_days) == (None,) * 4


def test_settings_read_from_the_environment() -> None:
    environ = {
        **REAL_BELVO,
        "BRANDING_JSON": '{"company_name": "ACME", "social_proof": false}',
        "THEME_JSON": '[{"css_key": "--nav-bar-title-align", "value": "start"}]',
        "COLOR_SCHEME": "LIGHT",
        "DEFAULT_CONSENT_DURATION_DAYS": "366",
        "FETCH_RESOURCES": "ACCOUNTS, BILLS",
        "BELVO_SCOPES": "write_links,read_institutions,read_consents,write_consents,write_consent_callback,"
        "delete_consents",
        "BELVO_RETRY_SCHEDULE": "1,2.5",
        "BELVO_DEADLINE_SECONDS": "4",
    }
    config = load_settings({}, environ=environ)
    assert config.widget.branding == Branding(company_name="ACME", social_proof=False)
    assert config.widget.theme == (ThemeEntry("--nav-bar-title-align", "start"),)
    assert (config.widget.color_scheme, config.widget.consent_duration_days) == ("LIGHT", 366)
    assert config.widget.fetch_resources == ("ACCOUNTS", "BILLS")
    assert config.belvo_retry.schedule == (1.0, 2.5)
    assert config.belvo_retry.deadline == 4.0
    assert config.widget.scopes[0] == "read_institutions"  # spelt out in another order, sent in Belvo's


def test_real_mode_requires_terms_url() -> None:
    config = {key: value for key, value in REAL_BELVO.items() if key != "TERMS_URL"}
    with pytest.raises(ConfigError, match="TERMS_URL: expected the https URL"):
        load_settings(config, environ={})


def test_secrets_never_show_in_a_repr() -> None:
    text = repr(settings_with())
    assert REAL_BELVO["BELVO_SECRET_PASSWORD"] not in text
    assert REAL_BELVO["BELVO_SECRET_ID"] not in text
    assert REAL_BELVO["APP_JWT_SECRET"] not in text
    assert "webhook-secret" not in text


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"TERMS_URL": "http://acme.example/terms"}, "TERMS_URL: Expected an https URL"),
        ({"BELVO_SCOPES": "read_institutions,write_links"}, "BELVO_SCOPES: Belvo requires exactly"),
        ({"BELVO_CONSENT_PERMISSIONS": "REGISTER"}, "BELVO_CONSENT_PERMISSIONS: Belvo requires exactly"),
        ({"WIDGET_PURPOSE": "x" * 601}, "WIDGET_PURPOSE: expected 1 to 600 characters, got 601"),
        ({"FETCH_RESOURCES": "ACCOUNTS,EMPLOYMENTS"}, "FETCH_RESOURCES: expected distinct values"),
        ({"STALE_IN": "2y"}, "STALE_IN: expected a number of days"),
        ({"DEFAULT_ACCESS_MODE": "forever"}, "DEFAULT_ACCESS_MODE: expected one of single, recurrent"),
        ({"COLOR_SCHEME": "dark"}, "COLOR_SCHEME: expected one of LIGHT, DARK"),
        ({"DEFAULT_CONSENT_DURATION_DAYS": "90"}, "DEFAULT_CONSENT_DURATION_DAYS: expected one of 92, 183"),
        ({"WIDGET_SHOW_CLOSE_DIALOG": "maybe"}, "WIDGET_SHOW_CLOSE_DIALOG: expected true or false"),
        ({"BRANDING_JSON": "{"}, "BRANDING_JSON: expected JSON"),
        ({"BRANDING_JSON": '{"company_logo": "http://acme.example/l.svg"}'},
         "BRANDING_JSON: company_logo: Expected an https URL"),
        ({"BRANDING_JSON": '{"overlay_background_color": "#FFF"}'},
         "BRANDING_JSON: overlay_background_color: Expected a full hex colour"),
        ({"BRANDING_JSON": '{"social_proof": "no"}'}, "BRANDING_JSON: social_proof: Not a valid boolean"),
        ({"BRANDING_JSON": '{"opportunity_loss": "x"}'}, "BRANDING_JSON: opportunity_loss: Unknown field"),
        ({"THEME_JSON": '{"--color-primary-base": "#000"}'}, "THEME_JSON: theme: Not a valid list"),
        ({"THEME_JSON": '[{"css_key": "--colour-primary", "value": "#000"}]'},
         "THEME_JSON: theme.0.css_key: Unknown css_key '--colour-primary'"),
        ({"THEME_JSON": '[{"css_key": "--button-border-color-disabled", "value": "#09EE354"}]'},
         "THEME_JSON: theme.0.value: Expected a colour"),
        ({"THEME_JSON": '[{"css_key": "--nav-bar-icon-size", "value": "big"}]'},
         "THEME_JSON: theme.0.value: Expected a length"),
        ({"THEME_JSON": '[{"css_key": "--nav-bar-title-align", "value": "left"}]'},
         "THEME_JSON: theme.0.value: Expected center, start or end"),
        ({"BELVO_RETRY_SCHEDULE": "3,six"}, "BELVO_RETRY_SCHEDULE: expected comma-separated seconds"),
        ({"BELVO_RETRY_SCHEDULE": "3,-1"}, "BELVO_RETRY_SCHEDULE: expected waits of 0 seconds or more"),
        ({"BELVO_DEADLINE_SECONDS": "0"}, "BELVO_DEADLINE_SECONDS: expected a positive number"),
        ({"BELVO_READ_TIMEOUT": "nan"}, "BELVO_READ_TIMEOUT: expected a positive number"),
        ({"SESSION_RATE_LIMIT_PER_MINUTE": "0"}, "SESSION_RATE_LIMIT_PER_MINUTE: expected a whole number"),
        ({"SESSION_RATE_LIMIT_PER_DAY": "-5"}, "SESSION_RATE_LIMIT_PER_DAY: expected a whole number"),
        ({"SESSION_RATE_LIMIT_PER_IP_PER_MINUTE": "0"}, "SESSION_RATE_LIMIT_PER_IP_PER_MINUTE: expected a"),
        ({"TRUSTED_PROXY_HOPS": "-1"}, "TRUSTED_PROXY_HOPS: expected a whole number of 0 or more"),
        ({"DATABASE_POOL_SIZE": "0"}, "DATABASE_POOL_SIZE: expected a whole number of 1 or more"),
    ],
)  # fmt: skip
def test_misconfiguration_refuses_to_start(setting: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_with(**setting)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("css_key", "value"),
    [
        ("--color-primary-base", "#0663F9"),
        ("--color-primary-base-dark", "#fff"),
        ("--banner-background-color-warning", "rgba(255, 255, 255, 0.5)"),
        ("--banner-box-shadow", "0 2px 4px 0 rgba(0, 0, 0, 0.05)"),
        ("--nav-bar-box-shadow", "none"),
        ("--button-opacity-disabled", "0.2"),
        ("--banner-title-font-weight", "600"),
        ("--input-text-label-variation-dark", "top"),
        ("--nav-bar-left-icon-dark", "arrow_left_dark"),
        ("--banner-border-left-width", "0px"),
    ],
)
def test_documented_theme_values_are_accepted(css_key: str, value: str) -> None:
    theme = json.dumps([{"css_key": css_key, "value": value}])
    assert settings_with(THEME_JSON=theme).widget.theme == (ThemeEntry(css_key, value),)
