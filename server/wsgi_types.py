"""The WSGI callable type, for annotations."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

WSGIApplication: TypeAlias = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
