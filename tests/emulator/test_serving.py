"""Serving the emulator: access tokens stay out of the access log; ``python -m emulator`` reads its env."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask import Flask

from emulator.__main__ import config_from_env
from tests.browser import LiveServer
from tests.emulator.builders import mint, widget_query


def test_widget_urls_are_logged_without_their_token(
    emu_app: Flask, live_server: Callable[[Any], LiveServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = live_server(emu_app)
    token = mint(emu_app.test_client())
    caplog.set_level(logging.INFO)

    response = requests.get(f"{server.url}/widget/?{widget_query(token)}", timeout=5)

    assert response.status_code == 200
    assert '"GET /widget/" 303' in caplog.text
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text


def test_environment_settings_become_config() -> None:
    env = {
        "EMULATOR_SECRET_ID": "id",
        "EMULATOR_WEBHOOK_URL": "http://127.0.0.1:8000/v1/webhooks/belvo",
        "EMULATOR_ACCESS_TTL_SECONDS": "90",
        "EMULATOR_WEBHOOK_DUPLICATES": "0",
        "UNRELATED": "x",
    }

    assert config_from_env(env) == {
        "EMULATOR_SECRET_ID": "id",
        "EMULATOR_WEBHOOK_URL": "http://127.0.0.1:8000/v1/webhooks/belvo",
        "EMULATOR_ACCESS_TTL_SECONDS": 90.0,
        "EMULATOR_WEBHOOK_DUPLICATES": False,
    }
