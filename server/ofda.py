"""What we send Belvo for an OFDA widget: the ``POST /api/token/`` payload and the hosted widget URL.

The payload is described twice on purpose, once as frozen dataclasses (what the backend builds) and once
as marshmallow schemas (its wire shape, docs/belvo.md §1.2). ``TokenRequestSchema().dump(request)``
is the JSON body sent upstream (minus the secret keys, which only :mod:`server.belvo` holds), and the same
schemas *load* the server-owned parts of it (branding, theme) from configuration at start-up, so a value
that Belvo would reject or ignore stops the deployment instead of a user's session.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from marshmallow import Schema, ValidationError, fields, post_dump, post_load, validate, validates_schema

from brdocs import DocumentError, normalise_document, normalise_name
from deeplinks import CallbackUrls, DeeplinkError
from server.errors import CodedMessage

# -- what Belvo prescribes (docs/belvo.md §1.3; §0.9: sent exactly as shown) ---------------

#: "must be sent exactly as shown" for OFDA link creation.
OFDA_SCOPES = (
    "read_institutions",
    "write_links",
    "read_consents",
    "write_consents",
    "write_consent_callback",
    "delete_consents",
)
#: "must be exactly" these; changing them takes a conversation with Belvo's support.
CONSENT_PERMISSIONS = ("REGISTER", "ACCOUNTS", "CREDIT_CARDS", "CREDIT_OPERATIONS")
FETCH_RESOURCES = ("ACCOUNTS", "OWNERS", "TRANSACTIONS", "BILLS", "INVESTMENTS", "INVESTMENT_TRANSACTIONS")
OPENFINANCE_FEATURE = "consent_link_creation"
#: My Belvo Portal's token: these scopes and this feature, with the same ``consent`` object as the widget
#: (Belvo's "My Belvo Portal" page, https://developers.belvo.com/).
PORTAL_SCOPES = ("read_consents", "write_consents", "write_consent_callback")
PORTAL_FEATURE = "consent_management"
#: Belvo's default text for the consent's "Propósito do compartilhamento".
DEFAULT_PURPOSE = (
    "Soluções financeiras personalizadas oferecidas por meio de recomendações sob medida, visando melhores "
    "ofertas de produtos financeiros e de crédito."
)
PURPOSE_MAX_LENGTH = 600
#: The durations the consent screen offers (3, 6, 9, 12 months); anything else preselects "indefinite".
CONSENT_DURATION_DAYS = (92, 183, 275, 366)
COLOR_SCHEMES = ("LIGHT", "DARK")
ACCESS_MODES = ("single", "recurrent")
INSTITUTION_TYPES = ("retail", "business")
DOCUMENT_TYPES = ("CPF", "CNPJ")
#: ``stale_in``: days (1-365) Belvo keeps the user's data after the last retrieval; 365 when not sent.
STALE_IN = re.compile(r"(?:[1-9][0-9]?|[12][0-9]{2}|3[0-5][0-9]|36[0-5])d\Z")

# -- theme values (docs/belvo.md §1.5) ---------------------------------------------------------------

_BYTE = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_ALPHA = r"(?:0|1|0?\.[0-9]+|1\.0+)"
_COLOUR = (
    rf"#(?:[0-9A-Fa-f]{{3}}|[0-9A-Fa-f]{{6}})"
    rf"|rgb\(\s*{_BYTE}\s*,\s*{_BYTE}\s*,\s*{_BYTE}\s*\)"
    rf"|rgba\(\s*{_BYTE}\s*,\s*{_BYTE}\s*,\s*{_BYTE}\s*,\s*{_ALPHA}\s*\)"
)
_LENGTH = r"(?:0|[0-9]{1,3}(?:\.[0-9]+)?(?:px|rem|em|%))"
_SIGNED_LENGTH = r"-?(?:0|[0-9]{1,3}(?:\.[0-9]+)?(?:px|rem|em))"


class ThemeValue(Enum):
    """The kinds of value a theme ``css_key`` takes, each with the pattern its values must match."""

    COLOUR = (_COLOUR, "a colour as #RGB, #RRGGBB, rgb(r, g, b) or rgba(r, g, b, a)")
    LENGTH = (_LENGTH, "a length such as 8px, 1.5rem or 0")
    OPACITY = (_ALPHA, "an opacity between 0 and 1")
    FONT_WEIGHT = (r"[1-9]00|normal|bold", "a font weight: 100-900, normal or bold")
    SHADOW = (
        rf"none|(?:inset\s+)?{_SIGNED_LENGTH}(?:\s+{_SIGNED_LENGTH}){{1,3}}(?:\s+(?:{_COLOUR}))?",
        "none, or one box shadow such as '0 2px 4px 0 rgba(0, 0, 0, 0.05)'",
    )
    ALIGN = (r"center|start|end", "center, start or end")
    LABEL_VARIATION = (r"outlined|top", "outlined or top")
    ICON = (r"[a-z0-9_]{1,64}", "an icon name such as arrow_left")

    def __init__(self, pattern: str, expected: str) -> None:
        self.regex = re.compile(pattern)
        self.expected = expected

    def accepts(self, value: str) -> bool:
        return self.regex.fullmatch(value) is not None


_C, _L = ThemeValue.COLOUR, ThemeValue.LENGTH
_BANNER_KINDS = ("error", "info", "success", "warning")

#: Every documented css_key of the OFDA widget; each also exists with a ``-dark`` suffix.
THEME_KEYS: Mapping[str, ThemeValue] = {
    "--color-primary-base": _C,
    "--nav-bar-title-color": _C,
    "--nav-bar-title-align": ThemeValue.ALIGN,
    "--nav-bar-icon-color": _C,
    "--nav-bar-icon-size": _L,
    "--nav-bar-background-color": _C,
    "--nav-bar-box-shadow": ThemeValue.SHADOW,
    "--nav-bar-border-color": _C,
    "--nav-bar-left-icon": ThemeValue.ICON,
    "--nav-bar-right-icon": ThemeValue.ICON,
    "--button-font-color": _C,
    "--button-font-color-disabled": _C,
    "--button-border-radius": _L,
    "--button-background-color-disabled": _C,
    "--button-opacity-disabled": ThemeValue.OPACITY,
    "--button-border-color-disabled": _C,
    "--banner-border-radius": _L,
    "--banner-background-color": _C,
    **{f"--banner-background-color-{kind}": _C for kind in _BANNER_KINDS},
    "--banner-border-left-width": _L,
    "--banner-border-color": _C,
    **{f"--banner-border-color-left-{kind}": _C for kind in _BANNER_KINDS},
    **{f"--banner-icon-color-{kind}": _C for kind in _BANNER_KINDS},
    "--banner-title-color": _C,
    "--banner-body-color": _C,
    "--banner-title-font-weight": ThemeValue.FONT_WEIGHT,
    "--banner-body-font-weight": ThemeValue.FONT_WEIGHT,
    "--banner-box-shadow": ThemeValue.SHADOW,
    "--input-text-border-radius": _L,
    "--input-text-border-color": _C,
    "--input-text-outline-border-color": _C,
    "--input-text-placeholder-color": _C,
    "--input-text-label-color": _C,
    "--input-text-label-color-error": _C,
    "--input-text-label-variation": ThemeValue.LABEL_VARIATION,
    "--input-text-icon-color": _C,
    "--tab-text-color": _C,
    "--tab-border-color": _C,
}


def theme_value_kind(css_key: str) -> ThemeValue | None:
    """The kind of value ``css_key`` (or its ``-dark`` variant) takes; ``None`` for an unknown key.

    >>> theme_value_kind("--color-primary-base-dark"), theme_value_kind("--colour-primary")
    (<ThemeValue.COLOUR: ...>, None)
    """
    return THEME_KEYS.get(css_key.removesuffix("-dark"))


# -- values ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identification:
    """One ``consent.identification_info`` entry; ``number`` normalised, ``name`` NFC (personal data)."""

    type: Literal["CPF", "CNPJ"]
    number: str
    name: str

    def __repr__(self) -> str:
        return f"Identification(type={self.type!r}, number='***', name='***')"


@dataclass(frozen=True)
class ThemeEntry:
    css_key: str
    value: str


@dataclass(frozen=True)
class Branding:
    """``widget.branding`` (docs/belvo.md §1.4); unset keys are not sent, so Belvo's defaults apply."""

    company_icon: str | None = None
    company_logo: str | None = None
    company_name: str | None = None
    company_terms_url: str | None = None
    show_belvo_middle_logo: bool | None = None
    overlay_background_color: str | None = None
    social_proof: bool | None = None


