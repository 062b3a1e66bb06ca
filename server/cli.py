"""``ofda``: the backend's command line, a Flask ``FlaskGroup`` over :func:`server.create_app`.

``ofda run`` serves the backend (and, with no Belvo credentials, the emulator at ``/sandbox``);
``ofda token USER_ID`` mints a development bearer token; ``ofda db upgrade`` applies migrations;
``ofda routes`` lists the routes.
"""

from __future__ import annotations

import os
from datetime import timedelta

import click
from flask import current_app
from flask.cli import FlaskGroup

from server import create_app
from server.auth import mint_token
from server.settings import settings
from server.storage import database

cli = FlaskGroup(create_app=create_app, help=__doc__)


@cli.command("token")
@click.argument("user_id")
@click.option("--ttl", default=24 * 3600, show_default=True, help="Lifetime in seconds.")
def token_command(user_id: str, ttl: int) -> None:
    """Print a bearer token for USER_ID (HS256, signed with APP_JWT_SECRET)."""
    try:
        token = mint_token(user_id, settings().app_jwt_secret, timedelta(seconds=ttl))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="USER_ID") from None
    click.echo(token)


@cli.group("db")
def db_group() -> None:
    """Database migrations."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    database(current_app).upgrade(revision)
    click.echo(f"database upgraded to {revision}")


def main() -> None:
    # Our documented default port; `--port` and FLASK_RUN_PORT still win.
    os.environ.setdefault("FLASK_RUN_PORT", "8000")
    cli.main(prog_name="ofda")
