"""``POST /api/token/``: Belvo's rules for the widget token request, and the HS512 tokens it answers.

Two request shapes are accepted (docs/contract.md section 5):

* the OFDA request (``widget.openfinance_feature = consent_link_creation``), checked field by field the
  way Belvo documents it (https://developers.belvo.com/docs/hosted-widget-ofda), every broken rule reported
  at once. What Belvo's own examples leave out is optional here too: ``fetch_resources`` (absent from the
  branding page's full example, https://developers.belvo.com/docs/branding-and-customization-ofda, which
  also sends only ``read_institutions,write_links`` as scopes) and a CPF given as a JSON number (the
  example of ``POST /api/token/`` in Belvo's API reference);
* the SDKs' default request (``scopes=read_institutions,write_links`` and no ``widget``), whose token
  opens the widget but carries no callback URLs.

Tokens carry the claims of the tokens Belvo's API reference shows decoded: djangorestframework-simplejwt's
(``token_type``, ``exp``, ``iat``, ``jti``, ``user_id``) plus ``organization_id``, ``organization_name``,
``scopes``, ``environment``, ``api_url``, ``credentials_storage``, ``stale_in``, ``fetch_resources`` and
``iss``. What the token was minted with stays server-side, keyed by ``jti``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import jwt
from jwt.types import Options

from brdocs import is_valid_cnpj, is_valid_cpf
from emulator.errors import ErrorItem, RequestInvalid
from emulator.events import CallbackUrls
from emulator.institutions import OFDA_RESOURCES
from emulator.state import (
    Branding,
    EmulatorState,
    Identification,
    IdentificationType,
    IssuedToken,
    ThemeVar,
    WidgetConfig,
)

ISSUER = "sandbox.belvo.com"
ALGORITHM = "HS512"
# exp - iat of the refresh token in Belvo's own example (docs/belvo.md §1.6)
REFRESH_TTL = timedelta(days=7200)

# "must be sent exactly as shown" (docs/belvo.md §1.3, §0.9).
OFDA_SCOPES = (
    "read_institutions,write_links,read_consents,write_consents,write_consent_callback,delete_consents"
)
OFDA_PERMISSIONS = ("REGISTER", "ACCOUNTS", "CREDIT_CARDS", "CREDIT_OPERATIONS")
KNOWN_SCOPES = frozenset(OFDA_SCOPES.split(",")) | {"read_links"}
# The hosted widget's token, and My Belvo Portal's (Belvo's "My Belvo Portal" page: these scopes, exactly).
LINK_FEATURE = "consent_link_creation"
PORTAL_FEATURE = "consent_management"
PORTAL_SCOPES = "read_consents,write_consents,write_consent_callback"
# What Belvo pulls after an OFDA link is created when the token names no fetch_resources ("12 months of
# OWNERS/ACCOUNTS/TRANSACTIONS/BILLS/INVESTMENTS", https://developers.belvo.com/docs/hosted-widget-ofda).
DEFAULT_FETCH_RESOURCES = ("OWNERS", "ACCOUNTS", "TRANSACTIONS", "BILLS", "INVESTMENTS")
# Belvo's defaults for a link's data retention and credentials (its Link object, OpenAPI 1.35).
DEFAULT_STALE_IN = "365d"
DEFAULT_CREDENTIALS_STORAGE = "365d"
ORGANIZATION_NAME = "Belvo emulator sandbox"
# Belvo's default purpose text, shown as "Propósito do compartilhamento" (docs/belvo.md §1.3).
DEFAULT_PURPOSE = (
    "Soluções financeiras personalizadas oferecidas por meio de recomendações sob medida, visando "
    "melhores ofertas de produtos financeiros e de crédito."
)
MAX_PURPOSE = 600
_CALLBACK_KEYS = frozenset({"success", "exit", "event", "application_link"})
# Callback URL schemes refused, as Belvo would (the backend and deeplinks refuse more; a test checks
# these are among them).
REFUSED_URL_SCHEMES = frozenset({"javascript", "data", "file", "vbscript", "blob"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-_]*):", re.ASCII)
_DURATION = re.compile(r"[1-9][0-9]{0,3}d", re.ASCII)
_HEX_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}", re.ASCII)
# Theme values become CSS declarations on the widget's pages; these characters cannot end a declaration
# or a rule, so a value can only ever be a value (HEX/RGB/RGBA colours, sizes, keywords, shadows).
_THEME_VALUE = re.compile(r"[#(),.%\w\s-]{1,100}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# docs/belvo.md §1.5; each key may also carry a "-dark" suffix. The emulator keeps its own copy, as an
# independent stand-in for Belvo; a test says it agrees with the backend's (server.ofda.THEME_KEYS).
THEME_KEYS = frozenset(
    (
        "--color-primary-base",
        "--nav-bar-title-color",
        "--nav-bar-title-align",
        "--nav-bar-icon-color",
        "--nav-bar-icon-size",
        "--nav-bar-background-color",
        "--nav-bar-box-shadow",
        "--nav-bar-border-color",
        "--nav-bar-left-icon",
        "--nav-bar-right-icon",
        "--button-font-color",
        "--button-font-color-disabled",
        "--button-border-radius",
        "--button-background-color-disabled",
        "--button-opacity-disabled",
        "--button-border-color-disabled",
        "--banner-border-radius",
        "--banner-background-color",
        "--banner-background-color-error",
        "--banner-background-color-info",
        "--banner-background-color-success",
        "--banner-background-color-warning",
        "--banner-border-left-width",
        "--banner-border-color",
        "--banner-border-color-left-error",
        "--banner-border-color-left-success",
        "--banner-border-color-left-info",
        "--banner-border-color-left-warning",
        "--banner-icon-color-error",
        "--banner-icon-color-success",
        "--banner-icon-color-info",
        "--banner-icon-color-warning",
        "--banner-title-color",
        "--banner-body-color",
        "--banner-title-font-weight",
        "--banner-body-font-weight",
        "--banner-box-shadow",
        "--input-text-border-radius",
        "--input-text-border-color",
        "--input-text-outline-border-color",
        "--input-text-placeholder-color",
        "--input-text-label-color",
        "--input-text-label-color-error",
        "--input-text-label-variation",
        "--input-text-icon-color",
        "--tab-text-color",
        "--tab-border-color",
    )
)
_BRANDING_URLS = ("company_icon", "company_logo", "company_terms_url")
_BRANDING_BOOLS = ("show_belvo_middle_logo", "social_proof")
_BRANDING_KEYS = frozenset((*_BRANDING_URLS, *_BRANDING_BOOLS, "company_name", "overlay_background_color"))


class _Errors:
    """Collects every broken rule, like Belvo's DRF serializers, before answering 400."""

    def __init__(self) -> None:
        self.items: list[ErrorItem] = []

    def add(self, field: str, code: str, message: str) -> None:
        self.items.append(ErrorItem(code, message, field))

    def required(self, field: str) -> None:
        self.add(field, "required", "This field is required.")

    def raise_if_any(self) -> None:
        if self.items:
            raise RequestInvalid(tuple(self.items))


