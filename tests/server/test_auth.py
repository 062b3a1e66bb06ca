"""Bearer tokens for app users, and `ofda token` that mints them in development."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from server.auth import mint_token, user_from_token
from server.config import Secret
from server.errors import Unauthenticated
from server.settings import settings

SECRET = Secret("k" * 40)


def test_round_trip() -> None:
    assert user_from_token(mint_token("alice", SECRET, timedelta(minutes=1)), SECRET) == "alice"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (mint_token("alice", Secret("other" * 10), timedelta(minutes=1)), "not valid"),
        (
            mint_token("alice", SECRET, timedelta(minutes=1), now=datetime.now(UTC) - timedelta(hours=1)),
            "expired",
        ),
        (jwt.encode({"sub": "alice"}, SECRET.reveal(), algorithm="HS256"), "not valid"),  # no exp
        (jwt.encode({"sub": "alice", "exp": 9999999999}, None, algorithm="none"), "not valid"),
        ("not-a-jwt", "not valid"),
    ],
    ids=["wrong-key", "expired", "no-exp", "alg-none", "garbage"],
)
def test_rejected_tokens(token: str, reason: str) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        user_from_token(token, SECRET)


def test_a_token_accepted_before_is_refused_once_it_expires() -> None:
    """Verified tokens are remembered: the expiry still holds for them."""
    expires = int(time.time()) + 2
    token = jwt.encode({"sub": "alice", "exp": expires}, SECRET.reveal(), algorithm="HS256")
    assert user_from_token(token, SECRET) == "alice"
    assert user_from_token(token, SECRET) == "alice"
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    with pytest.raises(Unauthenticated, match="expired"):
        user_from_token(token, SECRET)


def test_a_token_accepted_under_one_secret_is_refused_under_another() -> None:
    token = mint_token("alice", SECRET, timedelta(minutes=1))
    assert user_from_token(token, SECRET) == "alice"
    with pytest.raises(Unauthenticated, match="not valid"):
        user_from_token(token, Secret("rotated" * 6))


def test_cli_token_authenticates_its_user(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["token", "alice"])
    assert result.exit_code == 0, result.output
    assert user_from_token(result.output.strip(), settings(app).app_jwt_secret) == "alice"


def test_cli_token_refuses_an_empty_user(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["token", ""])
    assert result.exit_code != 0
    assert "user id" in result.output
