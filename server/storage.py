"""The database: one SQLAlchemy engine per app, one ORM session per request, Alembic migrations.

SQLite (a file) by default; PostgreSQL when ``DATABASE_URL`` says so (``postgres://`` and
``postgresql://`` URLs are driven by psycopg 3).
"""

from __future__ import annotations

import copy
import fcntl
import functools
import itertools
import os
import select
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import psycopg
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app, g
from psycopg import pq
from psycopg.abc import Buffer
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq.abc import PGconn, PGresult
from sqlalchemy import ClauseElement, Column, Engine, Table, bindparam, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.engine import CursorResult, Dialect, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, StatementError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler

from server.database_url import names_postgresql, normalise_url
from server.memo import Memo

MIGRATIONS = Path(__file__).parent / "migrations"
#: Seconds a pooled PostgreSQL connection may sit unused and still be taken as alive, unchecked.
PING_AFTER_IDLE = 10.0
#: Users whose external id a process keeps in mind (a few MB at most).
REMEMBERED_USERS = 20_000
#: Seconds a statement waits for SQLite's one write lock before it fails.
SQLITE_BUSY_TIMEOUT = 30.0
#: The first and the longest pause between two tries of a statement SQLite found locked (seconds).
_BUSY_FIRST_PAUSE = 0.0001
_BUSY_LONGEST_PAUSE = 0.005
#: The PostgreSQL advisory lock held while migrating: a number of our own ("ofda" in ASCII).
_MIGRATION_LOCK = 0x6F666461
#: SQLite's result code for "the database is locked" (https://www.sqlite.org/rescode.html#busy).
_SQLITE_BUSY = 5


def make_engine(url: str, *, busy_handler: bool = False, **kwargs: Any) -> Engine:
    """An engine on ``url``. On SQLite, a statement that finds the database locked (another connection
    holds its one write lock) is tried again in Python (:class:`_PatientCursor`), where a gevent worker's
    other requests go on meanwhile; ``busy_handler=True`` leaves the waiting to SQLite's own busy handler
    instead (the baseline of bench/sqlite_writes.py)."""
    url = normalise_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        engine = create_engine(url, **kwargs)
        _ping_idle_connections(engine)
        return engine
    timeout = SQLITE_BUSY_TIMEOUT if busy_handler else 0
    connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": timeout}
    if not busy_handler:
        connect_args["factory"] = _PatientConnection
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers run beside the one writer (a web process's requests, webhook deliveries).
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # SQLite's recommended pairing with WAL: no fsync per commit (4+ ms each, on the path of every
        # widget session), still no corruption; only a power loss can drop the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cursor.close()

    return engine


class _PatientCursor(sqlite3.Cursor):
    """The cursor of :func:`make_engine`'s SQLite connections: a statement that finds the database locked
    waits in :func:`_patiently`, not in SQLite's busy handler. That one waits in C, in the calling thread:
    in a gevent worker, every request of the worker would stop until the lock is free, and the wait would
    last its whole timeout when the transaction holding the lock is another request of the same worker,
    which cannot go on to its commit meanwhile."""

    def execute(self, sql: str, parameters: Any = (), /) -> _PatientCursor:
        _patiently(self, functools.partial(sqlite3.Cursor.execute, self, sql, parameters))
        return self

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> _PatientCursor:
        rows = list(parameters)  # a second try needs them again
        _patiently(self, functools.partial(sqlite3.Cursor.executemany, self, sql, rows))
        return self


class _PatientConnection(sqlite3.Connection):
    """A SQLite connection whose cursors are :class:`_PatientCursor` unless asked otherwise."""

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _PatientCursor)


