"""App-user authentication: ``Authorization: Bearer <HS256 JWT>`` with ``sub`` = the app's user id.

The app's own identity provider would normally mint these; ``ofda token USER_ID`` mints one for
development with ``APP_JWT_SECRET``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import ParamSpec, TypeVar

import jwt
from flask import g, request

from server.config import Secret
from server.errors import Unauthenticated
from server.memo import Memo
from server.settings import settings

ALGORITHM = "HS256"
MAX_USER_ID_LENGTH = 255
#: Tokens a process keeps verified (a few MB at most).
REMEMBERED_TOKENS = 20_000

#: Tokens already verified, by secret and token: their user and expiry (a POSIX time). Nothing in a token
#: changes once it has passed, but that it expires: only the expiry is checked again. An app's users send
#: the same token with each request until it expires, and verifying one anew costs more than any other
#: check of a new widget session (bench/sessions.py).
_VERIFIED: Memo[tuple[str, str], tuple[str, float]] = Memo(REMEMBERED_TOKENS)

P = ParamSpec("P")
R = TypeVar("R")


def mint_token(user_id: str, secret: Secret, ttl: timedelta, now: datetime | None = None) -> str:
    """A bearer token for ``user_id``.

    >>> token = mint_token("alice", Secret("k" * 32), timedelta(minutes=5))
    >>> user_from_token(token, Secret("k" * 32))
    'alice'
    """
    if not user_id or len(user_id) > MAX_USER_ID_LENGTH:
        raise ValueError(f"user id must be 1-{MAX_USER_ID_LENGTH} characters, got {len(user_id)}")
    issued = now or datetime.now(UTC)
    claims = {"sub": user_id, "iat": issued, "exp": issued + ttl}
    return jwt.encode(claims, secret.reveal(), algorithm=ALGORITHM)


def user_from_token(token: str, secret: Secret) -> str:
    """The user id a valid token names; :class:`Unauthenticated` otherwise (the reason is not told
    to the client beyond what helps it recover)."""
    key = (secret.reveal(), token)
    verified = _VERIFIED.get(key)
    if verified is not None and time.time() < verified[1]:
        return verified[0]
    try:
        claims = jwt.decode(
            token, secret.reveal(), algorithms=[ALGORITHM], options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("The bearer token has expired; sign in again") from None
    except jwt.InvalidTokenError:
        raise Unauthenticated("The bearer token is not valid") from None
    user_id = claims["sub"]
    if not isinstance(user_id, str) or not 0 < len(user_id) <= MAX_USER_ID_LENGTH:
        raise Unauthenticated("The bearer token is not valid")
    _VERIFIED.remember(key, (user_id, float(claims["exp"])))
    return user_id


def current_user_id() -> str:
    """The authenticated user of this request (set by :func:`authenticated`)."""
    user_id: str = g.user_id
    return user_id


def authenticated(view: Callable[P, R]) -> Callable[P, R]:
    """Require a valid bearer token before running ``view``."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Expected an 'Authorization: Bearer <token>' header")
        g.user_id = user_from_token(token.strip(), settings().app_jwt_secret)
        return view(*args, **kwargs)

    return wrapper
