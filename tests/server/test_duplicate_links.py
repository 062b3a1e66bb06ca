"""Linking the same bank twice (Belvo's link guide, "Avoiding duplicated links"): a verified success whose
link has the ``institution_user_id`` of a link the user holds replaces it, at Belvo too; or both are kept
with ``DUPLICATE_LINKS=keep``. Belvo's side is the emulator's."""

from __future__ import annotations

from typing import Any

import pytest

from server.config import ConfigError
from tests.conftest import make_app
from tests.emulator.builders import basic
from tests.server.lifecycle import CPF, Flow, success

IDENTIFICATION = [{"type": "CPF", "number": CPF, "name": "Ralph Bragg"}]


def connect(flow: Flow, user: str = "alice", **link: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A session completed with a new link at Belvo for the same person: (link, the events answer)."""
    session = flow.create_session(user)
    belvo = flow.belvo_link(session["external_id"], identification_info=IDENTIFICATION, **link)
    response = flow.post_event(user, session["id"], success(session, belvo))
    assert response.status_code == 200, response.get_json()
    return belvo, response.get_json()


def at_belvo(flow: Flow, link_id: str) -> int:
    """The status Belvo (the emulator) answers for the link: 200 while it exists, 404 once deleted."""
    return flow.client.get(f"/sandbox/api/links/{link_id}/", headers=basic()).status_code


def listed(flow: Flow, user: str = "alice") -> list[str]:
    return [link["id"] for link in flow.get(user, "/v1/links").get_json()["links"]]


def test_the_same_bank_twice_leaves_the_new_link_only_here_and_at_belvo(database_url: str) -> None:
    with Flow.start(database_url) as flow:
        first, answer = connect(flow)
        assert answer["duplicates"] == []

        second, answer = connect(flow)

        assert answer["duplicates"] == [{"link_id": first["id"], "action": "replaced"}]
        assert listed(flow) == [second["id"]]
        assert at_belvo(flow, first["id"]) == 404
        assert at_belvo(flow, second["id"]) == 200


def test_keep_keeps_both(database_url: str) -> None:
    with Flow.start(database_url, DUPLICATE_LINKS="keep") as flow:
        first, _ = connect(flow)

        second, answer = connect(flow)

        assert answer["duplicates"] == [{"link_id": first["id"], "action": "kept"}]
        assert sorted(listed(flow)) == sorted([first["id"], second["id"]])
        assert at_belvo(flow, first["id"]) == 200


def test_another_bank_or_another_user_is_not_a_duplicate(database_url: str) -> None:
    with Flow.start(database_url) as flow:
        first, _ = connect(flow)
        _, other_bank = connect(flow, institution="ofitau_br_retail")
        _, other_user = connect(flow, user="bob")

        assert other_bank["duplicates"] == other_user["duplicates"] == []
        assert first["id"] in listed(flow)


def test_belvo_unreachable_keeps_the_old_link_and_says_so(database_url: str) -> None:
    with Flow.start(database_url) as flow:
        first, _ = connect(flow)
        session = flow.create_session("alice")
        belvo = flow.belvo_link(session["external_id"], identification_info=IDENTIFICATION)
        flow.fault(f"/api/links/{first['id']}/", 503)

        answer = flow.post_event("alice", session["id"], success(session, belvo)).get_json()

        assert answer["duplicates"] == [{"link_id": first["id"], "action": "kept"}]
        assert sorted(listed(flow)) == sorted([first["id"], belvo["id"]])


@pytest.mark.parametrize("value", ["both", ""])
def test_a_wrong_setting_stops_the_app(database_url: str, value: str) -> None:
    with pytest.raises(ConfigError, match="DUPLICATE_LINKS"):
        make_app(database_url, DUPLICATE_LINKS=value)
