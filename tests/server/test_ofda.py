"""The OFDA wire formats: the token payload's schema and the hosted widget URL."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from server import ofda
from server.ofda import StartupOptions, TokenRequestSchema, widget_url

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", ["token_request_minimal.json", "token_request_full.json"])
def test_the_golden_payloads_are_what_the_schema_describes(name: str) -> None:
    """Loading a golden body and dumping it again gives the same JSON: the schema and the goldens agree
    on every field, and a dump leaves out nothing Belvo needs."""
    body = json.loads((GOLDEN / name).read_text(encoding="utf-8"))
    payload = {key: value for key, value in body.items() if key not in {"id", "password"}}
    assert TokenRequestSchema().load(payload).payload() == payload


def test_each_payload_carries_its_own_persons_documents() -> None:
    """The server's part of the body is dumped once and shared: one session's documents never show in
    another's body, nor does building one change the other."""
    body = json.loads((GOLDEN / "token_request_full.json").read_text(encoding="utf-8"))
    payload = {key: value for key, value in body.items() if key not in {"id", "password"}}
    other = json.loads(json.dumps(payload))
    other["widget"]["consent"]["identification_info"] = [
        {"type": "CPF", "number": "52998224725", "name": "Maria da Silva"}
    ]
    first = TokenRequestSchema().load(payload).payload()
    second = TokenRequestSchema().load(other).payload()
    assert first == payload
    assert second == other
    assert (
        first["widget"]["consent"]["identification_info"]
        != second["widget"]["consent"]["identification_info"]
    )


def test_widget_url_values_are_url_encoded() -> None:
    options = StartupOptions(access_mode="single", institutions=("a_b",), show_abandon_survey=False)
    url = widget_url("http://127.0.0.1:8000/sandbox/widget/", "x.y+z/=", "id-&=?", options)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "127.0.0.1:8000", "/sandbox/widget/")
    assert "x.y%2Bz%2F%3D" in parts.query
    assert "id-%26%3D%3F" in parts.query
    assert dict(parse_qsl(parts.query, strict_parsing=True)) == {
        "access_token": "x.y+z/=",
        "locale": "pt",
        "mode": "webapp",
        "integration_type": "openfinance",
        "country_codes": "BR",
        "external_id": "id-&=?",
        "access_mode": "single",
        "institutions": "a_b",
        "show_abandon_survey": "false",
    }


def test_a_widget_base_url_with_a_query_gets_more_parameters() -> None:
    url = widget_url("https://widget.example/?tenant=1", "t", "e", StartupOptions())
    assert url.startswith("https://widget.example/?tenant=1&access_token=t&locale=pt")


def test_identification_repr_hides_personal_data() -> None:
    text = repr(ofda.Identification(type="CPF", number="76109277673", name="Ralph Bragg"))
    assert "76109277673" not in text
    assert "Ralph" not in text
