"""Fixtures for the backend's tests: the app in real mode with Belvo's answers recorded by ``responses``,
a clock the tests move, and small builders for request bodies and Belvo's tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient

from server.storage import database
from tests.conftest import make_app
from tests.support import Clock, recorded_belvo

BELVO = "https://sandbox.belvo.com"
SECRET_ID = "belvo-secret-id-0123"
SECRET_PASSWORD = "belvo-secret-password-4567"
CPF = "76109277673"
NAME = "Ralph Bragg"

REAL_BELVO = {
    "BELVO_SECRET_ID": SECRET_ID,
    "BELVO_SECRET_PASSWORD": SECRET_PASSWORD,
    "BELVO_API_URL": BELVO,
    "APP_JWT_SECRET": "a-test-secret-of-at-least-32-characters",
    "BELVO_WEBHOOK_AUTH": "Bearer webhook-secret",
    "TERMS_URL": "https://acme.example/terms",
    # Belvo's schedule with no waiting, so retries cost nothing.
    "BELVO_RETRY_SCHEDULE": "0,0,0,0,0",
}


@pytest.fixture
def clock() -> Clock:
    return Clock()


def access_token(expires: datetime, **claims: Any) -> str:
    """A token shaped like Belvo's access token (HS512, Belvo's claims), signed with a key we pretend
    is Belvo's."""
    exp = int(expires.timestamp())
    payload = {"token_type": "access", "exp": exp, "iat": exp - 1200, "environment": "sandbox"}
    return jwt.encode({**payload, **claims}, "belvo-side-signing-key-" * 3, algorithm="HS512")


def token_reply(clock: Clock, ttl: timedelta = timedelta(minutes=20)) -> dict[str, str]:
    return {"access": access_token(clock() + ttl), "refresh": "refresh-token-never-to-be-seen"}


def belvo_errors(code: str, request_id: str = "a6e1c493d7a29d91aed4338e6fcf077d") -> list[dict[str, str]]:
    """Belvo's error array (docs/belvo.md §6.1)."""
    return [{"request_id": request_id, "message": "Belvo says no", "code": code}]


def session_body(**extra: Any) -> dict[str, Any]:
    """A valid ``POST /v1/widget-sessions`` body with one CPF; ``extra`` adds or replaces fields."""
    return {"identification_info": [{"type": "CPF", "number": CPF, "name": NAME}], **extra}


TOKEN_URL = f"{BELVO}/api/token/"


@pytest.fixture
def belvo() -> Iterator[responses.RequestsMock]:
    """Belvo, as recorded answers; a request nothing was registered for fails the test."""
    with recorded_belvo() as recorded:
        yield recorded


def real_app(database_url: str, clock: Clock, **config: Any) -> Flask:
    """The backend in real mode (Belvo credentials set) on ``database_url``."""
    return make_app(database_url, **{**REAL_BELVO, "CLOCK": clock, **config})


@pytest.fixture
def app_real(database_url: str, clock: Clock) -> Iterator[Flask]:
    app = real_app(database_url, clock)
    yield app
    database(app).dispose()


@pytest.fixture
def client_real(app_real: Flask) -> FlaskClient:
    return app_real.test_client()


@pytest.fixture
def minted(belvo: responses.RequestsMock, clock: Clock) -> dict[str, str]:
    """Belvo issues a token (valid 20 minutes) to every token request."""
    reply = token_reply(clock)
    belvo.post(TOKEN_URL, json=reply)
    return reply
