"""Fault injection at /_control/faults (docs/contract.md section 5)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client
from werkzeug.wrappers import Response

from tests.emulator.builders import basic, token_request


def _fault(client: FlaskClient | Client, **rule: object) -> None:
    response = client.post("/_control/faults", json=rule)
    assert response.status_code == 201, response.json


def test_a_status_fault_fires_its_number_of_times(emu_client: FlaskClient) -> None:
    _fault(emu_client, match="/api/token/", status=503, times=2, delay_ms=0)

    statuses = [emu_client.post("/api/token/", json=token_request()).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]


def test_a_fault_answers_belvos_error_array(emu_client: FlaskClient) -> None:
    _fault(emu_client, match="/api/token/", code="too_many_sessions")

    response = emu_client.post("/api/token/", json=token_request())

    assert response.status_code == 400
    [error] = response.json
    assert error["code"] == "too_many_sessions"
    assert error["message"] == (
        "Impossible to login, a session is already opened with the institution for these credentials"
    )


def test_a_fault_for_ever_lasts_until_cleared(emu_client: FlaskClient) -> None:
    _fault(emu_client, match="/api/links/", status=500, times=-1)

    failing = [emu_client.get("/api/links/", headers=basic()).status_code for _ in range(3)]
    assert emu_client.delete("/_control/faults").status_code == 204

    assert failing == [500, 500, 500]
    assert emu_client.get("/api/links/", headers=basic()).status_code == 200
    assert emu_client.get("/_control/faults").json == []


def test_latency_only_faults_delay_then_answer_normally(
    emu_client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr("emulator.app.time.sleep", slept.append)
    _fault(emu_client, match="/api/", status=None, delay_ms=250)

    response = emu_client.get("/api/institutions/", headers=basic())

    assert (response.status_code, slept) == (200, [0.25])


def test_rules_match_paths_relative_to_the_emulator_root(emu_app: Flask) -> None:
    mounted = Client(DispatcherMiddleware(Response("backend", 404), {"/sandbox": emu_app}))
    _fault(mounted.__class__(emu_app), match="/api/token/", status=502)

    response = mounted.post("/sandbox/api/token/", json=token_request())

    assert response.status_code == 502


def test_control_paths_are_never_faulted(emu_client: FlaskClient) -> None:
    _fault(emu_client, match="/", status=500, times=-1)

    assert emu_client.get("/_control/faults").status_code == 200
    assert emu_client.delete("/_control/faults").status_code == 204


def test_the_oldest_matching_rule_wins_and_others_wait(emu_client: FlaskClient) -> None:
    _fault(emu_client, match="/api/", status=500)
    _fault(emu_client, match="/api/token/", status=503)

    first = emu_client.post("/api/token/", json=token_request()).status_code
    second = emu_client.post("/api/token/", json=token_request()).status_code

    assert (first, second) == (500, 503)


@pytest.mark.parametrize(
    ("rule", "fields"),
    [
        ({"status": 503}, {"match"}),
        ({"match": "api/token/", "status": 503}, {"match"}),
        ({"match": "/api/", "status": 200}, {"status"}),
        ({"match": "/api/", "status": 500, "times": 0}, {"times"}),
        ({"match": "/api/", "status": None}, {None}),
        ({"match": "/api/", "delay_ms": -5}, {"delay_ms"}),
    ],
)
def test_malformed_rules_are_refused(
    emu_client: FlaskClient, rule: dict[str, object], fields: set[object]
) -> None:
    response = emu_client.post("/_control/faults", json=rule)

    assert response.status_code == 400
    assert {e.get("field") for e in response.json} == fields