def parse_token_request(body: Mapping[str, Any]) -> WidgetConfig:
    """Check a token request body (credentials already checked) and return what the token stands for.

    >>> parse_token_request({"scopes": "read_institutions,write_links"}).callback_urls is None
    True
    >>> parse_token_request({"scopes": "read_institutions,write_links", "fetch_resources": "ACCOUNTS"})
    Traceback (most recent call last):
    ...
    emulator.errors.RequestInvalid: not_a_list: Expected a list of items but got type "str".
    """
    errors = _Errors()
    scopes = _scopes(body.get("scopes"), errors)
    fetch_resources = _fetch_resources(body, errors)
    stale_in = _optional_duration(body, "stale_in", errors)
    credentials_storage = _credentials_storage(body, errors)
    if "link_id" in body:
        errors.add(
            "link_id",
            "unsupported_operation",
            "The emulator does not implement update mode: send no link_id.",
        )
    # What every token carries, with or without the OFDA ``widget`` object.
    common: dict[str, Any] = {
        "scopes": scopes,
        "fetch_resources": fetch_resources or DEFAULT_FETCH_RESOURCES,
        "stale_in": stale_in,
        "credentials_storage": credentials_storage,
        "permissions": OFDA_PERMISSIONS,
    }
    widget = body.get("widget")
    if widget is None:
        errors.raise_if_any()
        return _plain_config(common)
    if not isinstance(widget, Mapping):
        errors.add("widget", "invalid", "Expected an object.")
        errors.raise_if_any()
    widget = cast(Mapping[str, Any], widget)
    feature = widget.get("openfinance_feature")
    if feature == PORTAL_FEATURE:
        return _portal_config(body, widget, common, errors)
    if feature is None:
        errors.required("widget.openfinance_feature")
    elif feature != LINK_FEATURE:
        errors.add(
            "widget.openfinance_feature",
            "invalid_choice",
            f'"{feature}" is not a valid choice: expected "{LINK_FEATURE}" (the hosted widget) or '
            f'"{PORTAL_FEATURE}" (My Belvo Portal).',
        )
    if scopes and "write_links" not in scopes:
        errors.add("scopes", "invalid", f'OFDA link creation needs write_links; send "{OFDA_SCOPES}".')
    callback_urls = _callback_urls(widget.get("callback_urls"), errors)
    consent = widget.get("consent")
    consent_fields = _consent(consent, errors)
    purpose = _purpose(widget, consent, errors)
    branding = _branding(widget.get("branding"), errors)
    theme = _theme(widget.get("theme"), errors)
    color_scheme = widget.get("color_scheme", "LIGHT")
    if color_scheme not in ("LIGHT", "DARK"):
        errors.add("widget.color_scheme", "invalid_choice", f'"{color_scheme}" is not LIGHT or DARK.')
    errors.raise_if_any()
    terms_url, identification, duration = consent_fields
    return WidgetConfig(
        **common,
        callback_urls=callback_urls,
        purpose=purpose,
        terms_url=terms_url,
        identification=identification,
        default_consent_duration_days=duration,
        branding=branding,
        theme=theme,
        color_scheme=cast(Literal["LIGHT", "DARK"], color_scheme),
    )