@dataclass(frozen=True)
class Consent:
    terms_and_conditions_url: str
    permissions: tuple[str, ...]
    identification_info: tuple[Identification, ...]
    default_consent_duration_days: int | None = None


@dataclass(frozen=True)
class Widget:
    purpose: str
    callback_urls: CallbackUrls
    consent: Consent
    openfinance_feature: str = OPENFINANCE_FEATURE
    branding: Branding | None = None
    theme: tuple[ThemeEntry, ...] | None = None
    color_scheme: str | None = None


@dataclass(frozen=True)
class TokenRequest:
    """The OFDA ``POST /api/token/`` body without ``id``/``password``."""

    scopes: tuple[str, ...]
    fetch_resources: tuple[str, ...]
    widget: Widget
    stale_in: str | None = None

    def payload(self) -> dict[str, Any]:
        """The JSON body, as Belvo documents it (its parts may be shared with other bodies: read it, do
        not change it)."""
        # All of it but the person's documents comes from the server's settings and the app's few
        # choices: that part is dumped once per distinct request, and never holds personal data.
        consent = self.widget.consent
        anonymous = replace(self.widget, consent=replace(consent, identification_info=()))
        shared = _dump_shared(replace(self, widget=anonymous))
        widget = shared["widget"]
        documents = _IDENTIFICATIONS_SCHEMA.dump(consent.identification_info)
        return {
            **shared,
            "widget": {**widget, "consent": {**widget["consent"], "identification_info": documents}},
        }


