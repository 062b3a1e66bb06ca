"""An offline stand-in for Belvo's OFDA sandbox: API, hosted widget, webhooks and fault injection.

``create_app(config)`` builds the Flask app (see :func:`emulator.app.create_app` for the config keys);
``ofda run`` mounts it at ``/sandbox`` when no Belvo credentials are configured, and
``python -m emulator`` serves it alone at the root.
"""

from __future__ import annotations

from emulator.app import create_app
from emulator.config import DEFAULT_SECRET_ID, DEFAULT_SECRET_PASSWORD
from emulator.core import Emulator, emulator_of

__all__ = ["DEFAULT_SECRET_ID", "DEFAULT_SECRET_PASSWORD", "Emulator", "create_app", "emulator_of"]
