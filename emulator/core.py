"""The emulator's core: the :class:`Emulator` behind one app and its accessors.

The blueprints import it from here (as flaskr's blueprints import ``get_db`` from ``db.py``); the app
factory in :mod:`emulator.app` creates it and registers the blueprints.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal, cast

from flask import Flask, current_app

from emulator.config import EmulatorConfig
from emulator.data import LinkData, generate
from emulator.errors import ConfigError
from emulator.faults import FaultRules
from emulator.state import ConsentGrant, EmulatorState, Identification, Link
from emulator.store import Store
from emulator.webhooks import (
    WebhookDispatcher,
    historical_data,
    historical_update,
    link_deleted,
    new_data_available,
)

EXTENSION = "emulator"


class Emulator:
    """Config, state, webhook dispatcher and fault rules of one emulator app."""

    def __init__(self, config: EmulatorConfig) -> None:
        store = Store(config.state_path)
        # One signing key for every process sharing the store, unless one is configured.
        key = config.signing_key or store.setdefault_meta("signing_key", secrets.token_bytes(64))
        self.config = replace(config, signing_key=key)
        self.state = EmulatorState(store)
        self.faults = FaultRules(store)
        self.webhooks = WebhookDispatcher(
            url=config.webhook_url,
            authorization=config.webhook_auth,
            session=config.webhook_session,
            retry_schedule=config.webhook_retry_schedule,
            duplicates=config.webhook_duplicates,
            now=self.now,
        )
        self._data_lock = threading.Lock()
        self._data: dict[str, LinkData] = {}
        self.now()  # a clock returning naive datetimes fails here, at start-up, not mid-request

    def now(self) -> datetime:
        moment = self.config.now()
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            raise ConfigError(f"EMULATOR_NOW: expected an aware datetime, got {moment!r}")
        return moment

    def data(self, link: Link) -> LinkData:
        """The link's generated data, built once per link."""
        with self._data_lock:
            cached = self._data.get(link.id)
        if cached is None:
            cached = generate(link)
            with self._data_lock:
                self._data[link.id] = cached
        return cached

    def forget(self, link_id: str) -> Link | None:
        with self._data_lock:
            self._data.pop(link_id, None)
        return self.state.delete_link(link_id)

    def create_link(
        self,
        *,
        institution: str,
        access_mode: Literal["single", "recurrent"],
        external_id: str | None,
        fetch_resources: tuple[str, ...],
        stale_in: str | None,
        credentials_storage: str | None,
        holder: tuple[Identification, ...],
        consent_days: int | None,
    ) -> Link:
        """Store a new valid link with the fields of Belvo's Link object (docs/belvo.md §4.4)."""
        now = self.now()
        link_id = str(uuid.uuid4())
        # Same user at the same institution gives the same institution_user_id (Belvo uses it to spot
        # duplicated links); without documents the link is its own user.
        who = ",".join(i.number for i in holder) or link_id
        user_id = base64.urlsafe_b64encode(hashlib.sha256(f"{institution}:{who}".encode()).digest())
        link = Link(
            id=link_id,
            institution=institution,
            access_mode=access_mode,
            status="valid",
            created_by=self.state.belvo_user_id,
            external_id=external_id,
            institution_user_id=user_id.decode(),
            refresh_rate="7d" if access_mode == "recurrent" else None,
            # Recurrent links must store credentials; single ones default to 365 days (docs/belvo.md §1.3).
            credentials_storage=credentials_storage or ("store" if access_mode == "recurrent" else "365d"),
            stale_in=stale_in or "365d",
            fetch_resources=fetch_resources,
            created_at=now,
            last_accessed_at=now,
            holder=holder,
            consent=ConsentGrant(
                id=str(uuid.uuid4()),
                created_at=now,
                expires_at=now + timedelta(days=consent_days) if consent_days else None,
            ),
        )
        self.state.add_link(link)
        return link

    def send_historical_updates(self, link: Link) -> None:
        """Queue one ``historical_update`` per fetched resource, sharing one request id
        (docs/belvo.md §4.2)."""
        if self.webhooks.url is None:
            return
        data = self.data(link)
        request_id = str(uuid.uuid4())
        for resource in link.fetch_resources:
            self.webhooks.enqueue(
                historical_update(
                    link.id, link.external_id, resource, historical_data(resource, data), request_id
                )
            )

    def send_recurrent_updates(self, link: Link, resources: tuple[str, ...], request_id: str) -> None:
        """Queue what a refresh of ``resources`` sends, under the refresh's ``request_id``."""
        for resource in resources:
            self.webhooks.enqueue(new_data_available(link.id, link.external_id, resource, request_id))

    def send_link_deleted(self, link: Link, request_id: str) -> None:
        self.webhooks.enqueue(link_deleted(link.id, link.external_id, request_id))


def current_emulator() -> Emulator:
    return cast(Emulator, current_app.extensions[EXTENSION])


def emulator_of(app: Flask) -> Emulator:
    """The :class:`Emulator` behind an app from :func:`create_app` (tests use it to drain webhooks)."""
    return cast(Emulator, app.extensions[EXTENSION])
