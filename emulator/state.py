"""Everything the emulator remembers, in memory, per app instance.

Records are frozen dataclasses; :class:`EmulatorState` swaps whole records under one lock, so request
threads, the webhook worker and tests always see a consistent snapshot. Nothing survives a restart, as
nothing needs to: a restarted emulator is a fresh sandbox.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from emulator.events import CallbackUrls, FinalEvent, WarningEvent

IdentificationType = Literal["CPF", "CNPJ"]
Screen = Literal["institutions", "consent", "bank", "done"]


@dataclass(frozen=True)
class Identification:
    """One ``widget.consent.identification_info`` entry (facts file 1.3)."""

    type: IdentificationType
    number: str
    name: str


@dataclass(frozen=True)
class Branding:
    """``widget.branding`` (facts file 1.4); ``None`` fields were not sent."""

    company_icon: str | None = None
    company_logo: str | None = None
    company_name: str | None = None
    company_terms_url: str | None = None
    show_belvo_middle_logo: bool = False
    overlay_background_color: str | None = None
    social_proof: bool = True


@dataclass(frozen=True)
class ThemeVar:
    """One ``widget.theme`` entry: a CSS custom property and its (validated) value."""

    css_key: str
    value: str


@dataclass(frozen=True)
class WidgetConfig:
    """What a token was minted with, kept server-side and looked up by the token's ``jti``.

    ``callback_urls`` is ``None`` for the SDKs' default request (no ``widget`` object): such a token opens
    the widget, which then shows the outcome instead of redirecting.
    """

    scopes: tuple[str, ...]
    fetch_resources: tuple[str, ...]
    stale_in: str | None
    credentials_storage: str | None
    callback_urls: CallbackUrls | None
    purpose: str
    terms_url: str | None
    permissions: tuple[str, ...]
    identification: tuple[Identification, ...]
    default_consent_duration_days: int | None
    branding: Branding
    theme: tuple[ThemeVar, ...]
    color_scheme: Literal["LIGHT", "DARK"]

    def document(self, kind: IdentificationType) -> Identification | None:
        return next((i for i in self.identification if i.type == kind), None)


@dataclass(frozen=True)
class IssuedToken:
    jti: str
    config: WidgetConfig
    issued_at: datetime
    expires_at: datetime
    used: bool = False


@dataclass(frozen=True)
class StartupParams:
    """The hosted widget's URL parameters (facts file 2), parsed."""

    access_mode: Literal["single", "recurrent"]
    external_id: str | None
    institutions: tuple[str, ...] | None
    institution_types: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    country_codes: tuple[str, ...] | None
    show_close_dialog: bool
    show_abandon_survey: bool


@dataclass(frozen=True)
class WidgetSession:
    """One opening of the widget: the screen the user is on and what happened so far."""

    id: str
    jti: str
    params: StartupParams
    screen: Screen = "institutions"
    institution: str | None = None
    consented: bool = False
    consent_days: int | None = None
    pending_warning: WarningEvent | None = None
    outcome: FinalEvent | None = None
    #: App2App: what the user decided at the bank, which then sent them back to the app (the widget
    #: opened with the bank's query finishes the flow).
    bank_decision: Literal["authorize", "deny"] | None = None


@dataclass(frozen=True)
class ConsentGrant:
    """The Open Finance consent behind a link (1:1, facts file 4.5)."""

    id: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class Link:
    """A Belvo link (facts file 4.4) plus who consented, which ``/api/consents/`` answers by."""

    id: str
    institution: str
    access_mode: Literal["single", "recurrent"]
    status: str
    created_by: str
    external_id: str | None
    institution_user_id: str
    refresh_rate: str | None
    credentials_storage: str
    stale_in: str
    fetch_resources: tuple[str, ...]
    created_at: datetime
    last_accessed_at: datetime
    holder: tuple[Identification, ...]
    consent: ConsentGrant


class EmulatorState:
    """Tokens, widget sessions and links, guarded by one lock."""

    def __init__(self, belvo_user_id: str) -> None:
        self.belvo_user_id = belvo_user_id  # ``created_by`` of links and ``user_id`` of tokens
        self._lock = threading.RLock()
        self._tokens: dict[str, IssuedToken] = {}
        self._token_aliases: dict[str, str] = {}
        self._sessions: dict[str, WidgetSession] = {}
        self._links: dict[str, Link] = {}

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the lock across several calls that must see one snapshot (e.g. check then update)."""
        with self._lock:
            yield

    def add_token(self, token: IssuedToken, aliases: tuple[str, ...] = ()) -> None:
        """Remember ``token``; ``aliases`` are other jtis (the refresh token's) that look it up too."""
        with self._lock:
            self._tokens[token.jti] = token
            self._token_aliases.update(dict.fromkeys(aliases, token.jti))

    def token(self, jti: str) -> IssuedToken | None:
        with self._lock:
            return self._tokens.get(self._token_aliases.get(jti, jti))

    def mark_token_used(self, jti: str) -> None:
        with self._lock:
            self._tokens[jti] = replace(self._tokens[jti], used=True)

    def add_session(self, session: WidgetSession) -> None:
        with self._lock:
            self._sessions[session.id] = session

    def session(self, session_id: str) -> WidgetSession | None:
        with self._lock:
            return self._sessions.get(session_id)

    def update_session(
        self, session_id: str, change: Callable[[WidgetSession], WidgetSession]
    ) -> WidgetSession:
        """Apply ``change`` to the current record atomically and return the new one."""
        with self._lock:
            updated = change(self._sessions[session_id])
            self._sessions[session_id] = updated
            return updated

    def add_link(self, link: Link) -> None:
        with self._lock:
            self._links[link.id] = link

    def link(self, link_id: str) -> Link | None:
        with self._lock:
            return self._links.get(link_id)

    def links(self) -> list[Link]:
        """All links, oldest first (the order Belvo's list endpoints page through)."""
        with self._lock:
            return sorted(self._links.values(), key=lambda link: link.created_at)

    def delete_link(self, link_id: str) -> Link | None:
        with self._lock:
            return self._links.pop(link_id, None)
