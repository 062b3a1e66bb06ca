"""Helpers for the session-lifecycle tests (events, webhooks, links): the backend in emulator mode, with
Belvo played by the real in-process emulator, a clock the test moves, and builders for what an app or
Belvo would send."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

import deeplinks
from emulator import emulator_of
from server.models import Link, SessionEvent, WebhookEvent, WidgetSession
from server.settings import settings
from server.storage import database
from server.webhook_queue import webhook_queue
from tests.conftest import bearer, make_app
from tests.support import Clock

CPF = "76109277673"
INSTITUTION = "ofmockbank_br_retail"
WEBHOOK_AUTH = "Bearer lifecycle-webhook-secret"


@dataclass
class Flow:
    """One backend (emulator mode) and what the tests do with it."""

    app: Flask
    client: FlaskClient
    clock: Clock

    @classmethod
    @contextmanager
    def start(cls, database_url: str, **config: Any) -> Iterator[Flow]:
        clock = Clock.now()
        app = make_app(
            database_url,
            CLOCK=clock,
            BELVO_WEBHOOK_AUTH=WEBHOOK_AUTH,
            # No waiting between Belvo retries: a 503 from the emulator answers at once.
            BELVO_RETRY_SCHEDULE="0",
            **config,
        )
        try:
            yield cls(app, app.test_client(), clock)
        finally:
            webhook_queue(app).drain()
            database(app).dispose()

    # -- the app's side ---------------------------------------------------------------------------------

    def headers(self, user: str) -> dict[str, str]:
        return bearer(self.app, user)

    def post_session(self, user: str, **body: Any) -> TestResponse:
        return self.client.post(
            "/v1/widget-sessions",
            json={"identification_info": [{"type": "CPF", "number": CPF, "name": "Ralph Bragg"}], **body},
            headers=self.headers(user),
        )

    def create_session(self, user: str, **body: Any) -> dict[str, Any]:
        response = self.post_session(user, **body)
        assert response.status_code == 201, response.get_json()
        session: dict[str, Any] = response.get_json()
        return session

    def post_event(
        self, user: str, session_id: str, url: str, client: FlaskClient | None = None
    ) -> TestResponse:
        return (client or self.client).post(
            f"/v1/widget-sessions/{session_id}/events", json={"url": url}, headers=self.headers(user)
        )

    def get_session(self, user: str, session_id: str, client: FlaskClient | None = None) -> TestResponse:
        return (client or self.client).get(f"/v1/widget-sessions/{session_id}", headers=self.headers(user))

    def get(self, user: str, path: str) -> TestResponse:
        return self.client.get(path, headers=self.headers(user))

    # -- Belvo's side (the emulator) ----------------------------------------------------------------------

    def belvo_link(
        self, external_id: str | None, institution: str = INSTITUTION, **body: Any
    ) -> dict[str, Any]:
        """A link made at "Belvo" for ``external_id``, as if a user had completed the widget."""
        response = self.client.post(
            "/sandbox/_control/links", json={"external_id": external_id, "institution": institution, **body}
        )
        assert response.status_code == 201, response.get_json()
        link: dict[str, Any] = response.get_json()
        return link

    def belvo_webhook(self, link_id: str, webhook_type: str, webhook_code: str, **data: Any) -> None:
        """The emulator sends a webhook now, with the configured Authorization."""
        response = self.client.post(
            "/sandbox/_control/webhooks",
            json={
                "link_id": link_id,
                "webhook_type": webhook_type,
                "webhook_code": webhook_code,
                "data": data,
            },
        )
        assert response.get_json()["delivered"] is True, response.get_json()

    def fault(self, match: str, status: int | None, times: int = -1) -> None:
        response = self.client.post(
            "/sandbox/_control/faults", json={"match": match, "status": status, "times": times}
        )
        assert response.status_code == 201, response.get_json()

    def faults(self) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = self.client.get("/sandbox/_control/faults").get_json()
        return faults

    def clear_faults(self) -> None:
        self.client.delete("/sandbox/_control/faults")

    def send_webhook(
        self, payload: Any, authorization: str | None = WEBHOOK_AUTH, **kwargs: Any
    ) -> TestResponse:
        """A delivery to our webhook endpoint, as Belvo (or an impostor) would make it."""
        headers = {} if authorization is None else {"Authorization": authorization}
        body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        return self.client.post(
            "/v1/webhooks/belvo", data=body, headers=headers, content_type="application/json", **kwargs
        )

    def drain(self) -> None:
        """Wait until the emulator's queued webhooks are delivered and ours applied (no sleeping)."""
        assert emulator_of(self.app.extensions["ofda.emulator"]).webhooks.drain()
        webhook_queue(self.app).drain()

    # -- what is stored -----------------------------------------------------------------------------------

    def count(self, model: type[Link | SessionEvent | WebhookEvent | WidgetSession], **where: Any) -> int:
        with database(self.app).session() as db:
            query = select(func.count()).select_from(model).filter_by(**where)
            return int(db.scalar(query) or 0)

    def row(self, model: type[Link | WebhookEvent | WidgetSession], key: str) -> Any:
        with database(self.app).session() as db:
            return db.get(model, key)

    @property
    def webhook_auth(self) -> str:
        return settings(self.app).webhook_auth[0].reveal()


def deeplink(session: dict[str, Any], event: deeplinks.Event) -> str:
    """The callback URL Belvo's widget would open for ``event`` in ``session``."""
    return deeplinks.build(event, session["callback_urls"])


def success(session: dict[str, Any], link: dict[str, Any], institution: str | None = None) -> str:
    return deeplink(session, deeplinks.SuccessEvent(link["id"], institution or link["institution"]))


def webhook_payload(
    link_id: str | None, webhook_type: str, webhook_code: str, **extra: Any
) -> dict[str, Any]:
    """A webhook body in Belvo's shape (docs/belvo.md §4.2)."""
    return {
        "webhook_id": extra.pop("webhook_id", None) or uuid.uuid4().hex,
        "webhook_type": webhook_type,
        "webhook_code": webhook_code,
        "process_type": "historical_update",
        "link_id": link_id,
        "request_id": "4363b08b-ad7c-4fa6-8ea3-c6ab1b2c2b7a",
        "external_id": extra.pop("external_id", None),
        "data": extra.pop("data", {}),
        **extra,
    }
