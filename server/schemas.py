"""Request and response schemas of widget sessions (docs/contract.md section 4); ``/openapi.json`` is built
from them, so the documentation and the validation cannot drift apart.

Unknown fields are refused (marshmallow's ``RAISE``): that is also what keeps a client from choosing
callback URLs, branding, scopes or permissions, which only the server configures (docs/security.md B1).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from server.models import SessionStatus
from server.ofda import (
    ACCESS_MODES,
    FETCH_RESOURCES,
    INSTITUTION_TYPES,
    PURPOSE_MAX_LENGTH,
    STALE_IN,
    Identification,
    IdentificationSchema,
    StartupOptions,
    check_identification_info,
    unique,
)

#: The statuses a client sees (a reservation is never shown: its id is not given out before it is a session).
SESSION_STATUSES = [status.value for status in SessionStatus if status is not SessionStatus.RESERVING]
#: Belvo institution codes look like ``ofmockbank_br_retail``; business banks end in ``_business``.
INSTITUTION_CODE = r"[a-z0-9_]{1,64}\Z"
BUSINESS_SUFFIX = "_business"
MAX_INSTITUTIONS = 50


@dataclass(frozen=True)
class SessionRequest:
    """A validated ``POST /v1/widget-sessions`` body; ``None`` means "the server's default"."""

    identification_info: tuple[Identification, ...]
    options: StartupOptions
    fetch_resources: tuple[str, ...] | None = None
    stale_in: str | None = None
    purpose: str | None = None
    #: False: no App2App for this session even when ``APPLICATION_LINK`` is set.
    app2app: bool = True


def _display_text(value: str) -> None:
    """Text the widget shows the user: no control or invisible formatting characters."""
    if any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in value):
        raise ValidationError("Expected text without control or formatting characters")


def _codes(choices: tuple[str, ...], *, min_length: int = 0) -> fields.List[str]:
    return fields.List(
        fields.String(validate=validate.OneOf(choices)),
        validate=[validate.Length(min=min_length, max=len(choices)), unique],
        metadata={"description": f"Any of {', '.join(choices)}, each once."},
    )


def _identification_info(description: str) -> fields.List[Identification]:
    return fields.List(
        fields.Nested(IdentificationSchema),
        required=True,
        validate=check_identification_info,
        metadata={
            "description": f"{description} Numbers may be formatted (761.092.776-73); their check digits "
            "must match."
        },
    )


class WidgetSessionRequestSchema(Schema):
    identification_info = _identification_info(
        "The person (CPF) whose accounts are linked and, for a business, its CNPJ."
    )
    access_mode = fields.String(
        validate=validate.OneOf(ACCESS_MODES),
        metadata={"description": "single or recurrent; the server's DEFAULT_ACCESS_MODE when absent."},
    )
    institutions = fields.List(
        fields.String(validate=validate.Regexp(INSTITUTION_CODE)),
        validate=[validate.Length(max=MAX_INSTITUTIONS), unique],
        metadata={"description": "Belvo institution codes the widget offers, e.g. ofmockbank_br_retail."},
    )
    institution_types = _codes(INSTITUTION_TYPES)
    resources = _codes(FETCH_RESOURCES)
    fetch_resources = _codes(FETCH_RESOURCES, min_length=1)
    stale_in = fields.String(
        validate=validate.Regexp(STALE_IN, error="Expected a number of days such as 300d (1d to 365d)"),
        metadata={"description": "How long Belvo keeps the data after the last retrieval, e.g. 300d."},
    )
    purpose = fields.String(
        validate=[
            validate.Length(min=1, max=PURPOSE_MAX_LENGTH, error="Expected {min} to {max} characters"),
            _display_text,
        ],
        metadata={"description": f"The consent's purpose text, at most {PURPOSE_MAX_LENGTH} characters."},
    )
    locale = fields.String(
        validate=validate.OneOf(["pt"]), metadata={"description": "Only pt: the OFDA widget is Portuguese."}
    )
    app2app = fields.Boolean(
        truthy={True},
        falsy={False},
        metadata={
            "description": "false: leave the application link out of this session's token (an app "
            "version without universal links / App Links). Default true: App2App whenever the server "
            "has an APPLICATION_LINK."
        },
    )

    @validates_schema(skip_on_field_errors=True)
    def _business_needs_a_cnpj(self, data: dict[str, Any], **_: Any) -> None:
        """A business account is linked by a person for a company: Belvo's widget asks for both documents
        (https://developers.belvo.com/docs/hosted-widget-ofda), so without a CNPJ it dead-ends."""
        if any(entry.type == "CNPJ" for entry in data["identification_info"]):
            return
        for index, code in enumerate(data.get("institutions", ())):
            if code.endswith(BUSINESS_SUFFIX):
                raise ValidationError(
                    f"{code} is a business institution: identification_info needs the company's CNPJ "
                    "beside the CPF",
                    f"institutions.{index}",
                )
        if data.get("institution_types") == ["business"]:
            raise ValidationError(
                "Only business institutions: identification_info needs the company's CNPJ beside the CPF",
                "institution_types",
            )

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> SessionRequest:
        def optional(key: str) -> tuple[str, ...] | None:
            return tuple(data[key]) if key in data else None

        return SessionRequest(
            identification_info=tuple(data["identification_info"]),
            options=StartupOptions(
                access_mode=data.get("access_mode"),
                institutions=tuple(data.get("institutions", ())),
                institution_types=tuple(data.get("institution_types", ())),
                resources=tuple(data.get("resources", ())),
            ),
            fetch_resources=optional("fetch_resources"),
            stale_in=data.get("stale_in"),
            purpose=data.get("purpose"),
            app2app=data.get("app2app", True),
        )


class PortalRequestSchema(Schema):
    """``POST /v1/consent-portal`` and ``POST /v1/links/{id}/consent-renewal``: who the portal is for."""

    identification_info = _identification_info(
        "The person (CPF) whose consents My Belvo Portal shows and, for a business, its CNPJ."
    )

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> tuple[Identification, ...]:
        return tuple(data["identification_info"])


# -- responses -------------------------------------------------------------------------------------------

_TIMESTAMP = {"format": "date-time", "description": "UTC, e.g. 2026-11-21T12:10:00Z"}


class CallbackUrlsSchema(Schema):
    success = fields.String(required=True)
    exit = fields.String(required=True)
    event = fields.String(required=True)
    application_link = fields.String(
        metadata={"description": "The App2App link the bank sends the user back to, when the session has one"}
    )


class ExitErrorSchema(Schema):
    code = fields.String()
    message = fields.String(allow_none=True)


class DeeplinkEventSchema(Schema):
    """A typed deeplink event (docs/contract.md section 3); which keys appear depends on ``type``."""

    type = fields.String(
        required=True, validate=validate.OneOf(["success", "exit", "error", "warning", "resume"])
    )
    link_id = fields.String(metadata={"description": "success"})
    institution = fields.String(allow_none=True, metadata={"description": "success, exit"})
    error = fields.Nested(ExitErrorSchema, allow_none=True, metadata={"description": "exit"})
    step = fields.String(allow_none=True, metadata={"description": "exit"})
    code = fields.String(metadata={"description": "error, warning"})
    message = fields.String(allow_none=True, metadata={"description": "error, warning"})
    consent_id = fields.String(allow_none=True, metadata={"description": "resume"})
    locale = fields.String(allow_none=True, metadata={"description": "resume"})
    query = fields.String(
        metadata={
            "description": "resume: the query the bank sent the app back with; in a session's stored "
            "events, without its access_token"
        }
    )
    extra = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class WidgetSessionCreatedSchema(Schema):
    """The ``201`` answer to ``POST /v1/widget-sessions`` (exactly the contract's keys)."""

    id = fields.String(required=True, metadata={"description": "ws_ followed by a random string"})
    status = fields.String(
        required=True,
        validate=validate.OneOf(SESSION_STATUSES),
        metadata={
            "description": "pending until the widget is done: succeeded, exited or failed; expired past "
            "expires_at; cancelled when the app cancelled it or a newer session of the user replaced it"
        },
    )
    widget_url = fields.String(
        allow_none=True,
        metadata={
            "description": "The hosted widget URL to open in a webview; it carries Belvo's access token. "
            "Present while the session is pending."
        },
    )
    expires_at = fields.String(required=True, metadata=_TIMESTAMP)
    external_id = fields.String(required=True, metadata={"description": "The user's opaque id at Belvo"})
    callback_urls = fields.Nested(CallbackUrlsSchema, required=True)


class WidgetSessionSchema(WidgetSessionCreatedSchema):
    """A session, its status and the events received (``GET /v1/widget-sessions/{id}``)."""

    created_at = fields.String(required=True, metadata=_TIMESTAMP)
    link_id = fields.String(allow_none=True, metadata={"description": "The verified link, once succeeded"})
    institution = fields.String(allow_none=True)
    events = fields.List(fields.Nested(DeeplinkEventSchema), required=True)
