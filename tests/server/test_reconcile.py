"""Reconciling a user's links with Belvo by ``external_id``, off the request path: orphans attached, status
changes taken, links deleted at Belvo forgotten, nothing changed while Belvo fails; queued by
``GET /v1/links`` (debounced) and by the periodic sweep, run at once by ``ofda links reconcile``."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from emulator import DEFAULT_SECRET_ID, DEFAULT_SECRET_PASSWORD
from server.belvo import BelvoUnavailable
from server.config import ConfigError
from server.models import Link, WebhookEvent
from server.services.reconcile import reconcile_stored
from server.webhook_queue import webhook_queue
from tests.conftest import make_app
from tests.server.lifecycle import Flow, success


@pytest.fixture
def flow(database_url: str) -> Iterator[Flow]:
    with Flow.start(database_url) as flow:
        yield flow


def external_id(flow: Flow, user: str = "alice") -> str:
    """The user's external_id: given to Belvo with their first widget session."""
    return str(flow.create_session(user)["external_id"])


def linked(flow: Flow, user: str = "alice", **link: Any) -> dict[str, Any]:
    """A link the user completed in the widget, verified and stored."""
    session = flow.create_session(user)
    belvo_link = flow.belvo_link(session["external_id"], **link)
    assert flow.post_event(user, session["id"], success(session, belvo_link)).status_code == 200
    return belvo_link


def links_of(flow: Flow, user: str = "alice") -> list[dict[str, Any]]:
    response = flow.get(user, "/v1/links")
    assert response.status_code == 200, response.get_json()
    found: list[dict[str, Any]] = response.get_json()["links"]
    return found


def belvo_status(flow: Flow, link_id: str, status: str) -> None:
    """Belvo changes the link's status and sends no webhook."""
    response = flow.client.patch(f"/sandbox/_control/links/{link_id}", json={"status": status})
    assert response.status_code == 200, response.get_json()


def belvo_delete(flow: Flow, link_id: str) -> None:
    """The link is deleted at Belvo (synchronously: no link_deleted webhook), e.g. from its dashboard."""
    keys = base64.b64encode(f"{DEFAULT_SECRET_ID}:{DEFAULT_SECRET_PASSWORD}".encode()).decode()
    response = flow.client.delete(
        f"/sandbox/api/links/{link_id}/", headers={"Authorization": f"Basic {keys}"}
    )
    assert response.status_code == 204


