"""The four things the hosted widget tells the app, and the callback URL that carries each one.

Parameter names and the messages used here are Belvo's (facts file 3.1-3.4). Values are percent-encoded
with ``%20`` for spaces, as in Belvo's example URLs; errors and warnings both go to the ``event`` URL
(our decision 4 in the facts file).

>>> urls = CallbackUrls("myapp://belvo/success", "myapp://belvo/exit", "myapp://belvo/event")
>>> callback_url(urls, ErrorEvent.access_token_not_valid())
'myapp://belvo/event?error=ACCESS_TOKEN_NOT_VALID&error_message=The%20access%20token%20was%20not%20provided%20or%20is%20not%20valid'
>>> callback_url(urls, ExitEvent(None, None, ABANDON_SURVEY))
'myapp://belvo/exit?meta_data_step=abandon-survey'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlencode

ABANDON_SURVEY = "abandon-survey"


@dataclass(frozen=True)
class CallbackUrls:
    """``widget.callback_urls`` of the token request. ``success`` is always there; a web integration may
    send only it (https://developers.belvo.com/docs/ofda-widget-token-configuration), and then an exit or
    an error has nowhere to go. ``application_link`` asks for the App2App flow: the bank sends the user
    back to it (https://developers.belvo.com/docs/hosted-widget-app2app-ofda)."""

    success: str
    exit: str | None = None
    event: str | None = None
    application_link: str | None = None


@dataclass(frozen=True)
class WidgetError:
    """An error that ended the widget, reported by the exit callback (facts file 3.2)."""

    code: str
    message: str


# Belvo's documented messages (facts file 3.2). Denying consent at the bank is a login_error: of the four
# documented login_error messages this is the one that says the institution refused access.
INSTITUTION_DOWN = WidgetError("institution_down", "The financial institution is down, try again later")
TOO_MANY_SESSIONS = WidgetError(
    "too_many_sessions",
    "Impossible to login, a session is already opened with the institution for these credentials",
)
ACCESS_DENIED = WidgetError("login_error", "The user account access was forbidden by the institution")


@dataclass(frozen=True)
class SuccessEvent:
    link_id: str
    institution: str
    kind: Literal["success"] = "success"

    def query(self) -> list[tuple[str, str]]:
        return [("link", self.link_id), ("institution", self.institution)]


@dataclass(frozen=True)
class ExitEvent:
    error: WidgetError | None
    institution: str | None
    step: str | None
    kind: Literal["exit"] = "exit"

    def query(self) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        if self.error is not None:
            pairs += [
                ("last_encountered_error_code", self.error.code),
                ("last_encountered_error_message", self.error.message),
            ]
        if self.institution is not None:
            pairs.append(("meta_data_institution_name", self.institution))
        if self.step is not None:
            pairs.append(("meta_data_step", self.step))
        return pairs


@dataclass(frozen=True)
class ErrorEvent:
    code: str
    message: str
    kind: Literal["error"] = "error"

    @classmethod
    def access_token_not_valid(cls) -> ErrorEvent:
        return cls("ACCESS_TOKEN_NOT_VALID", "The access token was not provided or is not valid")

    def query(self) -> list[tuple[str, str]]:
        return [("error", self.code), ("error_message", self.message)]


@dataclass(frozen=True)
class WarningEvent:
    code: str
    message: str
    kind: Literal["warning"] = "warning"

    @classmethod
    def institution_disabled(cls) -> WarningEvent:
        return cls("institution_disabled", "The institution is temporarily unavailable.")

    def query(self) -> list[tuple[str, str]]:
        return [("warning", self.code), ("warning_message", self.message)]


WidgetEvent = SuccessEvent | ExitEvent | ErrorEvent | WarningEvent
FinalEvent = SuccessEvent | ExitEvent | ErrorEvent  # what ends a widget session


def callback_url(urls: CallbackUrls, event: WidgetEvent) -> str | None:
    """The URL the widget navigates to for ``event`` (``None``: the token has no callback for it);
    parameters follow any query the URL already has."""
    base: str | None
    match event:
        case SuccessEvent():
            base = urls.success
        case ExitEvent():
            base = urls.exit
        case ErrorEvent() | WarningEvent():
            base = urls.event
    if base is None:
        return None
    return with_query(base, event.query())


def with_query(base: str, pairs: list[tuple[str, str]]) -> str:
    """``base`` with ``pairs`` appended to its query, percent-encoded with ``%20`` for spaces."""
    # Appended to the string as configured rather than re-serialised: urlunsplit would rewrite some
    # custom-scheme forms (``myapp:///cb`` loses its empty authority), and the app compares exactly.
    url, hash_mark, fragment = base.partition("#")
    separator = "" if url.endswith(("?", "&")) else "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode(pairs, quote_via=quote)}{hash_mark}{fragment}"
