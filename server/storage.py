"""The database: one SQLAlchemy engine per app, one ORM session per request, Alembic migrations.

SQLite (a file) by default; PostgreSQL when ``DATABASE_URL`` says so (``postgres://`` and
``postgresql://`` URLs are driven by psycopg 3).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app, g
from sqlalchemy import Column, Engine, Table, bindparam, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from server.memo import Memo

MIGRATIONS = Path(__file__).parent / "migrations"
#: Users whose external id a process keeps in mind (a few MB at most).
REMEMBERED_USERS = 20_000


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


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers run beside the one writer (threaded workers, webhook deliveries).
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # SQLite's recommended pairing with WAL: no fsync per commit (4+ ms each, on the path of every
        # widget session), still no corruption; only a power loss can drop the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


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
    def at(cls, url: str) -> Database:
        """Both engines on the database at ``url``."""
        return cls(make_engine(url), make_engine(url, isolation_level="AUTOCOMMIT"))

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
        return tuple(ScriptDirectory.from_config(alembic_config(self.engine)).get_heads())

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


def alembic_config(engine: Engine) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


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


def database(app: Flask | None = None) -> Database:
    db: Database = (app or current_app).extensions["ofda.db"]
    return db


def get_session() -> Session:
    """The request's ORM session; closed (rolled back if uncommitted) when the request ends."""
    if "db_session" not in g:
        g.db_session = database().sessionmaker()
    session: Session = g.db_session
    return session


def init_app(app: Flask, url: str) -> None:
    app.extensions["ofda.db"] = Database.at(url)

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.close()
