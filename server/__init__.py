"""The Flask backend: widget sessions, deeplink events, Belvo webhooks and link data.

``create_app`` is the app factory (Flask tutorial style, :mod:`server.app`); ``ofda`` is its command line.

Importing the package loads none of the app: gunicorn's master imports it for its settings
(:mod:`server.gunicorn_conf`) before forking workers, and on PostgreSQL those are gevent's, which patch
the standard library when they start. A database driver imported before that would wait for PostgreSQL
in a way that stops every request of the worker (psycopg chooses how to wait when it is imported:
https://www.psycopg.org/psycopg3/docs/advanced/async.html#gevent-support), so the app loads only when
``create_app`` is first asked for, in the worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from server.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
