"""Small builders for the emulator's tests: token requests, Basic credentials, and a driver that walks
the hosted widget through Flask's test client (the browser tests drive the same pages in Chromium)."""

from __future__ import annotations

import base64
import copy
import html
import json
import re
from typing import Any
from urllib.parse import urlencode

import requests
from flask.testing import FlaskClient
from requests.adapters import BaseAdapter

from emulator import DEFAULT_SECRET_ID, DEFAULT_SECRET_PASSWORD

CPF = "76109277673"  # Belvo's documentation example
NAME = "Ralph Bragg"
CNPJ = "11222333000181"  # valid check digits (Belvo's doc example 50685362006773 has wrong ones)
CALLBACKS = {
    "success": "myapp://belvo/success",
    "exit": "myapp://belvo/exit",
    "event": "myapp://belvo/event",
}
OFDA_SCOPES = (
    "read_institutions,write_links,read_consents,write_consents,write_consent_callback,delete_consents"
)
_OFDA_REQUEST: dict[str, Any] = {
    "id": DEFAULT_SECRET_ID,
    "password": DEFAULT_SECRET_PASSWORD,
    "scopes": OFDA_SCOPES,
    "stale_in": "300d",
    "fetch_resources": ["ACCOUNTS", "TRANSACTIONS", "OWNERS"],
    "widget": {
        "purpose": "Recomendações de crédito sob medida para você.",
        "openfinance_feature": "consent_link_creation",
        "callback_urls": CALLBACKS,
        "consent": {
            "terms_and_conditions_url": "https://acme.example/terms",
            "permissions": ["REGISTER", "ACCOUNTS", "CREDIT_CARDS", "CREDIT_OPERATIONS"],
            "identification_info": [{"type": "CPF", "number": CPF, "name": NAME}],
        },
        "branding": {"company_name": "ACME"},
    },
}


def token_request() -> dict[str, Any]:
    """A fresh copy of the OFDA token request of facts file 1.2 (tests change what they test)."""
    return copy.deepcopy(_OFDA_REQUEST)


def sdk_token_request() -> dict[str, Any]:
    """What belvo-python's ``WidgetToken.create()`` posts by default (facts file 5.1)."""
    return {
        "id": DEFAULT_SECRET_ID,
        "password": DEFAULT_SECRET_PASSWORD,
        "scopes": "read_institutions,write_links",
    }


def basic(key_id: str = DEFAULT_SECRET_ID, password: str = DEFAULT_SECRET_PASSWORD) -> dict[str, str]:
    credentials = base64.b64encode(f"{key_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def mint(client: FlaskClient, body: dict[str, Any] | None = None) -> str:
    """An access token from the emulator's own ``/api/token/``."""
    response = client.post("/api/token/", json=body or token_request())
    assert response.status_code == 200, response.json
    access: str = response.json["access"]
    return access


def widget_query(token: str, **params: str) -> str:
    """The hosted widget's query string: token, Belvo's required OFDA parameters, then ``params``."""
    return urlencode(
        {"access_token": token, "locale": "pt", "mode": "webapp", "integration_type": "openfinance", **params}
    )


def hrefs(page_html: str, test_id: str) -> list[str]:
    """The (unescaped) ``href`` of every element with ``data-test=test_id``."""
    pattern = rf'href="([^"]*)"[^>]*data-test="{re.escape(test_id)}"'
    return [html.unescape(h) for h in re.findall(pattern, page_html)]


class Widget:
    """Walks the widget as a browser would: each step posts its form and follows the 303."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.path = ""  # the current screen

    def open(self, token: str, **params: str) -> Any:
        response = self.client.get(f"/widget/?{widget_query(token, **params)}")
        if response.status_code == 303:
            self.path = response.headers["Location"]
        return response

    def post(self, action: str, **form: str) -> Any:
        session = self.path.split("/s/", 1)[1].split("/", 1)[0]
        response = self.client.post(f"/widget/s/{session}/{action}", data=form)
        if response.status_code == 303:
            self.path = response.headers["Location"]
        return response

    def screen(self) -> Any:
        return self.client.get(self.path)

    def choose(self, institution: str) -> Any:
        return self.post("institution", institution=institution)

    def connect(self, institution: str = "ofmockbank_br_retail", decision: str = "authorize") -> Any:
        """Institution, consent, then the bank's decision; returns the final page."""
        self.choose(institution)
        self.post("consent", consent_duration="")
        self.post("bank", decision=decision)
        return self.screen()

    def callback(self) -> str:
        """The callback URL the current (final) screen sends the app to."""
        links = hrefs(self.screen().text, "callback-link")
        assert len(links) == 1, links
        return links[0]


def create_link(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    """A link made through ``POST /_control/links`` (no browser); ``fields`` override the defaults."""
    body = {
        "external_id": "ext-1",
        "institution": "ofmockbank_br_retail",
        "identification_info": [{"type": "CPF", "number": CPF, "name": NAME}],
        **fields,
    }
    response = client.post("/_control/links", json=body)
    assert response.status_code == 201, response.json
    link: dict[str, Any] = response.json
    return link


HOOK = "https://backend.test/v1/webhooks/belvo"


class Receiver(BaseAdapter):
    """A webhook receiver mounted on a ``requests.Session``: records each POST and answers the next
    planned outcome (an HTTP status, or an exception to raise), then 200."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[dict[str, Any], dict[str, str]]] = []
        self.plan: list[int | Exception] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        outcome = self.plan.pop(0) if self.plan else 200
        if isinstance(outcome, Exception):
            raise outcome
        self.received.append((json.loads(request.body or b"{}"), dict(request.headers)))
        response = requests.Response()
        response.status_code = outcome
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release."""
