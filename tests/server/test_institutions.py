"""The institution list sessions are checked against: asked of Belvo once an hour, and never a reason to
refuse a session when Belvo cannot be asked."""

from __future__ import annotations

from typing import Any, cast

import pytest

from server.belvo import BelvoClient, BelvoUnavailable
from server.errors import Unprocessable
from server.services.institutions import CACHE_SECONDS, InstitutionCatalogue, check_known


class Belvo:
    """Stands in for the client: counts the calls, answers ``listed`` or raises ``failure``."""

    def __init__(self, listed: list[str]) -> None:
        self.listed = listed
        self.failure: Exception | None = None
        self.calls: list[dict[str, str]] = []

    def list_institutions(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self.calls.append(params)
        if self.failure is not None:
            raise self.failure
        return [{"name": code} for code in self.listed]


def _catalogue(belvo: Belvo, now: list[float]) -> InstitutionCatalogue:
    return InstitutionCatalogue(cast(BelvoClient, belvo), clock=lambda: now[0])


def test_the_list_is_asked_once_an_hour_for_brazil() -> None:
    belvo, now = Belvo(["ofmockbank_br_retail"]), [0.0]
    catalogue = _catalogue(belvo, now)

    check_known(catalogue, ["ofmockbank_br_retail"])
    now[0] = CACHE_SECONDS - 1
    check_known(catalogue, ["ofmockbank_br_retail"])
    assert belvo.calls == [{"country_code": "BR"}]

    belvo.listed.append("ofnewbank_br_retail")
    now[0] = CACHE_SECONDS + 1
    check_known(catalogue, ["ofnewbank_br_retail"])
    assert len(belvo.calls) == 2


def test_an_unknown_institution_is_named_in_the_refusal() -> None:
    catalogue = _catalogue(Belvo(["ofmockbank_br_retail"]), [0.0])

    with pytest.raises(Unprocessable) as refused:
        check_known(catalogue, ["ofmockbank_br_retail", "ofnobank_br_retail"])

    assert refused.value.details[0].field == "institutions.1"
    assert "ofnobank_br_retail" in str(refused.value)


def test_when_belvo_cannot_be_asked_the_last_list_or_nothing_is_checked() -> None:
    belvo, now = Belvo(["ofmockbank_br_retail"]), [0.0]
    belvo.failure = BelvoUnavailable("down", 6)
    catalogue = _catalogue(belvo, now)

    check_known(catalogue, ["ofanybank_br_retail"])  # no list yet: not refused

    belvo.failure = None
    check_known(catalogue, ["ofmockbank_br_retail"])
    belvo.failure = BelvoUnavailable("down", 6)
    now[0] = CACHE_SECONDS * 2
    with pytest.raises(Unprocessable):  # the last list still holds while Belvo is down
        check_known(catalogue, ["ofanybank_br_retail"])


def test_a_session_naming_no_institution_asks_nothing() -> None:
    belvo = Belvo([])
    check_known(_catalogue(belvo, [0.0]), [])
    assert belvo.calls == []
