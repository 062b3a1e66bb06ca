"""Where the emulator keeps what it remembers: one SQLite database, in memory or in a file.

With a file (``EMULATOR_STATE_PATH``), every process that opens it sees one emulator: the same signing
key, links, tokens, widget sessions and fault rules, across gunicorn's workers and across restarts. Writes
take SQLite's write lock (``BEGIN IMMEDIATE``), so a check-then-update (spending a token, a refresh's
cooldown, a fault rule's count) is atomic between processes too; WAL lets readers go on meanwhile.
Without a path the database is in memory, for this process only, as a test's emulator wants.

Records are the emulator's frozen dataclasses, stored pickled: the file is the emulator's own (a
development tool's scratch state, written and read only by this code), and pickling keeps the records'
nested dataclasses, tuples and datetimes without a second schema to keep in step. A record an older
version of the emulator wrote that this one cannot load is treated as gone (logged), never an error.

>>> store = Store(None)
>>> with store.transaction():
...     store.put("link", "a", {"n": 1})
>>> store.get("link", "a"), store.get("link", "b"), store.values("link")
({'n': 1}, None, [{'n': 1}])
>>> store.setdefault_meta("key", b"first") == store.setdefault_meta("key", b"second") == b"first"
True
"""

from __future__ import annotations

import logging
import os
import pickle
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, "
    "PRIMARY KEY (kind, key))",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS faults (id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL)",
)
#: How long a write waits for another process's write lock before failing.
BUSY_TIMEOUT_SECONDS = 30.0


class Store:
    """One connection per process, used by its threads one at a time (the emulator is a development
    tool: its requests are few, and one connection keeps an in-memory database whole)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._connection: sqlite3.Connection | None = None
        self._pid = 0
        with self.transaction() as connection:
            for statement in _SCHEMA:
                connection.execute(statement)

    def _connect(self) -> sqlite3.Connection:
        # A process forked after the connection was opened (gunicorn --preload) opens its own.
        if self._connection is None or self._pid != os.getpid():
            connection = sqlite3.connect(
                self.path or ":memory:",
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,  # transactions are ours: BEGIN IMMEDIATE ... COMMIT
                check_same_thread=False,  # the lock below hands it to one thread at a time
            )
            if self.path is not None:
                connection.execute("PRAGMA journal_mode=WAL")
            self._connection, self._pid = connection, os.getpid()
        return self._connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the write lock (of every process) until the outermost block ends; commit, or roll back
        on an exception. Nested blocks join the outer one."""
        with self._lock:
            connection = self._connect()
            outermost = self._depth == 0
            if outermost:
                connection.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield connection
            except BaseException:
                self._depth -= 1
                if outermost:
                    connection.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outermost:
                connection.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._connect()

    def get(self, kind: str, key: str) -> Any:
        with self.reading() as connection:
            row = connection.execute(
                "SELECT value FROM records WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        return None if row is None else _load(row[0])

    def values(self, kind: str) -> list[Any]:
        with self.reading() as connection:
            rows = connection.execute("SELECT value FROM records WHERE kind = ?", (kind,)).fetchall()
        return [value for row in rows if (value := _load(row[0])) is not None]

    def put(self, kind: str, key: str, value: Any) -> None:
        with self.transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO records (kind, key, value) VALUES (?, ?, ?)",
                (kind, key, pickle.dumps(value)),
            )

    def delete(self, kind: str, key: str) -> Any:
        """Remove the record and return it (``None`` if there was none)."""
        with self.transaction() as connection:
            value = self.get(kind, key)
            connection.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))
            return value

    def setdefault_meta(self, name: str, value: bytes) -> bytes:
        """The stored ``name``, storing ``value`` first if there is none: the first process decides."""
        with self.transaction() as connection:
            connection.execute("INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)", (name, value))
            stored: bytes = connection.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()[0]
            return stored


def _load(blob: bytes) -> Any:
    try:
        return pickle.loads(blob)  # noqa: S301 - the emulator's own records (module docstring)
    except (pickle.UnpicklingError, AttributeError, ImportError, TypeError, EOFError) as exc:
        log.warning("emulator state: a record written by another version does not load (%s)", exc)
        return None
