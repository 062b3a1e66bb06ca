"""The session's end from the app's side: `POST /v1/widget-sessions/{id}/cancel`, a new session replacing
the user's oldest open one, and a success that arrives for a cancelled session (Belvo played by the
emulator)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.test import TestResponse

from deeplinks import ExitError, ExitEvent
from server.models import Link
from tests.server.lifecycle import Flow, deeplink, success

LOGIN_ERROR = ExitEvent(ExitError("login_error", "Invalid credentials"), "ofmockbank_br_retail", "login")


@pytest.fixture
def flow(database_url: str) -> Iterator[Flow]:
    with Flow.start(database_url) as flow:
        yield flow


def cancel(flow: Flow, user: str, session_id: str) -> TestResponse:
    return flow.client.post(f"/v1/widget-sessions/{session_id}/cancel", headers=flow.headers(user))


def status_of(flow: Flow, session_id: str, user: str = "alice") -> str:
    status: str = flow.get_session(user, session_id).get_json()["status"]
    return status


def error_of(response: TestResponse) -> tuple[int, str]:
    return response.status_code, response.get_json()["errors"][0]["code"]


def test_cancelling_a_pending_session_closes_it_and_forgets_its_widget_url(flow: Flow) -> None:
    session = flow.create_session("alice")

    response = cancel(flow, "alice", session["id"])

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert (body["id"], body["status"], body["widget_url"]) == (session["id"], "cancelled", None)
    assert flow.get_session("alice", session["id"]).get_json() == body
    qr = flow.get("alice", f"/v1/widget-sessions/{session['id']}/qr.png")
    assert error_of(qr) == (409, "session_already_completed")


def test_cancelling_again_answers_the_cancelled_session(flow: Flow) -> None:
    session = flow.create_session("alice")
    first = cancel(flow, "alice", session["id"])

    again = cancel(flow, "alice", session["id"])

    assert again.status_code == 200
    assert again.get_json() == first.get_json()


def test_another_users_or_an_unknown_session_is_not_found(flow: Flow) -> None:
    session = flow.create_session("alice")

    assert error_of(cancel(flow, "bob", session["id"])) == (404, "not_found")
    assert error_of(cancel(flow, "alice", "ws_no-such-session")) == (404, "not_found")
    assert status_of(flow, session["id"]) == "pending"


def test_a_finished_session_is_409_and_stays_as_it_was(flow: Flow) -> None:
    session = flow.create_session("alice")
    flow.post_event("alice", session["id"], deeplink(session, LOGIN_ERROR))

    assert error_of(cancel(flow, "alice", session["id"])) == (409, "session_already_completed")
    assert status_of(flow, session["id"]) == "exited"


def test_an_expired_session_is_410(flow: Flow) -> None:
    session = flow.create_session("alice")
    flow.clock.advance(minutes=11)  # the emulator's tokens live 10 minutes

    assert error_of(cancel(flow, "alice", session["id"])) == (410, "session_expired")
    assert status_of(flow, session["id"]) == "expired"


def test_a_success_that_arrives_after_the_cancel_still_stores_the_link(flow: Flow) -> None:
    session = flow.create_session("alice")
    link = flow.belvo_link(session["external_id"])  # the user finished in the widget...
    cancel(flow, "alice", session["id"])  # ...as the app closed the webview

    response = flow.post_event("alice", session["id"], success(session, link))

    assert response.status_code == 200
    assert response.get_json()["session"]["status"] == "succeeded"
    assert response.get_json()["session"]["link_id"] == link["id"]
    assert flow.row(Link, link["id"]).user_id == "alice"
    assert [item["id"] for item in flow.get("alice", "/v1/links").get_json()["links"]] == [link["id"]]
    # The same success again is the usual replay: 200, nothing new.
    assert flow.post_event("alice", session["id"], success(session, link)).status_code == 200


def test_a_success_for_a_cancelled_session_is_still_verified(flow: Flow) -> None:
    session = flow.create_session("alice")
    cancel(flow, "alice", session["id"])
    someone_elses = flow.belvo_link("another-users-external-id")

    response = flow.post_event("alice", session["id"], success(session, someone_elses))

    assert error_of(response) == (403, "link_not_owned")
    assert status_of(flow, session["id"]) == "cancelled"
    assert flow.count(Link) == 0


def test_a_success_for_a_cancelled_session_past_its_expiry_is_410(flow: Flow) -> None:
    session = flow.create_session("alice")
    link = flow.belvo_link(session["external_id"])
    cancel(flow, "alice", session["id"])
    flow.clock.advance(minutes=11)

    late = flow.post_event("alice", session["id"], success(session, link))

    assert error_of(late) == (410, "session_expired")
    assert flow.count(Link) == 0


def test_other_events_after_a_cancel_are_409_and_not_recorded(flow: Flow) -> None:
    session = flow.create_session("alice")
    cancel(flow, "alice", session["id"])

    late = flow.post_event("alice", session["id"], deeplink(session, LOGIN_ERROR))

    assert error_of(late) == (409, "session_already_completed")
    assert flow.get_session("alice", session["id"]).get_json()["events"] == []


def test_a_new_session_beyond_the_cap_cancels_the_oldest_and_its_success_still_counts(
    database_url: str,
) -> None:
    with Flow.start(database_url, SESSION_MAX_PENDING="2") as flow:
        oldest = flow.create_session("alice")
        flow.clock.advance(seconds=5)
        older = flow.create_session("alice")
        flow.clock.advance(seconds=5)

        newest = flow.create_session("alice")  # not refused

        assert [status_of(flow, s["id"]) for s in (oldest, older, newest)] == [
            "cancelled",
            "pending",
            "pending",
        ]
        # The user had finished the oldest widget after all: its link is stored, the others go on.
        link = flow.belvo_link(oldest["external_id"])
        response = flow.post_event("alice", oldest["id"], success(oldest, link))
        assert response.get_json()["session"]["status"] == "succeeded"
        assert [status_of(flow, s["id"]) for s in (older, newest)] == ["pending", "pending"]


def test_the_per_minute_limit_still_bounds_a_user_who_keeps_replacing_sessions(database_url: str) -> None:
    with Flow.start(database_url, SESSION_MAX_PENDING="1", SESSION_RATE_LIMIT_PER_MINUTE="3") as flow:
        answers: list[Any] = []
        for _ in range(4):
            answers.append(flow.post_session("alice"))
            flow.clock.advance(seconds=1)

        assert [a.status_code for a in answers] == [201, 201, 201, 429]
        statuses = [status_of(flow, a.get_json()["id"]) for a in answers[:3]]
        assert statuses == ["cancelled", "cancelled", "pending"]


def test_the_openapi_document_describes_cancel_and_the_cancelled_status(flow: Flow) -> None:
    spec = flow.client.get("/openapi.json").get_json()

    operation = spec["paths"]["/v1/widget-sessions/{session_id}/cancel"]["post"]
    assert {"200", "401", "404", "409", "410"} <= set(operation["responses"])
    statuses = spec["components"]["schemas"]["WidgetSession"]["properties"]["status"]["enum"]
    assert set(statuses) == {"pending", "succeeded", "exited", "failed", "expired", "cancelled"}