def _portal_config(
    body: Mapping[str, Any], widget: Mapping[str, Any], common: Mapping[str, Any], errors: _Errors
) -> WidgetConfig:
    """My Belvo Portal's token: whose consents it shows (``widget.consent``), and nothing of a widget."""
    if body.get("scopes") != PORTAL_SCOPES and common["scopes"]:
        errors.add("scopes", "invalid", f'My Belvo Portal requires scopes to be exactly "{PORTAL_SCOPES}".')
    terms_url, identification, _ = _consent(widget.get("consent"), errors)
    errors.raise_if_any()
    return _plain_config(common, feature=PORTAL_FEATURE, terms_url=terms_url, identification=identification)


def _plain_config(common: Mapping[str, Any], **given: Any) -> WidgetConfig:
    """A token with none of the hosted widget's callbacks or looks: the SDKs' default request, or My
    Belvo Portal's; ``given`` sets what it does carry."""
    return WidgetConfig(
        **{
            "callback_urls": None,
            "purpose": DEFAULT_PURPOSE,
            "terms_url": None,
            "identification": (),
            "default_consent_duration_days": None,
            "branding": Branding(),
            "theme": (),
            "color_scheme": "LIGHT",
            **common,
            **given,
        }
    )


def _scopes(value: Any, errors: _Errors) -> tuple[str, ...]:
    if value is None:
        errors.required("scopes")
        return ()
    if not isinstance(value, str):
        errors.add("scopes", "invalid", f"Expected a comma-separated string, got {type(value).__name__}.")
        return ()
    scopes = tuple(s.strip() for s in value.split(","))
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if unknown:
        errors.add("scopes", "invalid", f"Unknown scopes: {', '.join(map(repr, unknown))}.")
        return ()
    return scopes


