"""Everything the emulator remembers: tokens, widget sessions and links.

Records are frozen dataclasses; :class:`EmulatorState` swaps whole records in its store, in a transaction
where a change depends on what is there, so request threads, other processes, the webhook worker and
tests always see a consistent snapshot. With a store file they survive a restart (see
:mod:`emulator.store`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from emulator.events import CallbackUrls, FinalEvent, WarningEvent
from emulator.store import Store

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
    #: ``widget.openfinance_feature``: the hosted widget's ``consent_link_creation``, or My Belvo
    #: Portal's ``consent_management``.
    feature: str = "consent_link_creation"

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
    #: opened with the bank's query finishes the flow), and the access token the widget was opened
    #: with, which the bank hands back (a sandbox token, kept as the signing key is).
    bank_decision: Literal["authorize", "deny"] | None = None
    access_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ConsentGrant:
    """The Open Finance consent behind a link (1:1, https://developers.belvo.com/docs/webhook-consents);
    ``revoked_at`` is set once the user revoked it in My Belvo Portal."""

    id: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None = None


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
    refreshed_at: datetime | None = None  # the last POST /api/links/{id}/refresh/ (its cooldown)


class EmulatorState:
    """Tokens, widget sessions and links, kept in a :class:`~emulator.store.Store` (every process that
    shares its file shares them); changes that read first run in one transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # ``created_by`` of links and ``user_id`` of tokens: one sandbox user, however many processes.
        self.belvo_user_id = store.setdefault_meta("belvo_user_id", str(uuid.uuid4()).encode()).decode()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the write lock across several calls that must see one snapshot (check then update)."""
        with self._store.transaction():
            yield

    def add_token(self, token: IssuedToken, aliases: tuple[str, ...] = ()) -> None:
        """Remember ``token``; ``aliases`` are other jtis (the refresh token's) that look it up too."""
        with self._store.transaction():
            self._store.put("token", token.jti, token)
            for alias in aliases:
                self._store.put("token_alias", alias, token.jti)

    def token(self, jti: str) -> IssuedToken | None:
        with self._store.reading():
            token: IssuedToken | None = self._store.get("token", self._store.get("token_alias", jti) or jti)
            return token

    def mark_token_used(self, jti: str) -> None:
        with self._store.transaction():
            self._store.put("token", jti, replace(self._store.get("token", jti), used=True))

    def add_session(self, session: WidgetSession) -> None:
        self._store.put("session", session.id, session)

    def session(self, session_id: str) -> WidgetSession | None:
        session: WidgetSession | None = self._store.get("session", session_id)
        return session

    def update_session(
        self, session_id: str, change: Callable[[WidgetSession], WidgetSession]
    ) -> WidgetSession:
        """Apply ``change`` to the current record atomically and return the new one."""
        with self._store.transaction():
            updated = change(self._store.get("session", session_id))
            self._store.put("session", session_id, updated)
            return updated

    def add_link(self, link: Link) -> None:
        self._store.put("link", link.id, link)

    def update_link(self, link_id: str, change: Callable[[Link], Link]) -> Link | None:
        """Apply ``change`` to the current record atomically and return the new one (``None``: no such
        link)."""
        with self._store.transaction():
            link: Link | None = self._store.get("link", link_id)
            if link is None:
                return None
            updated = change(link)
            self._store.put("link", link_id, updated)
            return updated

    def link(self, link_id: str) -> Link | None:
        link: Link | None = self._store.get("link", link_id)
        return link

    def links(self) -> list[Link]:
        """All links, oldest first (the order Belvo's list endpoints page through)."""
        links: list[Link] = self._store.values("link")
        return sorted(links, key=lambda link: (link.created_at, link.id))

    def delete_link(self, link_id: str) -> Link | None:
        link: Link | None = self._store.delete("link", link_id)
        return link
