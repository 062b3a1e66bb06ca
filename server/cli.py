"""``ofda``: the backend's command line, a Flask ``FlaskGroup`` over :func:`server.create_app`.

``ofda run`` serves the backend (and, with no Belvo credentials, the emulator at ``/sandbox``);
``ofda token USER_ID`` mints a development bearer token; ``ofda db upgrade`` applies migrations;
``ofda routes`` lists the routes; ``ofda worker`` applies queued webhooks and reconciles users' links
with Belvo (PostgreSQL; with SQLite ``ofda run`` does it itself); ``ofda webhooks retry`` applies webhooks
left unprocessed at once; ``ofda links reconcile`` reconciles links at once.
"""

from __future__ import annotations

import sys

import click
from flask.cli import FlaskGroup, routes_command, shell_command
from werkzeug.serving import make_server

from server.api import check_database
from server.app import create_app
from server.config import ConfigError, Settings
from server.errors import Unavailable
from server.serving import QueryFreeAccessLog
from server.settings import settings
from server.views.index import TITLES, places
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
    shown = "127.0.0.1" if host in WILDCARD_HOSTS else host
    here = f"http://{shown}:{port}"
    app = create_app(defaults={"PUBLIC_BASE_URL": here})
    if host in WILDCARD_HOSTS and settings(app).public_base_url == here:
        click.echo(
            "Serving on every interface: set PUBLIC_BASE_URL=http://<this machine's LAN address>:"
            f"{port} so that widget URLs open on a phone.",
            err=True,
        )
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
    server = make_server(host, port, app, threaded=True, request_handler=QueryFreeAccessLog)
    # Our own banner instead of werkzeug's, which goes through the JSON log handler with terminal colours.
    click.echo(banner(settings(app), f"{host}:{server.port}"))
    server.serve_forever()  # werkzeug's ends quietly on Ctrl+C, and closes the socket
    click.echo("ofda: stopped")


def banner(config: Settings, listening: str) -> str:
    """What ``ofda run`` prints once it listens: the mode and where to go, in plain text.

    >>> from server.config import load_settings
    >>> print(banner(load_settings({}, {}, {"PUBLIC_BASE_URL": "http://127.0.0.1:8000"}), "127.0.0.1:8000"))
    ofda: emulator mode (no Belvo credentials set): the offline emulator stands in for Belvo at
    http://127.0.0.1:8000/sandbox
      API              http://127.0.0.1:8000/v1
      API docs         http://127.0.0.1:8000/docs
      OpenAPI document http://127.0.0.1:8000/openapi.json
      QA page          http://127.0.0.1:8000/qa
      Emulated widget  http://127.0.0.1:8000/sandbox/widget/
      Health           http://127.0.0.1:8000/healthz
    Listening on 127.0.0.1:8000; Ctrl+C stops.
    """
    if config.emulator_mode:
        first = (
            "ofda: emulator mode (no Belvo credentials set): the offline emulator stands in for Belvo at\n"
            f"{config.belvo_api_url}"
        )
    else:
        first = f"ofda: real mode: Belvo at {config.belvo_api_url}"
    found = places(config)
    lines = [first, *(f"  {TITLES[name]:<16} {url}" for name, url in found.items())]
    if "qa" not in found:
        lines.append(f"  {TITLES['qa']:<16} off (QA_PAGE=true turns it on)")
    lines.append(f"Listening on {listening}; Ctrl+C stops.")
    return "\n".join(lines)


cli = FlaskGroup(create_app=create_app, add_default_commands=False, help=__doc__)
cli.add_command(run_command)
cli.add_command(shell_command)
cli.add_command(routes_command)


def main() -> None:
    try:
        cli.main(prog_name="ofda")
    except ConfigError as exc:
        # A deployment mistake, not a bug: every setting at fault and what it expected, one a line,
        # without a traceback.
        for problem in exc.problems:
            click.echo(f"ofda: configuration error: {problem}", err=True)
        sys.exit(2)