def _fetch_resources(body: Mapping[str, Any], errors: _Errors) -> tuple[str, ...] | None:
    value = body.get("fetch_resources")
    if value is None:
        return None
    if not isinstance(value, list):
        # Belvo: a comma-separated string is refused with 400 not_a_list (docs/belvo.md §1.3).
        errors.add(
            "fetch_resources",
            "not_a_list",
            f'Expected a list of items but got type "{type(value).__name__}".',
        )
        return None
    unknown = [r for r in value if r not in OFDA_RESOURCES]
    if unknown:
        errors.add(
            "fetch_resources",
            "invalid",
            f"The institution only supports the following resources: {', '.join(OFDA_RESOURCES)}; "
            f"got {', '.join(map(repr, unknown))}.",
        )
        return None
    return tuple(dict.fromkeys(value))


def _optional_duration(body: Mapping[str, Any], field: str, errors: _Errors) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        errors.add(field, "invalid", f'Expected a number of days such as "300d", got {value!r}.')
        return None
    return value


def _credentials_storage(body: Mapping[str, Any], errors: _Errors) -> str | None:
    value = body.get("credentials_storage")
    if value in (None, "store", "nostore"):
        return cast(str | None, value)
    if isinstance(value, str) and _DURATION.fullmatch(value) and int(value[:-1]) <= 365:
        return value
    errors.add(
        "credentials_storage", "invalid", f'Expected "store", "nostore" or "1d" to "365d", got {value!r}.'
    )
    return None


def _url(value: Any, field: str, errors: _Errors, *, https_only: bool) -> str | None:
    if not isinstance(value, str) or not value:
        errors.add(field, "invalid", f"Expected a URL, got {value!r}.")
        return None
    # Belvo's own examples put an underscore in the scheme (your_deeplink_here://success), which
    # RFC 3986, and so urlsplit, does not allow: the scheme is read here, the rest by urlsplit.
    found = _SCHEME.match(value)
    scheme = found[1].lower() if found else ""
    parts = urlsplit("x:" + value[found.end() :]) if found else urlsplit(value)
    if (
        len(value) > 2048
        or _CONTROL.search(value)
        or " " in value
        or not scheme
        or scheme in REFUSED_URL_SCHEMES
        or (https_only and (scheme != "https" or not parts.netloc))
        or not (parts.netloc or parts.path)
    ):
        kind = "an https URL" if https_only else "an absolute URL with a scheme"
        errors.add(field, "invalid", f"Expected {kind}, got {value!r}.")
        return None
    return value


def _callback_urls(value: Any, errors: _Errors) -> CallbackUrls | None:
    field = "widget.callback_urls"
    if value is None:
        errors.required(field)
        return None
    # success, exit, event, and application_link for App2App; Belvo's web example sends success alone
    # (https://developers.belvo.com/docs/ofda-widget-token-configuration,
    # https://developers.belvo.com/docs/hosted-widget-app2app-ofda).
    if not isinstance(value, Mapping) or "success" not in value or not set(value) <= _CALLBACK_KEYS:
        got = sorted(value) if isinstance(value, Mapping) else type(value).__name__
        errors.add(
            field,
            "invalid",
            f"Expected success, optionally with exit, event and application_link, got {got}.",
        )
        return None
    urls = {k: _url(value[k], f"{field}.{k}", errors, https_only=False) for k in value}
    link = urls.get("application_link")
    if link is not None and urlsplit(link).scheme.lower() not in ("https", "http"):
        # A universal link / App Link: the OS opens the app for it without asking. (Belvo wants https;
        # the emulator also takes http, the only scheme a laptop's backend address has.)
        errors.add(f"{field}.application_link", "invalid", f"Expected an https URL, got {link!r}.")
        return None
    if None in urls.values():
        return None
    return CallbackUrls(**cast(dict[str, str], urls))


