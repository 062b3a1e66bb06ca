"""Which corpus URLs the CLI fires: fixtures picked by name or kind, optionally moved onto an app's
own callback URLs (so a real app, which registers its own scheme, receives them)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deeplinks.builder import build
from deeplinks.callbacks import CallbackUrls, coerce_callback_urls
from deeplinks.corpus import Fixture, load_fixtures


class SelectionError(ValueError):
    """A fixture name that is not in the corpus."""


@dataclass(frozen=True)
class Shot:
    """One URL to fire, the fixture it comes from and the callback URLs it is to be parsed with."""

    fixture: Fixture
    url: str
    callback_urls: Mapping[str, Any] | None = field(default=None, hash=False)


def select_shots(
    names: Sequence[str] = (),
    kind: str | None = None,
    callback_urls: CallbackUrls | Mapping[str, str] | None = None,
) -> list[Shot]:
    """The fixtures named (in the order given), else every fixture (of `kind` if given).

    With `callback_urls`, each fixture that expects an event is rebuilt on them with `build`;
    fixtures that expect an error keep their URL, since their point is the URL as written.

    >>> [shot.url for shot in select_shots(["seed-warning"], callback_urls={
    ...     "success": "exampleapp://cb/success", "exit": "exampleapp://cb/exit",
    ...     "event": "exampleapp://cb/event"})]
    ['exampleapp://cb/event?warning=institution_disabled&warning_message=The%20institution%20is%20temporarily%20unavailable.']
    """
    callbacks = None if callback_urls is None else coerce_callback_urls(callback_urls)
    fixtures = load_fixtures(kind)
    if names:
        by_name = {fixture.name: fixture for fixture in fixtures}
        unknown = [name for name in names if name not in by_name]
        if unknown:
            close = difflib.get_close_matches(unknown[0], by_name, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            scope = f" of kind {kind}" if kind else ""
            raise SelectionError(f"no fixture{scope} named {unknown[0]!r}{hint}")
        fixtures = [by_name[name] for name in names]
    shots = []
    for fixture in fixtures:
        if callbacks is not None and fixture.expect is not None:
            shots.append(Shot(fixture, build(fixture.expect, callbacks), callbacks.to_dict()))
        else:
            shots.append(Shot(fixture, fixture.url, fixture.callback_urls))
    return shots
