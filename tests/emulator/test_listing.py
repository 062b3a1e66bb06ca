"""Belvo's pagination rules, on plain lists (the API tests cover them through real endpoints)."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from emulator.errors import NotFound, RequestInvalid
from emulator.listing import Field, apply_filters, paginate

ITEMS = [{"id": str(i), "day": f"2026-01-{1 + i % 28:02d}"} for i in range(1500)]
URL = "http://emu/api/things/"


def _page(query: dict[str, str]) -> dict[str, object]:
    url = URL + "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return paginate(ITEMS, MultiDict(query), url)


def test_100_per_page_by_default() -> None:
    page = _page({})

    assert (page["count"], len(page["results"])) == (1500, 100)
    assert page["next"] == URL + "?page=2"


@pytest.mark.parametrize(("asked", "served"), [("5000", 1000), ("1000", 1000), ("0", 100), ("lots", 100)])
def test_page_size_is_kept_between_1_and_1000(asked: str, served: int) -> None:
    assert len(_page({"page_size": asked})["results"]) == served


def test_last_page_has_no_next_and_past_it_is_not_found() -> None:
    last = _page({"page_size": "1000", "page": "2"})

    assert (last["next"], last["previous"]) == (None, URL + "?page_size=1000")
    with pytest.raises(NotFound):
        _page({"page_size": "1000", "page": "3"})
    with pytest.raises(NotFound):
        _page({"page": "first"})


def test_an_empty_list_still_has_a_first_page() -> None:
    assert paginate([], MultiDict(), URL) == {"count": 0, "next": None, "previous": None, "results": []}


def test_date_lookups_and_in() -> None:
    fields = [Field("id", lambda v: v["id"]), Field("day", lambda v: v["day"], dated=True)]

    ranged = apply_filters(ITEMS, MultiDict({"day__range": "2026-01-02,2026-01-03"}), fields)
    chosen = apply_filters(ITEMS, MultiDict({"id__in": "1,2,9999", "day__gt": "2026-01-02"}), fields)

    assert {item["day"] for item in ranged} == {"2026-01-02", "2026-01-03"}
    assert [item["id"] for item in chosen] == ["2"]
    with pytest.raises(RequestInvalid):
        apply_filters(ITEMS, MultiDict({"day__range": "2026-01-02"}), fields)