@pytest.fixture
def queued(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The users whose reconcile the app queued; the jobs themselves never run."""
    users: list[str] = []
    monkeypatch.setattr(webhook_queue(flow.app), "enqueue_reconcile", lambda _db, user: users.append(user))
    return users


# -- what a reconcile changes ----------------------------------------------------------------------------


def test_an_orphan_made_with_the_users_external_id_shows_after_the_reconcile_a_read_queued(
    flow: Flow,
) -> None:
    orphan = flow.belvo_link(external_id(flow))  # the app never posted the success, no webhook came

    first = flow.get("alice", "/v1/links").get_json()
    flow.drain()
    after = flow.get("alice", "/v1/links").get_json()

    assert first == {"links": [], "reconciled_at": None}
    assert [(link["id"], link["status"], link["session_id"]) for link in after["links"]] == [
        (orphan["id"], "valid", None)
    ]
    assert after["reconciled_at"] == flow.clock().isoformat().replace("+00:00", "Z")


def test_only_links_with_the_users_external_id_are_attached(flow: Flow) -> None:
    external_id(flow, "alice")
    flow.belvo_link(external_id(flow, "bob"))
    flow.belvo_link("someone-elses-external-id")
    flow.belvo_link(None)

    result = reconcile_stored(flow.app, "alice")

    assert result.attached == ()
    assert links_of(flow, "alice") == []
    assert flow.count(Link) == 0


def test_a_link_belvo_marks_invalid_or_token_required_shows_it(flow: Flow) -> None:
    first, second = linked(flow), linked(flow)
    belvo_status(flow, first["id"], "invalid")
    belvo_status(flow, second["id"], "token_required")

    result = reconcile_stored(flow.app, "alice")

    assert sorted(result.updated) == sorted([first["id"], second["id"]])
    assert {link["id"]: link["status"] for link in links_of(flow)} == {
        first["id"]: "invalid",
        second["id"]: "token_required",
    }


def test_a_reconcile_with_nothing_new_writes_nothing(flow: Flow) -> None:
    link = linked(flow)
    before = flow.get("alice", f"/v1/links/{link['id']}").get_json()
    flow.clock.advance(minutes=1)

    result = reconcile_stored(flow.app, "alice")

    assert (result.attached, result.updated, result.forgotten) == ((), (), ())
    assert flow.get("alice", f"/v1/links/{link['id']}").get_json() == before  # updated_at did not move


def test_a_link_deleted_at_belvo_disappears(flow: Flow) -> None:
    kept, deleted = linked(flow), linked(flow)
    belvo_delete(flow, deleted["id"])

    result = reconcile_stored(flow.app, "alice")

    assert result.forgotten == (deleted["id"],)
    assert [link["id"] for link in links_of(flow)] == [kept["id"]]
    assert flow.get("alice", f"/v1/links/{deleted['id']}").status_code == 404


def test_a_consent_past_its_due_date_is_expired_without_waiting_for_the_webhook(flow: Flow) -> None:
    link = linked(flow, access_mode="recurrent")
    moved = flow.client.post(
        "/sandbox/_control/consents", json={"link_id": link["id"], "state": "about_to_expire"}
    )
    assert moved.get_json()["delivered"] is True
    flow.drain()
    assert links_of(flow)[0]["consent"]["status"] == "about_to_expire"

    flow.clock.advance(days=6)
    reconcile_stored(flow.app, "alice")
    assert links_of(flow)[0]["consent"]["status"] == "about_to_expire"

    flow.clock.advance(days=1, seconds=1)
    reconcile_stored(flow.app, "alice")
    consent = links_of(flow)[0]["consent"]
    assert (consent["status"], consent["consent_id"]) == (
        "expired",
        moved.get_json()["webhook"]["data"]["consent_id"],
    )


def test_belvo_failing_changes_nothing(flow: Flow, queued: list[str]) -> None:
    link = linked(flow)
    orphan = flow.belvo_link(external_id(flow))
    belvo_status(flow, link["id"], "invalid")
    flow.fault("/api/links/", 503)

    with pytest.raises(BelvoUnavailable):
        reconcile_stored(flow.app, "alice")

    assert [(found["id"], found["status"]) for found in links_of(flow)] == [(link["id"], "valid")]
    assert orphan["id"] not in {found["id"] for found in links_of(flow)}


def test_a_link_belvo_fails_to_show_is_kept(flow: Flow, queued: list[str]) -> None:
    link = linked(flow)
    belvo_delete(flow, link["id"])
    flow.fault(f"/api/links/{link['id']}/", 500)  # the list answers; the link's own lookup fails

    with pytest.raises(BelvoUnavailable):
        reconcile_stored(flow.app, "alice")

    assert [found["id"] for found in links_of(flow)] == [link["id"]]


def test_a_failed_reconcile_job_is_retried_until_belvo_answers(flow: Flow) -> None:
    orphan = flow.belvo_link(external_id(flow))
    flow.fault("/api/links/", 503, times=2)  # the client's one retry fails too: the attempt fails

    assert links_of(flow) == []  # queues the reconcile
    flow.drain()  # includes the queue's retry, a second later

    assert flow.faults() == []  # both 503s were served: the first attempt did fail
    assert [link["id"] for link in links_of(flow)] == [orphan["id"]]


def test_concurrent_reconciles_attach_an_orphan_once(flow: Flow) -> None:
    orphan = flow.belvo_link(external_id(flow))

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: reconcile_stored(flow.app, "alice"), range(4)))

    assert [link["id"] for link in links_of(flow)] == [orphan["id"]]
    assert sum(len(result.attached) for result in results) >= 1


def test_a_reconcile_racing_the_webhooks_that_recover_the_same_orphan_stores_it_once(flow: Flow) -> None:
    orphan = flow.belvo_link(external_id(flow))

    with ThreadPoolExecutor(max_workers=3) as pool:
        jobs = [pool.submit(reconcile_stored, flow.app, "alice") for _ in range(2)]
        jobs.append(pool.submit(flow.belvo_webhook, orphan["id"], "ACCOUNTS", "historical_update"))
        for job in jobs:
            job.result()
    flow.drain()

    (link,) = links_of(flow)
    assert (link["id"], link["status"], link["resources"]["ACCOUNTS"]["status"]) == (
        orphan["id"],
        "valid",
        "ready",
    )
    assert flow.count(WebhookEvent, status="processed") == 1


def test_a_user_who_never_opened_a_session_has_nothing_to_reconcile(flow: Flow) -> None:
    assert reconcile_stored(flow.app, "nobody").describe() == "0 attached, 0 updated, 0 forgotten"


# -- when it runs ----------------------------------------------------------------------------------------


def test_reading_the_links_queues_a_reconcile_and_never_calls_belvo(flow: Flow, queued: list[str]) -> None:
    link = linked(flow)
    flow.fault("/api/", 503, times=1)  # Belvo is down: the request does not notice

    response = flow.get("alice", "/v1/links")

    assert response.status_code == 200
    assert [found["id"] for found in response.get_json()["links"]] == [link["id"]]
    assert queued == ["alice"]
    assert [fault["times"] for fault in flow.faults()] == [1]  # not served: nobody asked Belvo


def test_reading_the_links_again_within_minutes_queues_nothing_more(flow: Flow, queued: list[str]) -> None:
    external_id(flow, "alice")
    external_id(flow, "bob")

    links_of(flow, "alice")
    links_of(flow, "alice")
    flow.clock.advance(minutes=4, seconds=59)
    links_of(flow, "alice")
    links_of(flow, "bob")
    assert queued == ["alice", "bob"]

    flow.clock.advance(seconds=1)
    links_of(flow, "alice")
    assert queued == ["alice", "bob", "alice"]


def test_the_wait_between_reads_is_a_setting(database_url: str) -> None:
    with Flow.start(database_url, RECONCILE_AFTER_SECONDS="60") as flow:
        orphan = flow.belvo_link(external_id(flow))
        links_of(flow)
        flow.drain()
        belvo_status(flow, orphan["id"], "invalid")

        flow.clock.advance(seconds=59)
        links_of(flow)
        flow.drain()
        assert links_of(flow)[0]["status"] == "valid"

        flow.clock.advance(seconds=1)
        links_of(flow)
        flow.drain()
        assert links_of(flow)[0]["status"] == "invalid"


def test_a_user_without_a_session_queues_nothing(flow: Flow, queued: list[str]) -> None:
    assert links_of(flow, "carol") == []
    assert queued == []


def test_the_sweep_queues_every_user_due_once(flow: Flow, queued: list[str]) -> None:
    external_id(flow, "alice")
    external_id(flow, "bob")
    queue = webhook_queue(flow.app)

    assert queue.sweep_reconciles() == 0  # new users: their links came through the widget just now
    flow.clock.advance(hours=1)
    assert queue.sweep_reconciles() == 2
    assert queue.sweep_reconciles() == 0
    assert sorted(queued) == ["alice", "bob"]

    links_of(flow, "alice")  # queued a moment ago by the sweep: no other
    assert sorted(queued) == ["alice", "bob"]


def test_a_swept_users_orphan_is_attached(flow: Flow) -> None:
    orphan = flow.belvo_link(external_id(flow))
    flow.clock.advance(hours=1)

    assert webhook_queue(flow.app).sweep_reconciles() == 1
    flow.drain()

    assert flow.row(Link, orphan["id"]).user_id == "alice"


@pytest.mark.parametrize("name", ["RECONCILE_EVERY_SECONDS", "RECONCILE_AFTER_SECONDS"])
@pytest.mark.parametrize("value", ["0", "-5", "hourly"])
def test_the_reconcile_intervals_are_checked_at_start(database_url: str, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        make_app(database_url, **{name: value})


# -- the command -----------------------------------------------------------------------------------------


def test_the_command_reconciles_one_user_at_once(flow: Flow) -> None:
    orphan = flow.belvo_link(external_id(flow, "alice"))
    flow.belvo_link(external_id(flow, "bob"))

    result = flow.app.test_cli_runner().invoke(args=["links", "reconcile", "alice"])

    assert result.exit_code == 0, result.output
    assert result.output == "alice: 1 attached, 0 updated, 0 forgotten\n"
    assert [link["id"] for link in links_of(flow, "alice")] == [orphan["id"]]
    assert links_of(flow, "bob") == []


def test_the_command_without_a_user_reconciles_everyone(flow: Flow) -> None:
    flow.belvo_link(external_id(flow, "alice"))
    deleted = linked(flow, "bob")
    belvo_delete(flow, deleted["id"])

    result = flow.app.test_cli_runner().invoke(args=["links", "reconcile"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "alice: 1 attached, 0 updated, 0 forgotten",
        "bob: 0 attached, 0 updated, 1 forgotten",
    ]


def test_the_command_says_when_belvo_fails_or_the_user_is_unknown(flow: Flow, queued: list[str]) -> None:
    external_id(flow)
    flow.fault("/api/links/", 503)

    failed = flow.app.test_cli_runner().invoke(args=["links", "reconcile"])
    unknown = flow.app.test_cli_runner().invoke(args=["links", "reconcile", "nobody"])

    assert failed.exit_code == 1
    assert "alice: nothing changed, Belvo did not answer" in failed.output
    assert "1 of 1 users not reconciled: run the command again" in failed.output
    assert unknown.exit_code == 2
    assert "no such user" in unknown.output
