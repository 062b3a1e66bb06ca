"""`POST /v1/widget-sessions/{id}/events` and what `GET /v1/widget-sessions/{id}` then shows: deeplink
events bound to the session, successes verified with Belvo (the emulator), replays, expiry, concurrency."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from deeplinks import ErrorEvent, ExitError, ExitEvent, WarningEvent
from server.models import Link, SessionEvent, WidgetSession
from server.services.events import MAX_WARNINGS
from tests.server.lifecycle import Flow, deeplink, success


@pytest.fixture
def flow(database_url: str) -> Iterator[Flow]:
    with Flow.start(database_url) as flow:
        yield flow


def events_of(flow: Flow, user: str, session_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = flow.get_session(user, session_id).get_json()["events"]
    return events


def error_code(response: Any) -> str:
    code: str = response.get_json()["errors"][0]["code"]
    return code


# -- success ---------------------------------------------------------------------------------------------


def test_success_is_verified_with_belvo_and_stores_the_link_for_the_user(flow: Flow) -> None:
    session = flow.create_session("alice")
    link = flow.belvo_link(session["external_id"])

    response = flow.post_event("alice", session["id"], success(session, link))

    assert response.status_code == 200
    body = response.get_json()
    assert body["event"] == {
        "type": "success",
        "link_id": link["id"],
        "institution": link["institution"],
        "extra": {},
    }
    assert body["session"]["status"] == "succeeded"
    assert body["session"]["link_id"] == link["id"]
    assert body["session"]["widget_url"] is None
    assert body["session"]["events"] == [body["event"]]
    assert response.headers["Cache-Control"] == "no-store"
    listed = flow.get("alice", "/v1/links").get_json()["links"]
    assert [(item["id"], item["session_id"]) for item in listed] == [(link["id"], session["id"])]


def test_the_stored_institution_is_belvos_not_the_deeplinks(flow: Flow) -> None:
    session = flow.create_session("alice")
    link = flow.belvo_link(session["external_id"])

    response = flow.post_event("alice", session["id"], success(session, link, institution="erebor_br_retail"))

    assert response.status_code == 200
    assert response.get_json()["session"]["institution"] == link["institution"]
    assert flow.get("alice", f"/v1/links/{link['id']}").get_json()["institution"] == link["institution"]


def test_a_forged_success_with_another_users_real_link_is_403_and_stores_nothing(flow: Flow) -> None:
    bobs_session = flow.create_session("bob")
    bobs_link = flow.belvo_link(bobs_session["external_id"])
    session = flow.create_session("alice")

    response = flow.post_event("alice", session["id"], success(session, bobs_link))

    assert response.status_code == 403
    assert error_code(response) == "link_not_owned"
    assert flow.count(Link) == 0
    assert flow.count(SessionEvent) == 0
    assert flow.get_session("alice", session["id"]).get_json()["status"] == "pending"


def test_a_link_belvo_does_not_know_is_the_same_403(flow: Flow) -> None:
    session = flow.create_session("alice")
    unknown = {"id": "0b6f1c52-4a7e-4c38-9b7e-2f1d1c0a9e11", "institution": "ofmockbank_br_retail"}

    response = flow.post_event("alice", session["id"], success(session, unknown))

    # The same answer as for someone else's link: the endpoint does not reveal which link ids exist.
    assert response.status_code == 403
    assert error_code(response) == "link_not_owned"
    assert flow.count(Link) == 0


def test_a_link_at_an_institution_the_session_did_not_offer_is_403(flow: Flow) -> None:
    session = flow.create_session("alice", institutions=["ofmockbank_br_retail"])
    link = flow.belvo_link(session["external_id"], institution="ofdownbank_br_retail")

    response = flow.post_event("alice", session["id"], success(session, link))

    assert response.status_code == 403
    assert flow.count(Link) == 0


def test_a_link_created_before_the_session_is_403(flow: Flow) -> None:
    # Alice's own older link, replayed into a new session (threat model A5: created_at >= session's).
    old_session = flow.create_session("alice")
    old_link = flow.belvo_link(old_session["external_id"])
    flow.clock.advance(minutes=5)
    session = flow.create_session("alice")

    response = flow.post_event("alice", session["id"], success(session, old_link))

    assert response.status_code == 403
    assert flow.count(Link) == 0


def test_replaying_the_same_success_is_200_and_stores_nothing_new(flow: Flow) -> None:
    session = flow.create_session("alice")
    url = success(session, flow.belvo_link(session["external_id"]))
    first = flow.post_event("alice", session["id"], url)

    again = flow.post_event("alice", session["id"], url)

    assert again.status_code == 200
    assert again.get_json()["session"] == first.get_json()["session"]
    assert flow.count(Link) == 1
    assert flow.count(SessionEvent) == 1


def test_a_second_different_link_is_409_and_not_stored(flow: Flow) -> None:
    session = flow.create_session("alice")
    flow.post_event("alice", session["id"], success(session, flow.belvo_link(session["external_id"])))
    second = flow.belvo_link(session["external_id"])

    response = flow.post_event("alice", session["id"], success(session, second))

    assert response.status_code == 409
    assert error_code(response) == "session_already_completed"
    assert flow.count(Link) == 1
    assert len(events_of(flow, "alice", session["id"])) == 1


def test_belvo_unreachable_is_503_with_retry_after_and_the_same_url_works_later(flow: Flow) -> None:
    session = flow.create_session("alice")
    url = success(session, flow.belvo_link(session["external_id"]))
    flow.fault("/api/links/", 503)

    response = flow.post_event("alice", session["id"], url)

    assert response.status_code == 503
    assert error_code(response) == "upstream_unavailable"
    assert int(response.headers["Retry-After"]) >= 1
    assert flow.get_session("alice", session["id"]).get_json()["status"] == "pending"
    assert flow.count(SessionEvent) == 0

    flow.clear_faults()
    assert flow.post_event("alice", session["id"], url).get_json()["session"]["status"] == "succeeded"


# -- ownership and expiry --------------------------------------------------------------------------------


def test_another_users_session_is_404_for_events_and_reads(flow: Flow) -> None:
    session = flow.create_session("alice")
    link = flow.belvo_link(session["external_id"])

    posted = flow.post_event("mallory", session["id"], success(session, link))
    read = flow.get_session("mallory", session["id"])

    assert (posted.status_code, read.status_code) == (404, 404)
    assert error_code(posted) == "not_found"
    assert flow.count(Link) == 0
    assert flow.get_session("alice", session["id"]).get_json()["status"] == "pending"


@pytest.mark.parametrize("session_id", ["ws_missing", "%00", "x" * 300])
def test_unknown_or_malformed_session_ids_are_404(flow: Flow, session_id: str) -> None:
    response = flow.post_event("alice", session_id, "ofdaapp://belvo/exit?meta_data_step=abandon-survey")
    assert response.status_code == 404


def test_an_expired_session_is_410_records_nothing_and_does_not_call_belvo(flow: Flow) -> None:
    session = flow.create_session("alice")
    url = success(session, flow.belvo_link(session["external_id"]))
    # A fault Belvo would answer the link lookup with: still there afterwards means no lookup happened.
    flow.fault("/api/links/", 500, times=1)
    flow.clock.advance(minutes=11)

    response = flow.post_event("alice", session["id"], url)

    assert response.status_code == 410
    assert error_code(response) == "session_expired"
    assert [fault["times"] for fault in flow.faults()] == [1]
    assert flow.count(SessionEvent) == 0
    assert flow.count(Link) == 0
    view = flow.get_session("alice", session["id"]).get_json()
    assert (view["status"], view["widget_url"]) == ("expired", None)


def test_a_session_reads_expired_once_past_expires_at_without_any_job(flow: Flow) -> None:
    session = flow.create_session("alice")
    flow.clock.advance(minutes=11)

    assert flow.get_session("alice", session["id"]).get_json()["status"] == "expired"
    assert flow.row(WidgetSession, session["id"]).status == "pending"  # nothing had to write it down


def test_a_succeeded_session_stays_succeeded_after_expires_at_and_accepts_its_replay(flow: Flow) -> None:
    session = flow.create_session("alice")
    url = success(session, flow.belvo_link(session["external_id"]))
    flow.post_event("alice", session["id"], url)
    flow.clock.advance(hours=1)

    again = flow.post_event("alice", session["id"], url)

    assert again.status_code == 200
    assert again.get_json()["session"]["status"] == "succeeded"


# -- exit, error, warning --------------------------------------------------------------------------------

ABANDONED = ExitEvent(step="abandon-survey")
LOGIN_ERROR = ExitEvent(
    ExitError("login_error", "Invalid credentials provided to login to the institution"),
    "ofmockbank_br_retail",
)
TOKEN_ERROR = ErrorEvent("ACCESS_TOKEN_NOT_VALID", "The access token was not provided or is not valid")
DISABLED = WarningEvent("institution_disabled", "The institution is temporarily unavailable.")


@pytest.mark.parametrize(
    ("event", "status"), [(ABANDONED, "exited"), (LOGIN_ERROR, "exited"), (TOKEN_ERROR, "failed")]
)
def test_exit_and_error_complete_the_session_without_a_link(flow: Flow, event: Any, status: str) -> None:
    session = flow.create_session("alice")

    response = flow.post_event("alice", session["id"], deeplink(session, event))

    assert response.status_code == 200
    assert response.get_json()["event"] == event.to_dict()
    assert response.get_json()["session"]["status"] == status
    assert response.get_json()["session"]["widget_url"] is None
    assert flow.count(Link) == 0


def test_an_exit_naming_an_absurdly_long_institution_is_recorded_not_a_500(flow: Flow) -> None:
    session = flow.create_session("alice")
    event = ExitEvent(institution="x" * 300)

    response = flow.post_event("alice", session["id"], deeplink(session, event))

    assert response.status_code == 200
    assert response.get_json()["session"]["institution"] is None
    assert response.get_json()["session"]["events"] == [event.to_dict()]


def test_a_warning_is_recorded_and_keeps_the_session_pending(flow: Flow) -> None:
    session = flow.create_session("alice")

    warned = flow.post_event("alice", session["id"], deeplink(session, DISABLED))
    exited = flow.post_event("alice", session["id"], deeplink(session, LOGIN_ERROR))

    assert warned.get_json()["session"]["status"] == "pending"
    assert warned.get_json()["session"]["widget_url"] == session["widget_url"]
    assert exited.get_json()["session"]["status"] == "exited"
    assert [e["type"] for e in events_of(flow, "alice", session["id"])] == ["warning", "exit"]


def test_the_same_warning_again_is_not_recorded_twice(flow: Flow) -> None:
    session = flow.create_session("alice")
    first = flow.post_event("alice", session["id"], deeplink(session, DISABLED))
    again = flow.post_event("alice", session["id"], deeplink(session, replace(DISABLED, extra={"try": "2"})))

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.get_json()["session"]["status"] == "pending"
    assert events_of(flow, "alice", session["id"]) == [DISABLED.to_dict()]


def test_a_session_keeps_a_bounded_number_of_warnings(flow: Flow) -> None:
    session = flow.create_session("alice")
    for n in range(MAX_WARNINGS):
        warning = WarningEvent("institution_disabled", f"Unavailable, try {n}")
        assert flow.post_event("alice", session["id"], deeplink(session, warning)).status_code == 200

    refused = flow.post_event("alice", session["id"], deeplink(session, WarningEvent("x", "one more")))

    assert error_code(refused) == "rate_limited"
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 600  # until the session expires
    assert len(events_of(flow, "alice", session["id"])) == MAX_WARNINGS
    exited = flow.post_event("alice", session["id"], deeplink(session, LOGIN_ERROR))
    assert exited.get_json()["session"]["status"] == "exited"  # the session still ends normally


def test_finishing_a_session_in_the_widget_frees_an_open_slot(database_url: str) -> None:
    with Flow.start(database_url, SESSION_MAX_PENDING="2") as flow:
        finished = flow.create_session("alice")
        flow.clock.advance(seconds=1)
        open_one = flow.create_session("alice")
        flow.post_event("alice", finished["id"], deeplink(finished, LOGIN_ERROR))

        flow.clock.advance(seconds=1)
        assert flow.create_session("alice")["status"] == "pending"

        # Two open sessions now, the cap: the older open one was not cancelled to make room.
        assert flow.get_session("alice", open_one["id"]).get_json()["status"] == "pending"
        assert flow.get_session("alice", finished["id"]).get_json()["status"] == "exited"


def test_the_same_exit_again_is_200_and_not_recorded_twice(flow: Flow) -> None:
    session = flow.create_session("alice")
    flow.post_event("alice", session["id"], deeplink(session, LOGIN_ERROR))

    again = flow.post_event("alice", session["id"], deeplink(session, LOGIN_ERROR))

    assert again.status_code == 200
    assert len(events_of(flow, "alice", session["id"])) == 1


@pytest.mark.parametrize("late", [ABANDONED, TOKEN_ERROR, DISABLED, "success"])
def test_any_other_event_after_completion_is_409_and_not_recorded(flow: Flow, late: Any) -> None:
    session = flow.create_session("alice")
    flow.post_event("alice", session["id"], deeplink(session, LOGIN_ERROR))
    url = (
        success(session, flow.belvo_link(session["external_id"]))
        if late == "success"
        else deeplink(session, late)
    )

    response = flow.post_event("alice", session["id"], url)

    assert response.status_code == 409
    assert error_code(response) == "session_already_completed"
    assert len(events_of(flow, "alice", session["id"])) == 1
    assert flow.count(Link) == 0


# -- what the app may send -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "code", "field"),
    [
        (
            "ofdaapp://belvo/success?link=not-a-uuid&institution=ofmockbank_br_retail",
            "invalid_deeplink",
            "link",
        ),
        ("ofdaapp://belvo/success?institution=ofmockbank_br_retail", "invalid_deeplink", "link"),
        (
            "otherapp://belvo/success?link=0b6f1c52-4a7e-4c38-9b7e-2f1d1c0a9e11&institution=x",
            "unknown_event",
            "url",
        ),
        ("ofdaapp://belvo/event?foo=bar", "unknown_event", "url"),
    ],
)
def test_a_url_that_is_not_one_of_the_sessions_deeplinks_is_422(
    flow: Flow, url: str, code: str, field: str
) -> None:
    session = flow.create_session("alice")

    response = flow.post_event("alice", session["id"], url)

    assert response.status_code == 422
    assert (error_code(response), response.get_json()["errors"][0]["field"]) == (code, field)
    assert flow.count(SessionEvent) == 0


@pytest.mark.parametrize("body", [{}, {"url": 7}, {"url": "x", "other": 1}])
def test_a_body_without_a_url_string_is_422(flow: Flow, body: dict[str, Any]) -> None:
    session = flow.create_session("alice")
    response = flow.client.post(
        f"/v1/widget-sessions/{session['id']}/events", json=body, headers=flow.headers("alice")
    )
    assert response.status_code == 422
    assert error_code(response) == "validation_error"


def test_events_need_a_bearer_token(flow: Flow) -> None:
    session = flow.create_session("alice")
    response = flow.client.post(
        f"/v1/widget-sessions/{session['id']}/events", json={"url": "ofdaapp://belvo/exit"}
    )
    assert response.status_code == 401


# -- the app coming back -----------------------------------------------------------------------------------


def test_an_app_relaunched_after_the_os_killed_it_reads_the_outcome(flow: Flow) -> None:
    session = flow.create_session("alice")
    flow.post_event("alice", session["id"], deeplink(session, DISABLED))
    relaunched = flow.app.test_client()  # a new process: no cookies, only the session id it had saved
    assert flow.get_session("alice", session["id"], relaunched).get_json()["status"] == "pending"

    link = flow.belvo_link(session["external_id"])
    flow.post_event(
        "alice", session["id"], success(session, link)
    )  # the callback reached the app before it died

    view = flow.get_session("alice", session["id"], flow.app.test_client()).get_json()
    assert (view["status"], view["link_id"]) == ("succeeded", link["id"])
    assert [e["type"] for e in view["events"]] == ["warning", "success"]
    assert view["widget_url"] is None


# -- concurrency -------------------------------------------------------------------------------------------


def test_ten_concurrent_identical_successes_store_one_link_and_all_answer_200(flow: Flow) -> None:
    session = flow.create_session("alice")
    url = success(session, flow.belvo_link(session["external_id"]))

    def post(_: int) -> int:
        return flow.post_event("alice", session["id"], url, client=flow.app.test_client()).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(post, range(10)))

    assert statuses == [200] * 10
    assert flow.count(Link) == 1
    assert flow.count(SessionEvent) == 1


def test_concurrent_successes_with_two_links_complete_the_session_once(flow: Flow) -> None:
    session = flow.create_session("alice")
    urls = [success(session, flow.belvo_link(session["external_id"])) for _ in range(2)] * 4

    def post(url: str) -> int:
        return flow.post_event("alice", session["id"], url, client=flow.app.test_client()).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(post, urls))

    winner = flow.get_session("alice", session["id"]).get_json()["link_id"]
    assert sorted(statuses) == [200] * 4 + [409] * 4
    assert [url for url, status in zip(urls, statuses, strict=True) if status == 200] == [
        url for url in urls if winner in url
    ]
    assert flow.count(Link) == 1
    assert flow.count(SessionEvent) == 1