def _consent(value: Any, errors: _Errors) -> tuple[str | None, tuple[Identification, ...], int | None]:
    field = "widget.consent"
    if not isinstance(value, Mapping):
        if value is None:
            errors.required(field)
        else:
            errors.add(field, "invalid", "Expected an object.")
        return None, (), None
    terms = value.get("terms_and_conditions_url")
    terms_url = None
    if terms is None:
        errors.required(f"{field}.terms_and_conditions_url")
    else:
        terms_url = _url(terms, f"{field}.terms_and_conditions_url", errors, https_only=False)
    permissions = value.get("permissions")
    if permissions is None:
        errors.required(f"{field}.permissions")
    elif not isinstance(permissions, list) or sorted(permissions) != sorted(OFDA_PERMISSIONS):
        errors.add(
            f"{field}.permissions",
            "invalid",
            f"Permissions must be exactly {list(OFDA_PERMISSIONS)}, got {permissions!r}.",
        )
    identification = _identification(value.get("identification_info"), errors)
    duration = value.get("default_consent_duration_days")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int)):
        errors.add(f"{field}.default_consent_duration_days", "invalid", "A valid integer is required.")
        duration = None
    return terms_url, identification, duration


def parse_identification(value: Any, field: str) -> tuple[Identification, ...]:
    """``identification_info`` entries checked with the token endpoint's rules (also used by
    ``/_control/links``); errors name ``field``."""
    errors = _Errors()
    entries = _identification(value, errors, field)
    errors.raise_if_any()
    return entries


def parse_fetch_resources(body: Mapping[str, Any]) -> tuple[str, ...] | None:
    """``body["fetch_resources"]`` checked with the token endpoint's rules (also used by link PATCH and
    refresh); ``None`` when absent."""
    errors = _Errors()
    value = _fetch_resources(body, errors)
    errors.raise_if_any()
    return value


def parse_stale_in(body: Mapping[str, Any]) -> str | None:
    errors = _Errors()
    value = _optional_duration(body, "stale_in", errors)
    errors.raise_if_any()
    return value


def _identification(
    value: Any, errors: _Errors, field: str = "widget.consent.identification_info"
) -> tuple[Identification, ...]:
    if value is None:
        errors.required(field)
        return ()
    if not isinstance(value, list) or not value:
        errors.add(field, "invalid", "Expected a non-empty list of {type, number, name} objects.")
        return ()
    entries: list[Identification] = []
    for index, item in enumerate(value):
        entry = _identification_entry(item, f"{field}.{index}", errors)
        if entry is not None:
            entries.append(entry)
    if len(entries) == len(value):
        kinds = [e.type for e in entries]
        # Individuals send one CPF; businesses a CPF and a CNPJ (docs/belvo.md §1.2).
        if kinds.count("CPF") != 1 or kinds.count("CNPJ") > 1:
            errors.add(
                field,
                "invalid",
                f"Expected one CPF, plus one CNPJ for a business; got {', '.join(kinds)}.",
            )
    return tuple(entries)


def _identification_entry(item: Any, field: str, errors: _Errors) -> Identification | None:
    if not isinstance(item, Mapping):
        errors.add(field, "invalid", "Expected an object with type, number and name.")
        return None
    kind, number, name = item.get("type"), item.get("number"), item.get("name")
    if isinstance(number, int) and not isinstance(number, bool) and number >= 0 and kind in ("CPF", "CNPJ"):
        # Belvo's API reference sends the CPF as a JSON number; leading zeros are lost on the way.
        number = str(number).zfill(11 if kind == "CPF" else 14)
    ok = True
    if kind not in ("CPF", "CNPJ"):
        errors.add(f"{field}.type", "invalid_choice", f'Expected "CPF" or "CNPJ", got {kind!r}.')
        ok = False
    elif not isinstance(number, str) or not (is_valid_cpf if kind == "CPF" else is_valid_cnpj)(number):
        # The value itself is personal data: the message names the rule, not the number.
        errors.add(
            f"{field}.number",
            "invalid",
            f"Expected a {kind} of {11 if kind == 'CPF' else 14} characters with valid check digits.",
        )
        ok = False
    if not isinstance(name, str) or not name.strip() or len(name) > 120 or _CONTROL.search(name):
        errors.add(f"{field}.name", "invalid", "Expected a name of 1 to 120 printable characters.")
        ok = False
    if not ok:
        return None
    return Identification(cast(IdentificationType, kind), cast(str, number), cast(str, name).strip())