def _ping_idle_connections(engine: Engine) -> None:
    """Check that a pooled connection still works before it is used, if it sat unused for more than
    ``PING_AFTER_IDLE`` seconds (a database restarted, a proxy's idle timeout): the pool then opens a new
    one. SQLAlchemy's ``pool_pre_ping`` checks on every checkout, a round trip more for each of a widget
    session's two writes; a connection lost while in use fails its request with a 503 and is dropped."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("a pooled connection no longer answers") from exc


def _plan_once(engine: Engine) -> None:
    """Have PostgreSQL plan each statement prepared on ``engine``'s connections once (the request path's:
    :func:`_exchange` prepares them), not at every execution. With the plan cache's default choice it
    planned the reservation's ``INSERT ... SELECT`` anew every time (``pg_prepared_statements``: 0 generic
    plans, 195 custom ones): PostgreSQL's CPU per widget session was 0.95 to 1.00 ms, and 0.73 to 0.77 ms
    with the generic plan (the backend under the Procfile's server, 32 clients, two pairs of runs). Every
    one of these statements finds a user's rows through an index, whatever the values. Behind a pooler in
    transaction mode the setting may stay on one server connection, and the others plan as before."""

    @event.listens_for(engine, "connect")
    def _generic_plans(dbapi_connection: Any, _record: Any) -> None:
        # The engine's autocommit is set by then (the dialect's own connect handler runs first).
        dbapi_connection.execute("SET plan_cache_mode = force_generic_plan")


@dataclass(frozen=True)
class SchemaState:
    """Which migrations the database has (``current``) against the newest ones this code ships (``head``).

    >>> SchemaState(current=("0003",), head=("0004",)).describe()
    'the database schema is at revision 0003, the code needs 0004: run `ofda db upgrade`'
    >>> SchemaState(current=(), head=("0004",)).describe()
    'the database has no migrations applied, the code needs 0004: run `ofda db upgrade`'
    """

    current: tuple[str, ...]
    head: tuple[str, ...]

    @property
    def at_head(self) -> bool:
        return set(self.current) == set(self.head)

    def describe(self) -> str:
        if self.at_head:
            return f"the database schema is at the migrations' head ({', '.join(self.head)})"
        current = (
            f"the database schema is at revision {', '.join(self.current)}"
            if self.current
            else "the database has no migrations applied"
        )
        return f"{current}, the code needs {', '.join(self.head)}: run `ofda db upgrade`"


class Database:
    """The engines and session factory an app uses.

    ``autocommit`` is a second engine on the same database whose connections commit each statement as it
    runs: the request path's one-statement writes check one out as it is, where switching a pooled
    connection to autocommit and back costs more than the statement (on SQLite, two PRAGMAs per checkout).
    ``external_ids`` remembers users' external ids: each is drawn with the user's first session and never
    changed (no code path updates or deletes ``app_users``), so a returning user's is not looked up again.
    """

    def __init__(self, engine: Engine, autocommit: Engine) -> None:
        self.engine = engine
        self.autocommit = autocommit
        self.sessionmaker = sessionmaker(engine, expire_on_commit=False)
        self.external_ids: Memo[str, str] = Memo(REMEMBERED_USERS)
        self._at_head: SchemaState | None = None

    @classmethod
    def at(cls, url: str, pool_size: int = 16) -> Database:
        """Both engines on the database at ``url``, each pool keeping up to ``pool_size`` connections
        open. On PostgreSQL no more: each is a server process, which ``max_connections`` caps, and a
        gevent worker may have more requests at the database at once than any thread count would allow;
        a request beyond them waits for one. On SQLite as many again beyond, closed after use. The most
        recently used connection is taken first: on SQLite its page cache is the likeliest to still be
        current."""
        overflow = 0 if names_postgresql(url) else pool_size
        pooling: dict[str, Any] = {"pool_size": pool_size, "max_overflow": overflow, "pool_use_lifo": True}
        if make_url(normalise_url(url)).database in {None, "", ":memory:"}:
            pooling = {}  # an in-memory SQLite database: one connection per thread, not a pool
        # Nothing to roll back when a connection comes back to the autocommit pool: each statement commits
        # as it runs, and a connection an exchange left in doubt is closed, not given back
        # (https://docs.sqlalchemy.org/en/20/core/pooling.html#pool-reset-on-return): the rollback the
        # pool would send costs a widget session 1% of its CPU.
        autocommit = make_engine(url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None, **pooling)
        if autocommit.dialect.name == "postgresql":
            _plan_once(autocommit)
        return cls(make_engine(url, **pooling), autocommit)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session outside a request (CLI, background work): committed on success."""
        with self.sessionmaker() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection of both engines (a test's database file can then go)."""
        self.engine.dispose()
        self.autocommit.dispose()

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def upgrade(self, revision: str = "head") -> None:
        upgrade(self.engine, revision)

    @cached_property
    def _head(self) -> tuple[str, ...]:
        # Parsing the migration scripts takes milliseconds; they do not change while the process runs.
        return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())

    def schema(self) -> SchemaState:
        """The schema's migration state (raises ``SQLAlchemyError`` when the database does not answer).

        An answer at the head is kept for the process's life (a schema is not downgraded under running
        code): once ready, readiness probes and failing requests do not ask again.
        """
        if self._at_head is not None:
            return self._at_head
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
        state = SchemaState(current=tuple(current), head=self._head)
        if state.at_head:
            self._at_head = state
        return state


def ours(name: str | None, type_: str, _parent_names: Any) -> bool:
    """Alembic's ``include_name``: the tables we model, not procrastinate's (its schema SQL, applied by
    migration 0005, is procrastinate's to describe)."""
    return not (type_ in {"table", "index"} and (name or "").startswith("procrastinate_"))


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate ``engine``'s database to ``revision``, one process at a time: processes started together
    on a new database (the Procfile's workers, migrating it themselves in emulator mode) would each find
    no schema and each create it, and all but one fail to start. On PostgreSQL the migrations' own
    transaction takes an advisory lock first (released when it ends, whatever pooler is in between);
    SQLite's driver runs DDL outside transactions, so a lock on a file beside the database
    (``<database>-migrate.lock``) is held instead."""
    config = alembic_config()
    with _sqlite_file_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    # Not for another database, nor an in-memory one (the process's own); in a missing folder, the
    # upgrade says what is wrong.
    if (
        engine.dialect.name != "sqlite"
        or not database
        or database == ":memory:"
        or not Path(database).absolute().parent.is_dir()
    ):
        yield
        return
    with open(f"{database}-migrate.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # let go when the file is closed
        yield


def _insert(dialect: str, table: type[DeclarativeBase] | Table) -> postgresql.Insert | sqlite.Insert:
    """The ``dialect``'s own ``INSERT``, the one that knows ``ON CONFLICT``."""
    match dialect:
        case "postgresql":
            return postgresql.insert(table)
        case "sqlite":
            return sqlite.insert(table)
        case other:
            raise RuntimeError(f"ON CONFLICT is supported on postgresql and sqlite, not {other}")


def insert_ignore(db: Session, model: type[DeclarativeBase], values: Mapping[str, Any]) -> bool:
    """``INSERT ... ON CONFLICT DO NOTHING``: True when this call inserted the row, False when a row with
    the same key was already there (or was inserted concurrently). Atomic on both databases, so the
    unique key alone decides races (duplicate webhooks, concurrent successes) without catching
    ``IntegrityError`` inside a transaction that must go on."""
    statement = _insert(db.get_bind().dialect.name, model).values(dict(values)).on_conflict_do_nothing()
    # rowcount is kept for INSERTs only when asked (SQLAlchemy keeps it for UPDATE and DELETE).
    result: CursorResult[Any] = db.execute(statement.execution_options(preserve_rowcount=True))  # type: ignore[assignment]
    return result.rowcount == 1


def insert_or_lock(db: Session, table: Table, values: Mapping[str, Any], returning: Column[Any]) -> Any:
    """The row with ``values``' primary key, inserted if missing, and write-locked until the transaction
    ends; answers its ``returning`` column. One statement (``INSERT ... ON CONFLICT DO UPDATE`` with a
    no-op update): a per-row lock that other instances of the app respect too.

    On PostgreSQL the row lock makes every other ``insert_or_lock`` of that row wait; the statements after
    it (READ COMMITTED) then see what the previous holder committed. On SQLite, as the first statement of
    the transaction, it takes the database's write lock (SQLite has one writer at a time) before reading
    anything, as ``BEGIN IMMEDIATE`` would; the transaction must not have read before it."""
    statement = _insert_or_lock(db.get_bind().dialect.name, table, tuple(values), returning)
    return db.execute(statement, dict(values)).scalar_one()


@functools.cache
def _insert_or_lock(dialect: str, table: Table, columns: tuple[str, ...], returning: Column[Any]) -> Any:
    """``insert_or_lock``'s statement with its values bound by column name: built once, not per call (it
    runs on every new widget session)."""
    insert = _insert(dialect, table)
    # "Update" a column to its own value: PostgreSQL's lighter row lock (no key changes), no new value.
    return (
        insert.values({name: bindparam(name, type_=table.c[name].type) for name in columns})
        .on_conflict_do_update(index_elements=list(table.primary_key), set_={returning.name: returning})
        .returning(returning)
    )


@dataclass(frozen=True)
class Prepared:
    """A Core statement rendered once for one kind of database: its SQL in the driver's parameter style,
    and for each parameter its name, the conversion SQLAlchemy would apply to its value, and its default
    (the statement's own literals)."""

    sql: str
    #: In the order the driver takes them (``positional``), or by name.
    names: tuple[str, ...]
    positional: bool
    conversions: tuple[Any, ...]
    defaults: Mapping[str, Any]

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The driver's parameters for ``values`` (by name; the statement's literals where absent)."""
        converted = []
        for name, convert in zip(self.names, self.conversions, strict=True):
            value = values[name] if name in values else self.defaults[name]
            converted.append(convert(value) if convert else value)
        return tuple(converted) if self.positional else dict(zip(self.names, converted, strict=True))


#: Renderings by statement and kind of database (not by engine: every engine of a kind shares one).
_PREPARED: dict[tuple[ClauseElement, type[Dialect], str], Prepared] = {}


def prepared(statement: ClauseElement, dialect: Dialect) -> Prepared:
    """``statement`` rendered for ``dialect``'s kind of database, once per process."""
    key = (statement, type(dialect), dialect.paramstyle)
    if (known := _PREPARED.get(key)) is not None:
        return known
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)  # a statement's, not DDL's
    binds = compiled.binds
    order = compiled.positiontup
    names = tuple(order) if order is not None else tuple(binds)
    rendered = _PREPARED[key] = Prepared(
        sql=compiled.string,
        names=names,
        positional=order is not None,
        conversions=tuple(binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names),
        defaults={name: binds[name].value for name in names},
    )
    return rendered


