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
from deeplinks.errors import DeeplinkError


class SelectionError(ValueError):
    """A fixture name that is not in the corpus."""


@dataclass(frozen=True)
class Shot:
    """One URL to fire, the fixture it comes from and the callback URLs it is to be parsed with."""

    fixture: Fixture
    url: str
    callback_urls: Mapping[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True)
class Skipped:
    """A fixture that cannot be fired, and why (said to the tester, who replays the rest)."""

    fixture: Fixture
    reason: str


@dataclass(frozen=True)
class Selection:
    """The shots to fire and the fixtures skipped, in corpus order."""

    shots: list[Shot]
    skipped: list[Skipped]


def select_shots(
    names: Sequence[str] = (),
    kind: str | None = None,
    callback_urls: CallbackUrls | Mapping[str, str] | None = None,
) -> Selection:
    """The fixtures named (in the order given), else every fixture (of `kind` if given).

    With `callback_urls`, each fixture that expects an event is rebuilt on them with `build`;
    fixtures that expect an error keep their URL, since their point is the URL as written. A
    fixture that cannot be rebuilt on them (too long on longer callback URLs; a resume without an
    `application_link`) is skipped, with the reason.

    >>> callbacks = {"success": "exampleapp://cb/success", "exit": "exampleapp://cb/exit",
    ...              "event": "exampleapp://cb/event"}
    >>> [shot.url for shot in select_shots(["seed-warning"], callback_urls=callbacks).shots]
    ['exampleapp://cb/event?warning=institution_disabled&warning_message=The%20institution%20is%20temporarily%20unavailable.']
    >>> print(select_shots(["resume-token-only"], callback_urls=callbacks).skipped[0].reason)
    cannot be rebuilt on these callback URLs: expected callback_urls with an application_link for a \
resume deeplink
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
    shots: list[Shot] = []
    skipped: list[Skipped] = []
    for fixture in fixtures:
        if callbacks is not None and fixture.expect is not None:
            try:
                shots.append(Shot(fixture, build(fixture.expect, callbacks), callbacks.to_dict()))
            except DeeplinkError as error:
                skipped.append(Skipped(fixture, f"cannot be rebuilt on these callback URLs: {error.message}"))
        else:
            shots.append(Shot(fixture, fixture.url, fixture.callback_urls))
    return Selection(shots, skipped)
