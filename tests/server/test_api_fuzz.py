"""Property-based requests generated from our own OpenAPI document (schemathesis): whatever a client sends,
valid or not, the answer is never a 5xx, and every 4xx has the contract's error shape
(docs/contract.md section 2: "Never a 500 for anything a client sent")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from server.api import ErrorSchema
from server.auth import mint_token
from server.settings import settings as app_settings
from server.storage import database
from tests.conftest import make_app

# Generated once, at import, only to list the operations (names of the parametrized tests).
_SPEC_APP = make_app("sqlite://")
OPERATIONS = [result.ok().label for result in schemathesis.openapi.from_wsgi("/openapi.json", _SPEC_APP)
              .get_all_operations()]  # fmt: skip


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    path = tmp_path_factory.mktemp("fuzz") / "db.sqlite3"
    app = make_app(f"sqlite:///{path}", SESSION_RATE_LIMIT_PER_MINUTE=1_000_000, LOG_LEVEL="CRITICAL")
    yield app
    database(app).dispose()


def check(app: Flask, label: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    [operation] = [r.ok() for r in schema.get_all_operations() if r.ok().label == label]
    token = mint_token("fuzzer", app_settings(app).app_jwt_secret, timedelta(hours=1))

    @settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def answers_in_the_contract(case: Any) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        assert response.status_code < 500, (case.as_curl_command(), response.text)
        if response.status_code >= 400:
            assert ErrorSchema().validate(response.json()) == {}, response.text

    try:
        answers_in_the_contract()
    except Unsatisfiable:
        # Nothing to generate in this mode (e.g. invalid input for an operation that takes none).
        assert mode is GenerationMode.NEGATIVE


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("label", OPERATIONS)
def test_no_5xx_and_contract_errors(fuzzed_app: Flask, label: str, mode: GenerationMode) -> None:
    check(fuzzed_app, label, mode)