def _database_error(engine: Engine, sql: Sequence[str], exc: Exception, *, lost: bool) -> StatementError:
    """The driver's ``exc`` as SQLAlchemy raises it, naming the statements' ``sql`` (parameters hidden:
    they may hold a widget URL); ``lost``: the connection is gone (a retry gets another)."""
    return DBAPIError.instance(
        ";\n".join(sql),
        None,
        exc,
        engine.dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=lost,
        dialect=engine.dialect,
    )


def write(engine: Engine, statement: ClauseElement, values: Mapping[str, Any]) -> int:
    """Run a one-statement write on ``engine`` (an autocommit one: it commits as it runs) straight on the
    driver (on PostgreSQL, :func:`_exchange`; on SQLite after the process's other writes under way,
    :class:`_RoundTrips`); answers how many rows it wrote. On the request path of every widget session:
    SQLAlchemy's execution of a statement (its context, parameter and result objects) costs more than
    SQLite's."""
    if engine.dialect.name == "postgresql":
        (written,) = _exchange(engine, ((statement, values),))
        return written.rows
    exchange = _Exchange([(prepared(statement, engine.dialect), values)])
    _round_trips(engine).run(exchange, functools.partial(_sqlite_statements, engine))
    (written,) = exchange.result()
    return written.rows


