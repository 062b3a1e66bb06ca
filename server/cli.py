"""``ofda``: the backend's command line, a Flask ``FlaskGroup`` over :func:`server.create_app`.

``ofda run`` serves the backend (and, with no Belvo credentials, the emulator at ``/sandbox``);
``ofda token USER_ID`` mints a development bearer token; ``ofda db upgrade`` applies migrations;
``ofda routes`` lists the routes.
"""

from __future__ import annotations

import os

from flask.cli import FlaskGroup

from server import create_app

cli = FlaskGroup(create_app=create_app, help=__doc__)


def main() -> None:
    # Our documented default port; `--port` and FLASK_RUN_PORT still win.
    os.environ.setdefault("FLASK_RUN_PORT", "8000")
    cli.main(prog_name="ofda")
