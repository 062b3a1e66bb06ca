"""Belvo's list endpoints: filters, ``fields``/``omit``, and the ``{count, next, previous, results}`` page.

Pagination follows Belvo's documented rules (OpenAPI 1.35 ``page``/``page_size``, "Pagination tips"):
100 results by default, at most 1000 (larger values are lowered to 1000), and absolute ``next``/``previous``
URLs that keep every other query parameter, built from the request so they stay right wherever the
emulator is mounted. Unknown query parameters are ignored, as Django REST framework does.

>>> from werkzeug.datastructures import MultiDict
>>> items = [{"id": str(i)} for i in range(5)]
>>> page = paginate(items, MultiDict({"page_size": "2", "page": "2"}), "http://e/api/x/?page_size=2&page=2")
>>> page["count"], page["next"], page["previous"], [r["id"] for r in page["results"]]
(5, 'http://e/api/x/?page_size=2&page=3', 'http://e/api/x/?page_size=2', ['2', '3'])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from werkzeug.datastructures import MultiDict

from emulator.errors import ErrorItem, NotFound, RequestInvalid

Json = dict[str, Any]
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Field:
    """A filterable field: ``name`` (exact match) and ``name__in``; with ``dated``, also ``__gt``,
    ``__gte``, ``__lt``, ``__lte`` and ``__range`` on an ISO date (``YYYY-MM-DD``); with ``numeric``, the
    same comparisons on a number (``amount__gte=100``)."""

    name: str
    value: Callable[[Json], Any]
    dated: bool = False
    numeric: bool = False

    @property
    def ordered(self) -> bool:
        return self.dated or self.numeric


def apply_filters(items: Sequence[Json], args: MultiDict[str, str], fields: Sequence[Field]) -> list[Json]:
    """The items matching every filter in ``args`` that names one of ``fields``."""
    tests: list[Callable[[Json], bool]] = []
    for spec in fields:
        for lookup in ("", "__in", *(("__gt", "__gte", "__lt", "__lte", "__range") if spec.ordered else ())):
            raw = args.get(spec.name + lookup)
            if raw is not None:
                tests.append(_test(spec, lookup, raw))
    return [item for item in items if all(test(item) for test in tests)]


def _test(spec: Field, lookup: str, raw: str) -> Callable[[Json], bool]:
    param = spec.name + lookup
    if lookup == "__in":
        wanted = set(raw.split(","))
        return lambda item: str(spec.value(item)) in wanted
    if not spec.ordered:
        return lambda item: str(spec.value(item)) == raw
    parse = _number if spec.numeric else _date
    bounds = [parse(param, part) for part in (raw.split(",") if lookup == "__range" else [raw])]
    if lookup == "__range" and len(bounds) != 2:
        raise RequestInvalid((ErrorItem("invalid", "Enter two values separated by a comma.", param),))

    def on(item: Json) -> Any:
        value = spec.value(item)
        if spec.numeric:
            return float("nan") if value is None else float(value)  # nan compares false: no match
        return date.fromisoformat(str(value)[:10])

    match lookup:
        case "__gt":
            return lambda item: on(item) > bounds[0]
        case "__gte":
            return lambda item: on(item) >= bounds[0]
        case "__lt":
            return lambda item: on(item) < bounds[0]
        case "__lte":
            return lambda item: on(item) <= bounds[0]
        case "__range":
            return lambda item: bounds[0] <= on(item) <= bounds[1]
        case _:
            return lambda item: on(item) == bounds[0]


def _date(param: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise RequestInvalid(
            (ErrorItem("invalid", f"Enter a valid date (YYYY-MM-DD), got {raw!r}.", param),)
        ) from None


def _number(param: str, raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise RequestInvalid((ErrorItem("invalid", f"Enter a number, got {raw!r}.", param),)) from None


def shape(item: Json, args: Mapping[str, str]) -> Json:
    """Apply Belvo's ``fields`` (keep only these) and ``omit`` (drop these) to one result."""
    if fields := args.get("fields"):
        keep = set(fields.split(","))
        item = {k: v for k, v in item.items() if k in keep}
    if omit := args.get("omit"):
        drop = set(omit.split(","))
        item = {k: v for k, v in item.items() if k not in drop}
    return item


def paginate(items: Sequence[Json], args: MultiDict[str, str], url: str) -> Json:
    """One page of ``items`` for the request at ``url`` (absolute, with its query string)."""
    size = _int(args.get("page_size"), DEFAULT_PAGE_SIZE)
    size = DEFAULT_PAGE_SIZE if size < 1 else min(size, MAX_PAGE_SIZE)
    page = _int(args.get("page"), 0) if "page" in args else 1
    last = max(1, -(-len(items) // size))
    if not 1 <= page <= last:
        raise NotFound("Invalid page.")
    start = (page - 1) * size
    return {
        "count": len(items),
        "next": _with_page(url, page + 1) if page < last else None,
        "previous": _with_page(url, page - 1) if page > 1 else None,
        "results": [shape(item, args) for item in items[start : start + size]],
    }


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default


def _with_page(url: str, page: int) -> str:
    # Like DRF: page 1 is the URL without ``page``; other pages replace it in place or append it.
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    if page == 1:
        query = [(k, v) for k, v in query if k != "page"]
    elif any(k == "page" for k, _ in query):
        query = [(k, str(page) if k == "page" else v) for k, v in query]
    else:
        query.append(("page", str(page)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