def _patiently(cursor: sqlite3.Cursor, statement: Callable[[], object], since: float | None = None) -> None:
    """Run ``statement`` (on ``cursor``), tried again while it finds SQLite's write lock held by another
    connection, up to ``SQLITE_BUSY_TIMEOUT`` after ``since`` (``time.monotonic()``; by default, its first
    try). The pause between tries yields to a gevent worker's other requests (``time.sleep``), and grows
    from a tenth of a millisecond where SQLite's own busy handler waits 1, 2, 5, 10, 15, 20 ms and longer,
    while a widget session's write holds the lock for a tenth of a millisecond: with two processes' threads
    writing, these shorter waits took a write's p99 to 0.5 to 0.7 of what it was (bench/sqlite_writes.py).
    Only the first statement of a transaction is tried again, when it failed before doing anything; in a
    transaction under way, one that read before may hold a snapshot no retry renews, and SQLite's
    own handler is not called there either (https://www.sqlite.org/c3ref/busy_handler.html)."""
    if cursor.connection.in_transaction:
        statement()
        return
    pause, deadline = _BUSY_FIRST_PAUSE, None
    while True:
        try:
            statement()
            return
        except sqlite3.OperationalError as exc:
            # The primary code: SQLITE_BUSY_SNAPSHOT and the like are retried too (each try, a transaction
            # of its own, reads anew).
            if exc.sqlite_errorcode & 0xFF != _SQLITE_BUSY:
                raise
            now = time.monotonic()
            deadline = deadline or (now if since is None else since) + SQLITE_BUSY_TIMEOUT
            if now >= deadline:
                raise
        time.sleep(pause)
        pause = min(2 * pause, _BUSY_LONGEST_PAUSE)


def write_under_lock(
    engine: Engine,
    lock: ClauseElement,
    lock_values: Mapping[str, Any],
    statement: ClauseElement,
    values: Mapping[str, Any],
) -> int:
    """``lock`` then ``statement``, in one transaction on ``engine`` (a PostgreSQL one), in one round trip
    (:func:`_exchange`); each still reads what committed before it ran (READ COMMITTED takes a snapshot
    per statement, once the one before it is done). Answers how many rows the write wrote; nothing is
    written when anything fails."""
    _locked, written = _exchange(engine, ((lock, lock_values), (statement, values)))
    return written.rows


