"""Typed events for the deeplinks Belvo's OFDA hosted widget sends back to a mobile app.

Standard library only. `parse` turns a callback URL into a `SuccessEvent`, `ExitEvent`,
`ErrorEvent` or `WarningEvent`, and an App2App application-link URL into a `ResumeEvent` (or
raises `DeeplinkError`), `build` turns an event back into its
URL, and `to_dict()` / `from_dict()` give the contract's JSON (contract, section 3).

>>> import deeplinks
>>> event = deeplinks.parse(
...     "your-url-here://exit?last_encountered_error_code=login_error"
...     "&last_encountered_error_message=Invalid%20credentials%20provided%20to%20login%20to%20the"
...     "%20institution&meta_data_institution_name=amex_mx_retail&meta_data_step=abandon-survey"
... )
>>> match event:
...     case deeplinks.ExitEvent(error=deeplinks.ExitError(code=code)):
...         print("left after", code)
left after login_error
>>> deeplinks.parse(deeplinks.build(event)) == event
True
"""

from __future__ import annotations

from deeplinks import codes
from deeplinks.builder import build
from deeplinks.callbacks import DEFAULT_CALLBACK_URLS, CallbackUrls
from deeplinks.codes import (
    ERROR_ACCESS_TOKEN_NOT_VALID,
    ERROR_MESSAGES,
    EXIT_INSTITUTION_DOWN,
    EXIT_LOGIN_ERROR,
    EXIT_MESSAGES,
    EXIT_TOO_MANY_SESSIONS,
    EXIT_UNEXPECTED_ERROR,
    STEP_ABANDON_SURVEY,
    WARNING_INSTITUTION_DISABLED,
    WARNING_MESSAGES,
)
from deeplinks.errors import INVALID_DEEPLINK, UNKNOWN_EVENT, DeeplinkError
from deeplinks.events import (
    ErrorEvent,
    Event,
    ExitError,
    ExitEvent,
    ResumeEvent,
    SuccessEvent,
    WarningEvent,
    from_dict,
)
from deeplinks.parser import parse

__all__ = [
    "DEFAULT_CALLBACK_URLS",
    "ERROR_ACCESS_TOKEN_NOT_VALID",
    "ERROR_MESSAGES",
    "EXIT_INSTITUTION_DOWN",
    "EXIT_LOGIN_ERROR",
    "EXIT_MESSAGES",
    "EXIT_TOO_MANY_SESSIONS",
    "EXIT_UNEXPECTED_ERROR",
    "INVALID_DEEPLINK",
    "STEP_ABANDON_SURVEY",
    "UNKNOWN_EVENT",
    "WARNING_INSTITUTION_DISABLED",
    "WARNING_MESSAGES",
    "CallbackUrls",
    "DeeplinkError",
    "ErrorEvent",
    "Event",
    "ExitError",
    "ExitEvent",
    "ResumeEvent",
    "SuccessEvent",
    "WarningEvent",
    "build",
    "codes",
    "from_dict",
    "parse",
]