@dataclass(frozen=True)
class PortalWidget:
    consent: Consent
    openfinance_feature: str = PORTAL_FEATURE


@dataclass(frozen=True)
class PortalTokenRequest:
    """The ``POST /api/token/`` body for My Belvo Portal (``consent_management``), without the keys."""

    widget: PortalWidget
    scopes: tuple[str, ...] = PORTAL_SCOPES

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = _PORTAL_TOKEN_REQUEST_SCHEMA.dump(self)
        return body


# -- schemas (the wire shape) ----------------------------------------------------------------------------


def https_url(value: str) -> None:
    """A validator: an absolute ``https`` URL with a host and no user info or whitespace.

    >>> https_url("https://acme.example/icon.svg")
    >>> https_url("http://acme.example/icon.svg")
    Traceback (most recent call last):
    ...
    marshmallow.exceptions.ValidationError: Expected an https URL, got 'http://acme.example/icon.svg'
    """
    parts = urlsplit(value) if value.isascii() and not any(ch.isspace() for ch in value) else None
    if parts is None or parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        raise ValidationError(f"Expected an https URL, got {value!r}")


def _normalised_name(value: str) -> str:
    try:
        return normalise_name(value)
    except DocumentError as exc:
        raise ValidationError(str(exc)) from None


class _WireSchema(Schema):
    """Belvo's fields are optional unless stated: unset (``None``) values are left out of the body."""

    @post_dump
    def _drop_unset(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {key: value for key, value in data.items() if value is not None}


class CommaSeparated(fields.Field[tuple[str, ...]]):
    """Belvo's ``scopes``: one comma-separated string on the wire, a tuple here."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        return ",".join(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[str, ...]:
        if not isinstance(value, str):
            raise ValidationError(f"Expected a comma-separated string, got {type(value).__name__}")
        return tuple(part.strip() for part in value.split(","))


def exactly(expected: Sequence[str], what: str) -> Callable[[Sequence[str]], None]:
    """A validator requiring the same items as ``expected`` (in any order, each once)."""

    def check(value: Sequence[str]) -> None:
        if sorted(value) != sorted(expected):
            raise ValidationError(
                f"Expected {what} to be exactly {','.join(expected)}, got {','.join(value)}"
            )

    return check


def unique(value: Sequence[Any]) -> None:
    if len(set(value)) != len(value):
        raise ValidationError("Expected each value at most once")


class IdentificationSchema(_WireSchema):
    """``{type, number, name}``: ``number`` must pass its check digits (code ``invalid_document``)."""

    type = fields.String(required=True, validate=validate.OneOf(DOCUMENT_TYPES))
    number = fields.String(required=True, validate=validate.Length(max=32))
    name = fields.String(required=True, validate=validate.Length(max=1000), post_load=_normalised_name)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Identification:
        try:
            number = normalise_document(data["type"], data["number"])
        except DocumentError as exc:
            raise ValidationError(CodedMessage("invalid_document", str(exc)), field_name="number") from None
        return Identification(type=data["type"], number=number, name=data["name"])


def check_identification_info(entries: Sequence[Identification]) -> None:
    """One CPF, plus at most one CNPJ (a business is linked by a person who can access its account)."""
    kinds = [entry.type for entry in entries]
    if kinds.count("CPF") != 1 or kinds.count("CNPJ") > 1:
        raise ValidationError(
            "Expected one CPF, and at most one CNPJ beside it, got " + (", ".join(kinds) or "no documents")
        )


class ThemeEntrySchema(_WireSchema):
    css_key = fields.String(required=True)
    value = fields.String(required=True, validate=validate.Length(min=1, max=200))

    @validates_schema
    def _known_key_and_value(self, data: dict[str, Any], **_: Any) -> None:
        kind = theme_value_kind(data["css_key"])
        if kind is None:
            raise ValidationError(
                f"Unknown css_key {data['css_key']!r}; expected one of Belvo's documented keys "
                "(optionally with a -dark suffix)",
                field_name="css_key",
            )
        if not kind.accepts(data["value"]):
            raise ValidationError(
                f"Expected {kind.expected} for {data['css_key']}, got {data['value']!r}", field_name="value"
            )

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> ThemeEntry:
        return ThemeEntry(**data)


class ThemeSchema(Schema):
    """The theme array, loaded on its own from configuration (``THEME_JSON``)."""

    theme = fields.List(fields.Nested(ThemeEntrySchema), required=True, validate=unique)


class BrandingSchema(_WireSchema):
    company_icon = fields.String(validate=https_url)
    company_logo = fields.String(validate=https_url)
    company_name = fields.String(validate=validate.Length(max=1000), post_load=_normalised_name)
    company_terms_url = fields.String(validate=https_url)
    show_belvo_middle_logo = fields.Boolean(truthy={True}, falsy={False})
    overlay_background_color = fields.String(
        validate=validate.Regexp(
            r"#[0-9A-Fa-f]{6}\Z", error="Expected a full hex colour #RRGGBB, got {input!r}"
        )
    )
    social_proof = fields.Boolean(truthy={True}, falsy={False})

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Branding:
        return Branding(**data)


class ConsentSchema(_WireSchema):
    terms_and_conditions_url = fields.String(required=True, validate=https_url)
    permissions = fields.List(
        fields.String(), required=True, validate=exactly(CONSENT_PERMISSIONS, "consent permissions")
    )
    identification_info = fields.List(
        fields.Nested(IdentificationSchema), required=True, validate=check_identification_info
    )
    default_consent_duration_days = fields.Integer(
        strict=True, allow_none=True, validate=validate.OneOf(CONSENT_DURATION_DAYS)
    )

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Consent:
        return Consent(
            terms_and_conditions_url=data["terms_and_conditions_url"],
            permissions=tuple(data["permissions"]),
            identification_info=tuple(data["identification_info"]),
            default_consent_duration_days=data.get("default_consent_duration_days"),
        )


class CallbackUrlsSchema(_WireSchema):
    success = fields.String(required=True)
    exit = fields.String(required=True)
    event = fields.String(required=True)
    application_link = fields.String(allow_none=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> CallbackUrls:
        try:
            return CallbackUrls(**data)
        except DeeplinkError as error:
            raise ValidationError(error.message) from None


class WidgetSchema(_WireSchema):
    # docs/belvo.md §0.1: at widget.purpose, where every full request example puts it.
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=PURPOSE_MAX_LENGTH))
    openfinance_feature = fields.String(required=True, validate=validate.Equal(OPENFINANCE_FEATURE))
    callback_urls = fields.Nested(CallbackUrlsSchema, required=True)
    consent = fields.Nested(ConsentSchema, required=True)
    branding = fields.Nested(BrandingSchema, allow_none=True)
    theme = fields.List(fields.Nested(ThemeEntrySchema), allow_none=True, validate=unique)
    color_scheme = fields.String(allow_none=True, validate=validate.OneOf(COLOR_SCHEMES))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Widget:
        theme = data.get("theme")
        return Widget(**{**data, "theme": None if theme is None else tuple(theme)})


class TokenRequestSchema(_WireSchema):
    scopes = CommaSeparated(required=True, validate=exactly(OFDA_SCOPES, "scopes"))
    stale_in = fields.String(allow_none=True, validate=validate.Regexp(STALE_IN))
    fetch_resources = fields.List(
        fields.String(validate=validate.OneOf(FETCH_RESOURCES)),
        required=True,
        validate=[validate.Length(min=1), unique],
    )
    widget = fields.Nested(WidgetSchema, required=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> TokenRequest:
        return TokenRequest(**{**data, "fetch_resources": tuple(data["fetch_resources"])})


class PortalWidgetSchema(_WireSchema):
    openfinance_feature = fields.String(required=True, validate=validate.Equal(PORTAL_FEATURE))
    consent = fields.Nested(ConsentSchema, required=True)


class PortalTokenRequestSchema(_WireSchema):
    scopes = CommaSeparated(required=True, validate=exactly(PORTAL_SCOPES, "scopes"))
    widget = fields.Nested(PortalWidgetSchema, required=True)


# Built once: a schema instance costs a deep copy of its fields (nested ones included), and dumping
# with it is thread-safe.
_TOKEN_REQUEST_SCHEMA = TokenRequestSchema()
_PORTAL_TOKEN_REQUEST_SCHEMA = PortalTokenRequestSchema()
_IDENTIFICATIONS_SCHEMA = IdentificationSchema(many=True)


@functools.lru_cache(maxsize=64)
def _dump_shared(request: TokenRequest) -> dict[str, Any]:
    body: dict[str, Any] = _TOKEN_REQUEST_SCHEMA.dump(request)
    return body


# -- the hosted widget URL (docs/belvo.md §2) --------------------------------------------------------


@dataclass(frozen=True)
class StartupOptions:
    """Startup parameters of the hosted widget that a session may set (none carries personal data)."""

    access_mode: str | None = None
    institutions: tuple[str, ...] = ()
    institution_types: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    show_close_dialog: bool | None = None
    show_abandon_survey: bool | None = None


def widget_url(base_url: str, access_token: str, external_id: str, options: StartupOptions) -> str:
    """The hosted widget URL for one session, every value URL-encoded.

    ``locale=pt`` is required for OFDA (the widget defaults to Spanish); ``mode=webapp`` and
    ``integration_type=openfinance`` per docs/belvo.md §0.3. Lists are comma-separated, as in Belvo's
    example URL (commas are kept literal: they are legal in a query and readable).

    >>> widget_url("https://widget.belvo.io/", "a.b.c", "u_1", StartupOptions("single", ("x", "y")))
    'https://widget.belvo.io/?access_token=a.b.c&locale=pt&mode=webapp&integration_type=openfinance&country_codes=BR&external_id=u_1&access_mode=single&institutions=x,y'
    """
    params: dict[str, str] = {
        "access_token": access_token,
        "locale": "pt",
        "mode": "webapp",
        "integration_type": "openfinance",
        "country_codes": "BR",
        "external_id": external_id,
    }
    if options.access_mode:
        params["access_mode"] = options.access_mode
    for key, values in (
        ("institutions", options.institutions),
        ("institution_types", options.institution_types),
        ("resources", options.resources),
    ):
        if values:
            params[key] = ",".join(values)
    for key, flag in (
        ("show_close_dialog", options.show_close_dialog),
        ("show_abandon_survey", options.show_abandon_survey),
    ):
        if flag is not None:
            params[key] = "true" if flag else "false"
    separator = "&" if urlsplit(base_url).query else "?"
    return f"{base_url}{separator}{urlencode(params, safe=',')}"


def resumed_widget_url(base_url: str, query: str) -> str:
    """The hosted widget opened with the query the bank sent the app back with, passed through as it came:
    that query, not the first widget URL, carries the consent the user just gave
    (https://developers.belvo.com/docs/hosted-widget-app2app-ofda).

    >>> resumed_widget_url("https://widget.belvo.io/", "access_token=a.b.c&consent_id=9e76&locale=pt")
    'https://widget.belvo.io/?access_token=a.b.c&consent_id=9e76&locale=pt'
    """
    separator = "&" if urlsplit(base_url).query else "?"
    return f"{base_url}{separator}{query}"