def _purpose(widget: Mapping[str, Any], consent: Any, errors: _Errors) -> str:
    # docs/belvo.md §0.1: widget.purpose, where every full example puts it; widget.consent.purpose (the
    # other place Belvo's docs show) is read when widget.purpose is absent.
    field, value = "widget.purpose", widget.get("purpose")
    if value is None and isinstance(consent, Mapping) and "purpose" in consent:
        field, value = "widget.consent.purpose", consent["purpose"]
    if value is None:
        return DEFAULT_PURPOSE
    if not isinstance(value, str) or not value.strip():
        errors.add(field, "invalid", "Expected a non-empty string.")
        return DEFAULT_PURPOSE
    if len(value) > MAX_PURPOSE:
        errors.add(field, "max_length", f"Ensure this field has no more than {MAX_PURPOSE} characters.")
    return value


def _branding(value: Any, errors: _Errors) -> Branding:
    field = "widget.branding"
    if value is None:
        return Branding()
    if not isinstance(value, Mapping):
        errors.add(field, "invalid", "Expected an object.")
        return Branding()
    unknown = sorted(set(value) - _BRANDING_KEYS)
    if unknown:
        errors.add(field, "invalid", f"Unknown branding keys: {', '.join(unknown)}.")
    fields: dict[str, Any] = {}
    for key in _BRANDING_URLS:
        if key in value:
            fields[key] = _url(value[key], f"{field}.{key}", errors, https_only=True)
    for key in _BRANDING_BOOLS:
        if key in value:
            if not isinstance(value[key], bool):
                errors.add(f"{field}.{key}", "invalid", "Must be a valid boolean.")
            else:
                fields[key] = value[key]
    name = value.get("company_name")
    if name is not None:
        if not isinstance(name, str) or not name.strip() or len(name) > 100 or _CONTROL.search(name):
            errors.add(
                f"{field}.company_name", "invalid", "Expected a name of 1 to 100 printable characters."
            )
        else:
            fields["company_name"] = name
    colour = value.get("overlay_background_color")
    if colour is not None:
        if not isinstance(colour, str) or not _HEX_COLOUR.fullmatch(colour):
            errors.add(
                f"{field}.overlay_background_color", "invalid", f"Expected a #RRGGBB colour, got {colour!r}."
            )
        else:
            fields["overlay_background_color"] = colour
    return Branding(**{k: v for k, v in fields.items() if v is not None})


def _theme(value: Any, errors: _Errors) -> tuple[ThemeVar, ...]:
    field = "widget.theme"
    if value is None:
        return ()
    if not isinstance(value, list):
        errors.add(field, "not_a_list", f'Expected a list of items but got type "{type(value).__name__}".')
        return ()
    theme: list[ThemeVar] = []
    for index, item in enumerate(value):
        key = item.get("css_key") if isinstance(item, Mapping) else None
        css_value = item.get("value") if isinstance(item, Mapping) else None
        if not isinstance(key, str) or key.removesuffix("-dark") not in THEME_KEYS:
            errors.add(f"{field}.{index}.css_key", "invalid", f"Unknown css_key {key!r}.")
        elif not isinstance(css_value, str) or not _THEME_VALUE.fullmatch(css_value):
            errors.add(
                f"{field}.{index}.value",
                "invalid",
                f"Expected a HEX, RGB or RGBA colour, a size or a keyword, got {css_value!r}.",
            )
        else:
            theme.append(ThemeVar(key, css_value))
    return tuple(theme)


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