def read_value(engine: Engine, statement: ClauseElement, values: Mapping[str, Any]) -> Any:
    """The first column of the first row ``statement`` reads (``None`` when none), straight on the driver,
    with no conversion of the value beyond the driver's (for a column it gives as it is, such as a
    string)."""
    if engine.dialect.name == "postgresql":
        (read,) = _exchange(engine, ((statement, values),))
        return read.first
    # A read needs no lock: it does not wait for the process's writes under way.
    exchange = _Exchange([(prepared(statement, engine.dialect), values)])
    _sqlite_statements(engine, [exchange])
    (read,) = exchange.result()
    return read.first


#: PostgreSQL statements for :func:`_exchange`, rendered with libpq's numbered placeholders ($1, $2...).
_NUMBERED: Dialect = psycopg_dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
#: Where a pooled PostgreSQL connection keeps its :class:`_Prepares`.
_PREPARES = "ofda.prepares"
#: Statements a connection prepares at most (the request path has a handful).
_MAX_PREPARED = 64
#: Names for prepared statements, never used twice in a process (psycopg names its own ``_pg3_<n>``).
_STATEMENT_NAMES = itertools.count()


class _Prepares:
    """What a pooled PostgreSQL connection keeps for :func:`_exchange`: psycopg's ``Transformer`` adapting
    its values, and the statements it has prepared on the server, by SQL and parameter types (as psycopg
    keys its own: an ``int`` may go as a smallint or a bigint)."""

    def __init__(self, driver: psycopg.Connection[Any]) -> None:
        self.transformer = Transformer(driver)
        self.names: dict[tuple[bytes, tuple[int, ...]], bytes] = {}


@dataclass(frozen=True)
class _Outcome:
    """What one statement of an exchange did: the rows it wrote or read, and the first row's first
    column (``None`` when it read no row)."""

    rows: int
    first: Any


def _exchange(
    engine: Engine, statements: Sequence[tuple[ClauseElement, Mapping[str, Any]]]
) -> list[_Outcome]:
    """Run ``statements`` with their values on one of ``engine``'s pooled PostgreSQL connections (an
    autocommit one), as one transaction in one round trip: sent together in a pipeline, and committed at
    its end (the Sync), or rolled back whole if one fails; no ``BEGIN`` or ``COMMIT``
    (https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-PIPELINING). The
    exchanges other requests of the process ask for meanwhile may share the round trip, each in a
    transaction of its own (:class:`_RoundTrips`).

    Straight on libpq through psycopg's ``pq`` module, with psycopg's own adaptation of the values:
    psycopg's cursor and pipeline run several times more Python than the exchange itself (a tenth of a
    millisecond of CPU per statement, on the path of every widget session; bench/sessions.py), and poll
    the socket once per statement, where each poll under load is a hand-over of the GIL. Here the thread
    lets go of the GIL only to wait for the server's answers.

    Each statement is prepared on the connection the first time it runs there, so the server parses it
    once (psycopg prepares the statements it runs often too). Statements something dropped since (a
    pooler's ``DISCARD ALL``, an operator's ``DEALLOCATE ALL``) are prepared again, and the transaction,
    rolled back at the first statement that was missing, runs again."""
    exchange = _Exchange([(prepared(statement, _NUMBERED), values) for statement, values in statements])
    _round_trips(engine).run(exchange, functools.partial(_round_trip, engine))
    return exchange.result()


@dataclass(eq=False)
class _Exchange:
    """One caller's statements for :func:`_exchange` (rendered, with their values), and what came of
    them: their ``outcomes``, or the ``error`` the caller raises. ``done`` is set when either is known,
    or when the caller is handed the next round trip to send: its ``lead``, itself first."""

    rendered: Sequence[tuple[Prepared, Mapping[str, Any]]]
    #: When the caller asked for it (``time.monotonic()``).
    asked: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)
    outcomes: list[_Outcome] | None = None
    error: Exception | None = None
    lead: list[_Exchange] | None = None

    @property
    def sql(self) -> list[str]:
        return [statement.sql for statement, _ in self.rendered]

    def result(self) -> list[_Outcome]:
        if self.error is not None:
            raise self.error
        assert self.outcomes is not None  # set by the round trip that sent it
        return self.outcomes


