"""The QA page's links and consents: a test user's links, and a renew URL only once Belvo reported a
consent (the browser flow, with the emulator moving the consent, is in ``tests/e2e/test_consents.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server.lifecycle import CPF, Flow, success

FORM = {"user_id": "qa-ana", "cpf": CPF, "name": "Ana"}


@pytest.fixture
def flow(database_url: str) -> Iterator[Flow]:
    with Flow.start(database_url) as flow:
        yield flow


def test_the_links_of_the_test_user_are_listed_and_a_renew_url_needs_a_consent(flow: Flow) -> None:
    session = flow.create_session("qa-ana", access_mode="recurrent")
    link = flow.belvo_link(session["external_id"], access_mode="recurrent")
    flow.post_event("qa-ana", session["id"], success(session, link))

    listed = flow.client.post("/qa/consents", data=FORM)
    refused = flow.client.post("/qa/consents", data={**FORM, "link_id": link["id"]})

    assert listed.status_code == 200
    assert f'data-link="{link["id"]}"' in listed.text
    assert refused.status_code == 409
    assert "consent_not_renewable" in refused.text
    assert (
        flow.client.post("/qa/consents", data={**FORM, "user_id": "qa-bob"}).text.count('data-test="qa-link"')
        == 0
    )
