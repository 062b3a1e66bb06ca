"""The HTTP layer's common parts: the OpenAPI-generating ``Api``, the contract's error shape for every
failure (ours, werkzeug's and marshmallow's), JSON-only request bodies and the ``/docs`` page."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import IO, Any, TypeVar

import flask
import flask_smorest
from flask import Flask, Response, current_app, jsonify, render_template, request
from marshmallow import Schema, fields
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from server.errors import (
    HTTP_STATUS_ERRORS,
    ApiError,
    ErrorDetail,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    Unavailable,
    Unprocessable,
    UnsupportedMediaType,
    flatten_messages,
)
from server.observability import current_request_id, new_request_id
from server.storage import database

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def error_response(error: ApiError) -> Response:
    request_id = current_request_id() or new_request_id()
    response = jsonify(error.body(request_id))
    response.status_code = error.status
    response.headers.update(error.headers())
    response.headers["X-Request-Id"] = request_id
    return response


def _from_http_exception(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if messages and status in (400, 422):
        details = list(flatten_messages(messages))
        if status == 400:
            # webargs answers 400 only for a body it could not decode as JSON.
            return InvalidRequest("The request body is not valid JSON", field=None)
        first, *rest = details or [ErrorDetail("validation_error", "Invalid input")]
        return Unprocessable(first.message, code=first.code, field=first.field, details=rest)
    if isinstance(exc, WerkzeugMethodNotAllowed):
        return MethodNotAllowed(_DESCRIPTIONS[405], allow=sorted(exc.valid_methods or ()))
    error_class = HTTP_STATUS_ERRORS.get(status)
    if error_class is None:
        return ApiError(exc.description or "Internal error")
    return error_class(_DESCRIPTIONS.get(status) or exc.description or exc.name)


_DESCRIPTIONS = {
    404: "No such resource",
    405: "This method is not allowed on this resource",
    413: "The request body is too large",
}


class _BoundedStream(LimitedStream):
    """A body sent without ``Content-Length`` (chunked), read up to the size limit. werkzeug's own stream
    stops at the limit and hands on what it read, so an oversized chunked body arrived truncated (a 400
    "not valid JSON" instead of 413); this one looks one byte past the limit."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(stream, limit, is_max=True)
        self._source = stream

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted and self._source.read(1):
            raise RequestEntityTooLarge()
        return data


class Request(flask.Request):
    """Flask's request, refusing an oversized chunked body with 413 like an oversized sized one."""

    @cached_property
    def stream(self) -> IO[bytes]:
        limit = self.max_content_length
        if self.content_length is None and limit is not None and "wsgi.input_terminated" in self.environ:
            return _BoundedStream(self.environ["wsgi.input"], limit)  # type: ignore[return-value]
        return get_input_stream(self.environ, max_content_length=limit)


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={"example": "invalid_document"})
    message = fields.String(required=True, metadata={"example": "CPF check digits do not match"})
    field = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "Dotted path of the input at fault, or null",
            "example": "identification_info.0.number",
        },
    )


class ErrorSchema(Schema):
    """Every error the API answers (docs/contract.md section 2); ``request_id`` is also the
    ``X-Request-Id``."""

    errors = fields.List(fields.Nested(ErrorDetailSchema), required=True)
    request_id = fields.String(required=True, metadata={"example": "4f6c0d6ab0b84f0c9d0d3f4a2e1f9b7c"})


class Api(flask_smorest.Api):  # type: ignore[misc]
    """flask-smorest's Api answering every HTTP error in the contract's shape, and documenting that shape
    as the error response of every operation."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        return error_response(_from_http_exception(error))


class JsonParser(FlaskParser):
    """webargs' parser, answering a body nested deeper than Python's JSON decoder goes (64 KiB of ``[``)
    with 400 instead of letting its ``RecursionError`` become a 500."""

    def _raw_load_json(self, req: Any) -> Any:
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            raise InvalidRequest("The request body is JSON nested too deeply") from None


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    """flask-smorest's Blueprint with :class:`JsonParser`; every view module should use this one."""

    ARGUMENTS_PARSER = JsonParser()

    def errors(self, *statuses: int) -> Callable[[F], F]:
        """Document the error statuses an operation answers, each in the contract's error shape.

        Goes between the route and the view, like the other documentation decorators.
        """

        def decorate(view: F) -> F:
            documented = view
            for status in statuses:
                documented = self.alt_response(status, response=HTTPStatus(status).name)(documented)
            # flask-smorest's wrappers only carry the documentation; a request would go through each.
            view._apidoc = documented._apidoc  # type: ignore[attr-defined]
            return view

        return decorate


def check_database() -> None:
    """Raise :class:`Unavailable` unless the database answers and has every migration applied."""
    db = database()
    try:
        db.ping()
        schema = db.schema()
    except SQLAlchemyError:
        raise Unavailable("The database is not reachable", code="database_unavailable") from None
    if not schema.at_head:
        raise Unavailable(f"The service is not ready: {schema.describe()}", code="database_not_migrated")


def without_body(view: F) -> F:
    """Mark a POST view that takes no body (an action, such as a cancel): it may be sent empty. Goes
    right under the route decorator, on the function Flask calls."""
    view.takes_no_body = True  # type: ignore[attr-defined]
    return view


def require_json_body() -> None:
    """Bodies sent to the API must be JSON objects sent as JSON (docs/contract.md section 2)."""
    if request.method not in {"POST", "PUT", "PATCH"}:
        return
    if not request.content_length and not request.get_data(cache=True):
        view = current_app.view_functions.get(request.endpoint or "")
        if getattr(view, "takes_no_body", False):
            return
        raise InvalidRequest("Expected a JSON object as the request body; the body is empty")
    if not request.is_json:
        raise UnsupportedMediaType(
            f"Expected Content-Type: application/json, got {request.mimetype or 'none'!r}"
        )


def init_app(app: Flask) -> Api:
    app.config.update(
        API_TITLE="ofda-widget-backend",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                    # Belvo's webhooks: the static Authorization value configured at Belvo.
                    "belvoWebhookAuth": {"type": "apiKey", "in": "header", "name": "Authorization"},
                }
            }
        },
    )
    app.request_class = Request
    api = Api(app)
    app.register_error_handler(ApiError, error_response)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return error_response(_from_http_exception(exc))
        if isinstance(exc, SQLAlchemyError):
            # An unreachable or unmigrated database fails every request alike: answer what readiness
            # answers (503), not a 500 that reads as a bug, and tell the operator what to do.
            try:
                check_database()
            except Unavailable as unavailable:
                log.error("database not ready: %s", unavailable)
                return error_response(unavailable)
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                # A pooled connection lost since its last use (a database restart): it is gone from
                # the pool, and the request can be sent again at once.
                log.warning("database connection lost: %s", type(exc.orig).__name__)
                return error_response(
                    Unavailable(
                        "The database connection was lost; retry", code="database_unavailable", retry_after=1
                    )
                )
        log.exception("unhandled error")
        return error_response(ApiError("Internal error; quote the request id to support"))

    @app.url_value_preprocessor
    def _no_nul_in_path(_endpoint: str | None, values: dict[str, Any] | None) -> None:
        # `/v1/widget-sessions/%00`: PostgreSQL refuses NUL in text, so the lookup would be a 500. No id of
        # ours contains one; the resource simply does not exist.
        if values and any("\x00" in str(value) for value in values.values()):
            raise NotFound("No such resource")

    @app.get("/docs")
    def docs() -> str:
        """A page to read the OpenAPI document, rendered here (no CDN: it works offline)."""
        return render_template("docs.html", spec=api.spec.to_dict())

    return api