class _RoundTrips:
    """The exchanges of one engine in this process, one round trip at a time: those asked for while one
    is on its way wait for it, then all go together in the next, each a transaction of its own, sent by
    the first of them.

    On PostgreSQL every round trip costs system calls and wakes a server process, which takes the CPU
    from the worker; under load a gevent worker's requests come back from Belvo together and ask for
    their writes together: at 32 clients two exchanges per round trip on average, and the backend's CPU
    per request 2.31 -> 2.11 ms, its overhead p99 43.8 -> 39.5 ms; at 8 clients no difference. On SQLite
    (one write at a time, whoever asks) a process's writes go one after the other on one connection: its
    threads no longer try for the write lock against one another, sleeping between tries, and that
    connection's page cache is dropped only when another process wrote. At 32 clients the CPU per request
    2.54 -> 2.25 ms and the overhead p99 43.1 -> 36.8 ms; at 8 clients the p99 12.3-12.5 -> 13.7-13.8 ms,
    a write that comes while another is under way waiting for it and for its thread to hand on. (The
    backend before and after side by side under bench/sessions.py's set-up, 6 alternating rounds.)

    A round trip takes as long as its slowest statement, and the exchanges waiting meanwhile wait with
    it: a transaction that locks a user's row holds it for a few statements, never across a call to
    Belvo."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[_Exchange] = []
        self._busy = False

    def run(self, exchange: _Exchange, send: Callable[[list[_Exchange]], None]) -> None:
        """Have ``exchange`` sent, by ``send`` with the others that wait, or wait for the round trip that
        takes it."""
        with self._lock:
            batch = None if self._busy else [exchange]
            self._busy = True
            if batch is None:
                self._waiting.append(exchange)
        if batch is None:
            batch = self._wait(exchange, send)
            if batch is None:
                return  # sent in another's round trip
        try:
            send(batch)
        finally:
            self._hand_on(batch, exchange)

    def _wait(self, exchange: _Exchange, send: Callable[[list[_Exchange]], None]) -> list[_Exchange] | None:
        """Wait until ``exchange`` is sent (``None``) or its caller is to send the next round trip (the
        exchanges it takes). Interrupted (a gevent timeout, a worker stopping) while it waits its turn,
        the exchange leaves the queue, unsent; handed the next round trip already, it sends the others in
        it; taken by another's, it goes with it, its caller told of the interruption, not the outcome."""
        try:
            exchange.done.wait()
        except BaseException:
            with self._lock:
                if exchange in self._waiting:
                    self._waiting.remove(exchange)
                    raise
            if exchange.lead is not None:
                others = [other for other in exchange.lead if other is not exchange]
                try:
                    if others:
                        send(others)
                finally:
                    self._hand_on(others, exchange)
            raise
        return exchange.lead

    def _hand_on(self, sent: list[_Exchange], sender: _Exchange) -> None:
        """After a round trip: wake the callers of the exchanges it ``sent``, and hand the next one, with
        every exchange that waits, to the first of them (under the lock, so that an interrupted wait
        knows whether it was handed one)."""
        with self._lock:
            waiting, self._waiting = self._waiting, []
            self._busy = bool(waiting)
            if waiting:
                waiting[0].lead = waiting
        if waiting:
            waiting[0].done.set()
        for other in sent:
            if other is not sender:
                other.done.set()


_ROUND_TRIPS: weakref.WeakKeyDictionary[Engine, _RoundTrips] = weakref.WeakKeyDictionary()
_ROUND_TRIPS_LOCK = threading.Lock()
# A forked child starts with no round trip under way (gunicorn --preload forks after the app is made).
os.register_at_fork(after_in_child=_ROUND_TRIPS.clear)


def _round_trips(engine: Engine) -> _RoundTrips:
    round_trips = _ROUND_TRIPS.get(engine)
    if round_trips is None:
        with _ROUND_TRIPS_LOCK:
            round_trips = _ROUND_TRIPS.setdefault(engine, _RoundTrips())
    return round_trips


@contextmanager
def _sending(engine: Engine, exchanges: Sequence[_Exchange]) -> Iterator[PoolProxiedConnection | None]:
    """One of ``engine``'s pooled connections to send ``exchanges`` on, given back after; ``None`` when
    none could be had (the database is down: each exchange then holds its own copy of the error). One
    whose sending anything but the driver interrupted (a gevent timeout, a worker stopping) is not given
    back, its state unknown: the interruption goes on, and the exchanges not answered yet fail as on a
    lost connection (503, retry)."""
    try:
        connection = engine.raw_connection()
    except Exception as exc:
        for exchange in exchanges:
            exchange.error = copy.copy(exc)
        yield None
        return
    try:
        yield connection
    except BaseException as exc:
        connection.invalidate()
        cut = engine.dialect.loaded_dbapi.OperationalError(f"sending was interrupted ({type(exc).__name__})")
        _fail_unanswered(engine, exchanges, cut, lost=True)
        raise
    finally:
        connection.close()


def _fail_unanswered(engine: Engine, exchanges: Sequence[_Exchange], exc: Exception, *, lost: bool) -> None:
    """Give the driver's ``exc`` to each of ``exchanges`` that has neither outcome nor error yet."""
    for exchange in exchanges:
        if exchange.outcomes is None and exchange.error is None:
            exchange.error = _database_error(engine, exchange.sql, exc, lost=lost)


