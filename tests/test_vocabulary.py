"""Where the emulator keeps its own copy of a Belvo vocabulary on purpose (it stands in for Belvo,
independently of the backend), the copies must still agree with the backend's and the deeplinks'."""

from __future__ import annotations

from deeplinks._url import NEVER_CALLBACK_SCHEMES
from emulator.institutions import OFDA_RESOURCES
from emulator.tokens import REFUSED_URL_SCHEMES, THEME_KEYS
from server.config import FORBIDDEN_CALLBACK_SCHEMES
from server.ofda import FETCH_RESOURCES
from server.ofda import THEME_KEYS as SERVER_THEME_KEYS


def test_the_emulator_and_the_backend_know_the_same_theme_keys() -> None:
    assert set(SERVER_THEME_KEYS) == THEME_KEYS


def test_every_scheme_the_emulator_refuses_the_deeplinks_and_the_backend_refuse_too() -> None:
    assert REFUSED_URL_SCHEMES <= NEVER_CALLBACK_SCHEMES <= FORBIDDEN_CALLBACK_SCHEMES


def test_the_emulator_and_the_backend_know_the_same_ofda_resources() -> None:
    assert OFDA_RESOURCES == FETCH_RESOURCES
