"""What a ``DATABASE_URL`` names, without loading a database driver: gunicorn's master reads it
(:mod:`server.gunicorn_conf`) before its gevent workers patch the standard library."""

from __future__ import annotations


def normalise_url(url: str) -> str:
    """Pick our drivers for the URL forms hosting platforms hand out.

    >>> normalise_url("postgres://u@h/db")
    'postgresql+psycopg://u@h/db'
    >>> normalise_url("sqlite:///x.db")
    'sqlite:///x.db'
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def names_postgresql(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database (by its scheme: a URL that is not one names none).

    >>> names_postgresql("postgres://u@h/db"), names_postgresql("sqlite:///x.db"), names_postgresql("")
    (True, False, False)
    """
    return normalise_url(url).partition(":")[0].partition("+")[0] == "postgresql"
