"""Codes and messages Belvo documents for its hosted-widget deeplinks.

Source: Belvo's "Hosted Widget Overview (OFDA)" page, "Handling callback events"
(https://developers.belvo.com/products/aggregation_brazil/ofda-widget-introduction; docs/belvo.md §3).
Unknown codes still parse: Belvo's tables are partly copied from the multi-region widget (docs/belvo.md
§3.2), so new codes are to be expected.

>>> EXIT_MESSAGES[EXIT_TOO_MANY_SESSIONS]
('Impossible to login, a session is already opened with the institution for these credentials',)
>>> ERROR_MESSAGES[ERROR_ACCESS_TOKEN_NOT_VALID]
('The access token was not provided or is not valid',)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

# exit: `last_encountered_error_code` (docs/belvo.md §3.2)
EXIT_INSTITUTION_DOWN: Final = "institution_down"
EXIT_LOGIN_ERROR: Final = "login_error"
EXIT_TOO_MANY_SESSIONS: Final = "too_many_sessions"
EXIT_UNEXPECTED_ERROR: Final = "unexpected_error"

# exit: `meta_data_step`, "always abandon-survey" (docs/belvo.md §3.2)
STEP_ABANDON_SURVEY: Final = "abandon-survey"

# error: `error` (docs/belvo.md §3.3); note the upper case, unlike exit codes
ERROR_ACCESS_TOKEN_NOT_VALID: Final = "ACCESS_TOKEN_NOT_VALID"  # noqa: S105 (a code, not a secret)

# warning: `warning` (docs/belvo.md §3.4)
WARNING_INSTITUTION_DISABLED: Final = "institution_disabled"

EXIT_MESSAGES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        EXIT_INSTITUTION_DOWN: ("The financial institution is down, try again later",),
        EXIT_LOGIN_ERROR: (
            "Invalid credentials provided to login to the institution",
            "The user account is locked, user needs to contact the institution to unlock it",
            "The user account access was forbidden by the institution",
            "Impossible to login, something unexpected happened while logging into the "
            "institution. Try again later.",
        ),
        EXIT_TOO_MANY_SESSIONS: (
            "Impossible to login, a session is already opened with the institution for these credentials",
        ),
        EXIT_UNEXPECTED_ERROR: (
            "Belvo is unable to process the request due to an internal system issue or to an "
            "unsupported response from an institution",
        ),
    }
)
"""Every documented exit code with its documented messages (`login_error` has four)."""

ERROR_MESSAGES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {ERROR_ACCESS_TOKEN_NOT_VALID: ("The access token was not provided or is not valid",)}
)
"""Every documented error code with its documented message."""

WARNING_MESSAGES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {WARNING_INSTITUTION_DISABLED: ("The institution is temporarily unavailable.",)}
)
"""Every documented warning code with its documented message."""
