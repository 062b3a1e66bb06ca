"""What every page of the emulator's web screens shares (the hosted widget, My Belvo Portal): the
security headers of a page whose first URL carries an access token, and the consent terms offered."""

from __future__ import annotations

import secrets

from flask import Blueprint, g
from werkzeug.wrappers import Response

# default_consent_duration_days values the consent screen offers (facts file 1.3); anything else
# preselects "Indeterminado".
DURATIONS = ((92, "3 meses"), (183, "6 meses"), (275, "9 meses"), (366, "12 meses"))


def secure(blueprint: Blueprint) -> None:
    """Give ``blueprint``'s pages a CSP nonce (``g.csp_nonce``) and the headers below."""
    blueprint.before_request(_nonce)
    blueprint.after_request(_security_headers)


def _nonce() -> None:
    g.csp_nonce = secrets.token_urlsafe(16)


def _security_headers(response: Response) -> Response:
    # The first URL carries the access token: never send it on as a Referer, never cache the pages.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self'; style-src 'self' 'nonce-{g.csp_nonce}'; "
        "img-src 'self' https: data:; form-action 'self'; base-uri 'none'"
    )
    return response