def _round_trip(engine: Engine, exchanges: list[_Exchange]) -> None:
    """Send ``exchanges`` on one of ``engine``'s pooled PostgreSQL connections, in one round trip, and
    leave each its outcomes or its error (a driver's error as SQLAlchemy raises it, naming that exchange's
    statements). A connection the driver reports lost is not given back (the pool's check at checkout
    finds any other)."""
    with _sending(engine, exchanges) as connection:
        if connection is None:
            return
        try:
            driver = cast("psycopg.Connection[Any]", connection.dbapi_connection)
            prepares = connection.info.get(_PREPARES)
            if prepares is None:
                prepares = connection.info[_PREPARES] = _Prepares(driver)
            failed = _pipeline(driver, prepares, exchanges)
            dropped = [
                exchange
                for exchange, error in failed
                if isinstance(error, psycopg.errors.InvalidSqlStatementName)
            ]
            if dropped:
                prepares.names.clear()
                failed = [
                    *(item for item in failed if item[0] not in dropped),
                    *_pipeline(driver, prepares, dropped),
                ]
            for exchange, error in failed:
                exchange.error = _database_error(engine, exchange.sql, error, lost=False)
        except engine.dialect.loaded_dbapi.Error as exc:
            lost = engine.dialect.is_disconnect(exc, connection.dbapi_connection, None)
            if lost:
                connection.invalidate(exc)
            _fail_unanswered(engine, exchanges, exc, lost=lost)


def _sqlite_statements(engine: Engine, exchanges: list[_Exchange]) -> None:
    """Run ``exchanges`` (one statement each) one after the other on one of ``engine``'s pooled SQLite
    connections, each committed as it runs, and leave each its outcome (the rows it wrote, the first
    column of the first row it read) or its error."""
    with _sending(engine, exchanges) as connection:
        if connection is None:
            return
        cursor = cast("sqlite3.Cursor", connection.cursor())
        for exchange in exchanges:
            ((statement, values),) = exchange.rendered
            try:
                # Each waits for the lock as long as it would alone, counted from when it was asked
                # for, not once more for every write before it.
                parameters = statement.parameters(values)
                _patiently(
                    cursor,
                    functools.partial(sqlite3.Cursor.execute, cursor, statement.sql, parameters),
                    exchange.asked,
                )
            except engine.dialect.loaded_dbapi.Error as exc:
                exchange.error = _database_error(engine, exchange.sql, exc, lost=False)
            except Exception as exc:  # a value SQLAlchemy cannot convert: that statement fails alone
                exchange.error = exc
            else:
                row = cursor.fetchone() if cursor.description else None
                exchange.outcomes = [_Outcome(cursor.rowcount, None if row is None else row[0])]
        cursor.close()


def _pipeline(
    driver: psycopg.Connection[Any], prepares: _Prepares, exchanges: Sequence[_Exchange]
) -> list[tuple[_Exchange, psycopg.Error]]:
    """:func:`_round_trip`'s pipeline on ``driver``: each exchange's statements then a Sync, preparing the
    statements the connection has not prepared yet. Leaves each exchange that succeeded its outcomes;
    answers the others with their errors."""
    pgconn = driver.pgconn
    failed: list[tuple[_Exchange, psycopg.Error]] = []
    sending = []
    for exchange in exchanges:
        # Adapted before anything is sent: a value psycopg cannot adapt fails its exchange alone.
        try:
            sending.append((exchange, [_adapted(prepares, sql, values) for sql, values in exchange.rendered]))
        except psycopg.Error as exc:
            failed.append((exchange, exc))
    if not sending:
        return failed
    # For each exchange, for each result the pipeline will give: the key and name of a statement being
    # prepared, or None for a statement's own result.
    plans: list[list[tuple[tuple[bytes, tuple[int, ...]], bytes] | None]] = []
    # Statements another exchange of this pipeline prepares go unprepared: that one may fail before.
    preparing: set[tuple[bytes, tuple[int, ...]]] = set()
    pgconn.enter_pipeline_mode()
    try:
        for _exchange, adapted in sending:
            answers: list[tuple[tuple[bytes, tuple[int, ...]], bytes] | None] = []
            for command, types, dumped, formats in adapted:
                key = (command, types)
                name = prepares.names.get(key)
                if (
                    name is None
                    and key not in preparing
                    and len(prepares.names) + len(preparing) < _MAX_PREPARED
                ):
                    name = f"ofda_{next(_STATEMENT_NAMES)}".encode()
                    pgconn.send_prepare(name, command, types)
                    answers.append((key, name))
                    preparing.add(key)
                if name is None:
                    pgconn.send_query_params(command, dumped, types, formats)
                else:
                    pgconn.send_query_prepared(name, dumped, formats)
                answers.append(None)
            pgconn.pipeline_sync()
            plans.append(answers)
        transactions = _pipeline_results(pgconn, len(sending))
        pgconn.exit_pipeline_mode()
    except BaseException:
        if pgconn.pipeline_status != pq.PipelineStatus.OFF:
            pgconn.finish()  # left mid-exchange: closed, so that the pool opens another
        raise
    for (exchange, _adapted_values), answers, results in zip(sending, plans, transactions, strict=True):
        outcomes = _outcomes(driver, prepares, answers, results)
        if isinstance(outcomes, psycopg.Error):
            failed.append((exchange, outcomes))
        else:
            exchange.outcomes = outcomes
    return failed


