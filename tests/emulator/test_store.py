"""The emulator's state file: two apps on one file are one emulator; a record it cannot load is gone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask

from emulator import emulator_of
from emulator.store import Store
from tests.emulator.builders import CALLBACKS, Widget, basic, create_link, mint, token_request


def test_two_apps_on_one_file_share_key_user_links_and_cooldowns(
    make_emu_app: Callable[..., Flask], tmp_path: Path
) -> None:
    path = str(tmp_path / "emulator.sqlite3")
    first, second = make_emu_app(EMULATOR_STATE_PATH=path), make_emu_app(EMULATOR_STATE_PATH=path)
    one, two = emulator_of(first), emulator_of(second)

    link = create_link(first.test_client())
    refreshed = first.test_client().post(f"/api/links/{link['id']}/refresh/", headers=basic())
    again = second.test_client().post(f"/api/links/{link['id']}/refresh/", headers=basic())

    assert one.config.signing_key == two.config.signing_key
    assert one.state.belvo_user_id == two.state.belvo_user_id
    assert second.test_client().get(f"/api/links/{link['id']}/", headers=basic()).json == link
    assert (refreshed.status_code, again.status_code) == (202, 409)


def test_a_token_spent_on_one_app_is_spent_on_the_other(
    make_emu_app: Callable[..., Flask], tmp_path: Path
) -> None:
    path = str(tmp_path / "emulator.sqlite3")
    first, second = make_emu_app(EMULATOR_STATE_PATH=path), make_emu_app(EMULATOR_STATE_PATH=path)
    token = mint(first.test_client(), token_request())

    on_second = Widget(second.test_client())
    assert on_second.open(token).status_code == 303  # minted by the first, valid on the second
    on_second.connect()
    spent = Widget(first.test_client()).open(token)

    assert on_second.callback().startswith(CALLBACKS["success"])
    assert spent.status_code != 303
    assert "ACCESS_TOKEN_NOT_VALID" in spent.get_data(as_text=True)


def test_a_record_that_no_longer_loads_is_gone(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "emulator.sqlite3"))
    with store.transaction() as connection:
        connection.execute(
            "INSERT INTO records (kind, key, value) VALUES ('link', 'x', ?)", (b"not a pickle",)
        )

    assert store.get("link", "x") is None
    assert store.values("link") == []
