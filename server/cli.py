"""``ofda``: the backend's command line, a Flask ``FlaskGroup`` over :func:`server.create_app`.

``ofda run`` serves the backend (and, with no Belvo credentials, the emulator at ``/sandbox``);
``ofda token USER_ID`` mints a development bearer token; ``ofda db upgrade`` applies migrations;
``ofda routes`` lists the routes; ``ofda worker`` applies queued webhooks and reconciles users' links
with Belvo (PostgreSQL; with SQLite ``ofda run`` does it itself); ``ofda webhooks retry`` applies webhooks
left unprocessed at once; ``ofda links reconcile`` reconciles links at once.
"""

from __future__ import annotations

import os
import sys

import click
from flask.cli import FlaskGroup, routes_command, shell_command
from werkzeug.serving import run_simple

from emulator.serving import QueryFreeRequestHandler
from server import create_app
from server.api import check_database
from server.config import ConfigError
from server.errors import Unavailable
from server.webhook_queue import InProcessQueue, webhook_queue

WILDCARD_HOSTS = frozenset({"0.0.0.0", "::"})  # noqa: S104 (names, not a bind)


@click.command("run")
@click.option("--host", "-h", default="127.0.0.1", show_default=True, help="The interface to bind to.")
@click.option("--port", "-p", default=8000, show_default=True, type=int, help="The port to bind to.")
def run_command(host: str, port: int) -> None:
    """Serve the backend (with the emulator at /sandbox when no Belvo credentials are set).

    Widget and callback URLs are written with PUBLIC_BASE_URL; when it is not set it follows --host and
    --port, so the URLs a session returns point at this server.
    """
    if not os.environ.get("PUBLIC_BASE_URL"):
        if host in WILDCARD_HOSTS:
            click.echo(
                "Serving on every interface: set PUBLIC_BASE_URL=http://<this machine's LAN address>:"
                f"{port} so that widget URLs open on a phone.",
                err=True,
            )
        shown = "127.0.0.1" if host in WILDCARD_HOSTS else host
        os.environ["PUBLIC_BASE_URL"] = f"http://{shown}:{port}"
    app = create_app()
    with app.app_context():
        try:
            check_database()
        except Unavailable as exc:  # every API call would fail: say why instead of serving them
            raise click.ClickException(str(exc)) from None
    queue = webhook_queue(app)
    if isinstance(queue, InProcessQueue):
        # No worker process in the embedded default: this server applies webhooks and sweeps up what a
        # previous run left received.
        queue.sweep_periodically()
    else:
        click.echo("Webhooks are applied by `ofda worker`: run it beside this server.", err=True)
    # Threads: the widget's pages, the app's calls and the emulator's webhooks arrive together. The
    # request handler logs paths without query strings: widget URLs carry Belvo's access token.
    run_simple(host, port, app, threaded=True, request_handler=QueryFreeRequestHandler)


cli = FlaskGroup(create_app=create_app, add_default_commands=False, help=__doc__)
cli.add_command(run_command)
cli.add_command(shell_command)
cli.add_command(routes_command)


def main() -> None:
    try:
        cli.main(prog_name="ofda")
    except ConfigError as exc:
        # A deployment mistake, not a bug: the setting and what it expected, without a traceback.
        click.echo(f"ofda: configuration error: {exc}", err=True)
        sys.exit(2)