def mint(
    state: EmulatorState,
    config: WidgetConfig,
    key: bytes,
    now: datetime,
    ttl: timedelta,
    *,
    api_url: str = ISSUER,
) -> TokenPair:
    """Sign an access/refresh pair for ``config`` and remember ``config`` under the access ``jti``;
    ``api_url`` is the host (and mount point) the API answers at, the ``api_url`` claim."""
    issued = IssuedToken(uuid.uuid4().hex, config, now, now + ttl)
    refresh_jti = uuid.uuid4().hex
    # The refresh jti points at the same record: a refresh token pasted into the widget URL is then an
    # invalid token with known callbacks, reported on the event URL like any other invalid token.
    state.add_token(issued, aliases=(refresh_jti,))
    claims: dict[str, Any] = {
        "user_id": state.belvo_user_id,
        # One user per sandbox organization, as in Belvo's example, where both ids are the same.
        "organization_name": ORGANIZATION_NAME,
        "organization_id": state.belvo_user_id,
        "scopes": list(config.scopes),
        "environment": "sandbox",
        "api_url": api_url,
        "credentials_storage": config.credentials_storage or DEFAULT_CREDENTIALS_STORAGE,
        "stale_in": config.stale_in or DEFAULT_STALE_IN,
        "fetch_resources": list(config.fetch_resources),
        "iss": ISSUER,
    }
    iat = int(now.timestamp())
    exp = int(issued.expires_at.timestamp())
    access = {"token_type": "access", "exp": exp, "iat": iat, "jti": issued.jti}
    refresh = {"token_type": "refresh", "exp": iat + int(REFRESH_TTL.total_seconds()), "iat": iat}
    return TokenPair(
        access=jwt.encode({**access, **claims}, key, algorithm=ALGORITHM),
        refresh=jwt.encode({**refresh, "jti": refresh_jti, **claims}, key, algorithm=ALGORITHM),
    )


ALREADY_USED = "already used"
_NO_TIME_CHECKS: Options = {"verify_exp": False, "verify_iat": False, "verify_nbf": False}


@dataclass(frozen=True)
class ValidToken:
    token: IssuedToken


@dataclass(frozen=True)
class RejectedToken:
    """Why a widget token was refused; ``token`` is set when its ``jti`` names a token we minted, so the
    widget knows which callback URLs to report the error on."""

    reason: str
    token: IssuedToken | None


def check_access_token(
    state: EmulatorState, raw: str | None, key: bytes, now: datetime, feature: str = LINK_FEATURE
) -> ValidToken | RejectedToken:
    """Whether ``raw`` may drive the widget (or, with ``feature=PORTAL_FEATURE``, My Belvo Portal) now:
    ours, an access token minted for that ``feature``, unexpired, not yet used.

    Expiry is checked against ``now`` (the emulator's clock), not the wall clock, so tests can move time.
    """
    if not raw:
        return RejectedToken("missing", None)
    try:
        unverified = jwt.decode(raw, options={"verify_signature": False})
    except jwt.PyJWTError:
        return RejectedToken("undecodable", None)
    jti = unverified.get("jti")
    known = state.token(jti) if isinstance(jti, str) else None
    try:
        # Time claims are checked below against the emulator's clock (EMULATOR_NOW), not the wall clock.
        claims = jwt.decode(raw, key, algorithms=[ALGORITHM], issuer=ISSUER, options=_NO_TIME_CHECKS)
    except jwt.PyJWTError:
        return RejectedToken("bad signature", known)
    if claims.get("token_type") != "access":
        return RejectedToken("not an access token", known)
    if known is None:
        return RejectedToken("unknown jti", None)
    if known.config.feature != feature:
        return RejectedToken(f"minted for {known.config.feature}", known)
    if known.used:
        return RejectedToken(ALREADY_USED, known)
    if now >= known.expires_at:
        return RejectedToken("expired", known)
    return ValidToken(known)
