"""The migrations build exactly the schema the models describe, on every database we support."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from server.models import Base
from server.storage import make_engine, ours, upgrade


def differences_from_models(engine: Engine) -> list[Any]:
    """What the database's schema has that the models do not, and the other way round."""
    with engine.connect() as connection:
        options = {"compare_type": True, "include_name": ours}
        context = MigrationContext.configure(connection, opts=options)
        diff: list[Any] = compare_metadata(context, Base.metadata)
        return diff


def test_migrations_match_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        assert differences_from_models(engine) == []
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        upgrade(engine)
    finally:
        engine.dispose()


def test_processes_migrating_a_new_database_together_all_start(database_url: str) -> None:
    # As the Procfile's workers do in emulator mode: without one migration at a time, each found no
    # schema, each created it, and all but one failed. Each process waits, ready, for the same go.
    script = (
        "import sys; from server.storage import make_engine, upgrade; engine = make_engine(sys.argv[1]); "
        "print('ready', flush=True); sys.stdin.readline(); upgrade(engine)"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, database_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outcomes = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], [err for _, err in outcomes]
    engine = make_engine(database_url)
    try:
        assert differences_from_models(engine) == []
    finally:
        engine.dispose()
