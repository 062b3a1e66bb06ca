"""create_app's config: wrong kinds fail at start-up, naming the key, what it expects and what came."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from emulator import create_app
from emulator.errors import ConfigError


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"EMULATOR_ACCESS_TTL_SECONDS": 0}, "EMULATOR_ACCESS_TTL_SECONDS: expected a positive number"),
        ({"EMULATOR_WEBHOOK_RETRY_SCHEDULE": "1,2"}, "EMULATOR_WEBHOOK_RETRY_SCHEDULE: expected a list"),
        ({"EMULATOR_WEBHOOK_SESSION": object()}, "EMULATOR_WEBHOOK_SESSION: expected a Session or None"),
        ({"EMULATOR_SECRET_ID": 42}, "EMULATOR_SECRET_ID: expected a str, got int 42"),
        ({"EMULATOR_NOW": "2026-01-01"}, "EMULATOR_NOW: expected a callable"),
    ],
)
def test_wrong_kinds_are_refused_at_start_up(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create_app(config)


def test_a_clock_without_a_time_zone_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigError, match="EMULATOR_NOW: expected an aware datetime"):
        create_app({"EMULATOR_NOW": lambda: datetime(2026, 1, 1)})


def test_custom_secret_keys_replace_the_defaults() -> None:
    client = create_app({"EMULATOR_SECRET_ID": "id-1", "EMULATOR_SECRET_PASSWORD": "pw-1"}).test_client()

    ok = client.post(
        "/api/token/", json={"id": "id-1", "password": "pw-1", "scopes": "read_institutions,write_links"}
    )
    default = client.post(
        "/api/token/",
        json={
            "id": "sandbox-secret-id",
            "password": "sandbox-secret-password",
            "scopes": "read_institutions",
        },
    )

    assert (ok.status_code, default.status_code) == (200, 401)
