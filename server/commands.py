"""The app's own CLI commands (``ofda token``, ``ofda db upgrade``, ``ofda worker``, ``ofda links
reconcile``), registered on ``app.cli``."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from server.auth import mint_token
from server.belvo import BelvoError
from server.clock import now
from server.services import reconcile, retention
from server.settings import settings
from server.storage import database
from server.webhook_queue import ProcrastinateQueue, webhook_queue


@click.command("token")
@click.argument("user_id")
@click.option("--ttl", default=24 * 3600, show_default=True, help="Lifetime in seconds.")
@with_appcontext
def token_command(user_id: str, ttl: int) -> None:
    """Print a bearer token for USER_ID (HS256, signed with APP_JWT_SECRET)."""
    try:
        token = mint_token(user_id, settings().app_jwt_secret, timedelta(seconds=ttl))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="USER_ID") from None
    click.echo(token)


@click.group("db")
def db_group() -> None:
    """Database migrations."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def upgrade_command(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    database(current_app).upgrade(revision)
    click.echo(f"database upgraded to {revision}")


@click.command("purge")
@click.option("--sessions-days", default=30, show_default=True, help="Delete sessions older than this.")
@click.option("--webhooks-days", default=30, show_default=True, help="Delete applied webhooks older.")
@with_appcontext
def purge_command(sessions_days: int, webhooks_days: int) -> None:
    """Delete what is no longer needed (run it daily, e.g. from cron or a scheduler)."""
    with database(current_app).sessionmaker() as db:
        purged = retention.purge(
            db,
            now(),
            sessions_after=timedelta(days=sessions_days),
            webhooks_after=timedelta(days=webhooks_days),
        )
    click.echo(
        f"{purged.sessions} sessions and {purged.webhooks} webhooks deleted, "
        f"{purged.widget_urls_cleared} expired widget URLs forgotten"
    )


@click.command("worker")
@click.option("--concurrency", default=4, show_default=True, help="Webhooks applied at once.")
@with_appcontext
def worker_command(concurrency: int) -> None:
    """Apply queued webhooks and reconcile users' links with Belvo until stopped: the Procfile's worker
    process (PostgreSQL only)."""
    queue = webhook_queue(current_app)
    if not isinstance(queue, ProcrastinateQueue):
        raise click.UsageError(
            "ofda worker needs DATABASE_URL to name PostgreSQL; with SQLite the server applies webhooks"
        )
    click.echo(f"ofda worker: applying webhooks, {concurrency} at a time")
    queue.run_worker(concurrency)


@click.group("links")
def links_group() -> None:
    """The users' links."""


@links_group.command("reconcile")
@click.argument("user_id", required=False)
@with_appcontext
def reconcile_command(user_id: str | None) -> None:
    """Reconcile USER_ID's links with Belvo now (every user's without USER_ID), as the worker does
    periodically: attach links Belvo holds for the user, take Belvo's status, forget links Belvo deleted."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with database(app).sessionmaker() as db:
        known = reconcile.users(db)
    if user_id is not None:
        if user_id not in known:
            raise click.BadParameter("no such user: they never opened a widget session", param_hint="USER_ID")
        known = [user_id]
    failed = 0
    for user in known:
        try:
            result = reconcile.reconcile_stored(app, user)
        except BelvoError as exc:
            failed += 1
            click.echo(f"{user}: nothing changed, Belvo did not answer ({exc})", err=True)
        else:
            click.echo(f"{user}: {result.describe()}")
    if failed:
        raise click.ClickException(f"{failed} of {len(known)} users not reconciled: run the command again")


def init_app(app: Flask) -> None:
    app.cli.add_command(token_command)
    app.cli.add_command(db_group)
    app.cli.add_command(purge_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(links_group)
