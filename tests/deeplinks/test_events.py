"""Events as values: checked on construction, immutable, hashable, and read back from JSON."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from deeplinks import (
    DeeplinkError,
    ErrorEvent,
    Event,
    ExitError,
    ExitEvent,
    SuccessEvent,
    WarningEvent,
    from_dict,
)

LINK = "cb65f82c-dc93-4d3e-8270-9a27528397f5"


def success(**changes: Any) -> dict[str, Any]:
    return {"type": "success", "link_id": LINK, "institution": "ofmockbank_br_retail", "extra": {}, **changes}


def test_to_dict_uses_the_contract_keys_in_order() -> None:
    events: list[Event] = [
        SuccessEvent(LINK, "erebor_br_retail"),
        ExitEvent(ExitError("login_error", "Invalid credentials"), "amex_mx_retail", "abandon-survey"),
        ErrorEvent("ACCESS_TOKEN_NOT_VALID", "The access token was not provided or is not valid"),
        WarningEvent("institution_disabled", None, {"utm": "x"}),
    ]
    assert [list(event.to_dict()) for event in events] == [
        ["type", "link_id", "institution", "extra"],
        ["type", "error", "institution", "step", "extra"],
        ["type", "code", "message", "extra"],
        ["type", "code", "message", "extra"],
    ]
    assert events[1].to_dict()["error"] == {"code": "login_error", "message": "Invalid credentials"}
    assert [from_dict(event.to_dict()) for event in events] == events


def test_extra_is_a_read_only_copy() -> None:
    given = {"utm": "push"}
    event = SuccessEvent(LINK, "ofmockbank_br_retail", given)
    given["utm"] = "changed"
    assert event.extra == {"utm": "push"}
    with pytest.raises(TypeError):
        event.extra["utm"] = "x"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.institution = "other"  # type: ignore[misc]


def test_events_are_hashable_and_compare_by_value() -> None:
    one = ExitEvent(step="abandon-survey", extra={"a": "1"})
    assert one == ExitEvent(step="abandon-survey", extra={"a": "1"})
    assert one != ExitEvent(step="abandon-survey", extra={"a": "2"})
    assert len({one, ExitEvent(step="abandon-survey", extra={"a": "1"})}) == 1
    error: object = ErrorEvent("X")
    assert error != WarningEvent("X")


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: SuccessEvent(LINK.upper(), "x"), "link_id"),
        (lambda: SuccessEvent("{" + LINK + "}", "x"), "link_id"),
        (lambda: SuccessEvent(LINK, ""), "institution"),
        (lambda: SuccessEvent(LINK, "x", {"link": "y"}), "extra.link"),
        (lambda: SuccessEvent(LINK, "x", {"": "y"}), "extra parameter name"),
        (lambda: ExitEvent(step=""), "step"),
        (lambda: ExitEvent(ExitError("login_error", "line\nbreak")), "error.message"),
        (lambda: ExitEvent(extra={"meta_data_step": "x"}), "extra.meta_data_step"),
        (lambda: ErrorEvent("X", "\u202eevil"), "message"),
        (lambda: ErrorEvent("X", extra={"warning": "y"}), "extra.warning"),
        (lambda: WarningEvent("X", extra={"a": "\x00"}), "extra.a"),
        (lambda: WarningEvent("X", extra={"a": "\ud800"}), "extra.a"),
    ],
)
def test_an_event_that_could_not_round_trip_cannot_be_made(make: Any, field: str) -> None:
    with pytest.raises(DeeplinkError) as raised:
        make()
    assert raised.value.field == field
    assert raised.value.code == "invalid_deeplink"


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"type": "cancel"}, "unknown_event", "type"),
        ({"type": ["success"]}, "unknown_event", "type"),
        ({}, "unknown_event", "type"),
        (success(link_id=None), "invalid_deeplink", "link_id"),
        (success(extra=[]), "invalid_deeplink", "extra"),
        ({k: v for k, v in success().items() if k != "extra"}, "invalid_deeplink", "extra"),
        (success(colour="red"), "invalid_deeplink", "colour"),
        ({"type": "exit", "error": {"code": "x"}, "institution": None, "step": None, "extra": {}},
         "invalid_deeplink", "error.message"),
        ({"type": "exit", "error": "login_error", "institution": None, "step": None, "extra": {}},
         "invalid_deeplink", "error"),
        ({"type": "warning", "code": 7, "message": None, "extra": {}}, "invalid_deeplink", "code"),
    ],
)  # fmt: skip
def test_from_dict_rejects_json_that_is_not_an_event(data: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(DeeplinkError) as raised:
        from_dict(data)
    assert (raised.value.code, raised.value.field) == (code, field)


def test_from_dict_rejects_a_non_object() -> None:
    with pytest.raises(DeeplinkError, match="expected an event object; got list"):
        from_dict([])  # type: ignore[arg-type]


def test_deeplink_error_is_a_value_error_with_contract_json() -> None:
    error = DeeplinkError("invalid_deeplink", "expected x; got y", "link")
    assert isinstance(error, ValueError)
    assert str(error) == "expected x; got y"
    assert error.to_dict() == {"code": "invalid_deeplink", "message": "expected x; got y", "field": "link"}