def _adapted(
    prepares: _Prepares, sql: Prepared, values: Mapping[str, Any]
) -> tuple[bytes, tuple[int, ...], Sequence[Buffer | None], list[pq.Format]]:
    """One statement as libpq takes it: its SQL, its parameters' types, values and formats."""
    parameters = sql.parameters(values)
    assert isinstance(parameters, tuple)  # numbered placeholders: in order
    transformer = prepares.transformer
    dumped = transformer.dump_sequence(parameters, [PyFormat.AUTO] * len(parameters))
    return sql.sql.encode(), tuple(transformer.types or ()), dumped, list(transformer.formats or ())


def _outcomes(
    driver: psycopg.Connection[Any],
    prepares: _Prepares,
    answers: Sequence[tuple[tuple[bytes, tuple[int, ...]], bytes] | None],
    results: Sequence[PGresult],
) -> list[_Outcome] | psycopg.Error:
    """One exchange's outcomes from its ``results``, or the error its transaction stopped at (the results
    after it are the pipeline's notice that it was skipped). A statement prepared stays, even if a later
    one failed."""
    outcomes = []
    for answer, result in zip(answers, results, strict=True):
        if result.status == pq.ExecStatus.FATAL_ERROR:
            return psycopg.errors.error_from_result(result, driver.info.encoding)
        if answer is not None:
            key, name = answer
            prepares.names[key] = name
        elif result.status == pq.ExecStatus.TUPLES_OK:
            first = None
            if result.ntuples:
                prepares.transformer.set_pgresult(result)
                first = prepares.transformer.load_row(0, tuple)[0]
            outcomes.append(_Outcome(result.ntuples, first))
        else:
            outcomes.append(_Outcome(result.command_tuples or 0, None))
    return outcomes


def _pipeline_results(pgconn: PGconn, transactions: int) -> list[list[PGresult]]:
    """Send what the pipeline holds, then every statement's result, in one list per Sync, up to the
    ``transactions``-th, waiting for the server (with the GIL let go) while libpq has none to give
    (https://www.postgresql.org/docs/current/libpq-async.html)."""
    while pgconn.flush():  # the rest did not fit in the socket's buffer: wait until it can go
        if _wait(pgconn.socket, select.POLLIN | select.POLLOUT) & select.POLLIN:
            pgconn.consume_input()
    answered: list[list[PGresult]] = []
    results: list[PGresult] = []
    while True:
        while pgconn.is_busy():
            _wait(pgconn.socket, select.POLLIN)
            pgconn.consume_input()  # raises when the connection is lost
        result = pgconn.get_result()
        if result is None:  # the end of one statement's results
            if pgconn.status == pq.ConnStatus.BAD:
                raise psycopg.OperationalError("the connection to the database was lost")
            continue
        if result.status != pq.ExecStatus.PIPELINE_SYNC:
            results.append(result)
            continue
        answered.append(results)
        if len(answered) == transactions:
            return answered
        results = []


def _wait(socket: int, events: int) -> int:
    """Block until ``socket`` is ready for one of ``events`` (``select.POLLIN``...); answers which. In a
    gevent worker ``select.poll`` is gevent's: the worker's other requests run meanwhile."""
    poller = select.poll()
    poller.register(socket, events)
    ((_socket, ready),) = poller.poll()
    return ready


def database(app: Flask | None = None) -> Database:
    db: Database = (app or current_app).extensions["ofda.db"]
    return db


def get_session() -> Session:
    """The request's ORM session; closed (rolled back if uncommitted) when the request ends."""
    if "db_session" not in g:
        g.db_session = database().sessionmaker()
    session: Session = g.db_session
    return session


def init_app(app: Flask, url: str, pool_size: int) -> None:
    app.extensions["ofda.db"] = Database.at(url, pool_size)

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.close()
