"""``python -m emulator [--host H] [--port P]``: the emulator alone, served at the root.

Alone it answers at ``/api/...``, ``/widget/`` and ``/_control/...`` (mounted by ``ofda run`` the same
paths live under ``/sandbox``). Settings come from the ``EMULATOR_*`` environment variables that
``create_app`` takes as config keys: ``EMULATOR_SECRET_ID``, ``EMULATOR_SECRET_PASSWORD``,
``EMULATOR_SIGNING_KEY``, ``EMULATOR_ACCESS_TTL_SECONDS``, ``EMULATOR_WEBHOOK_URL``,
``EMULATOR_WEBHOOK_AUTH``, ``EMULATOR_WEBHOOK_DUPLICATES`` (``1``/``true``), ``EMULATOR_STATE_PATH`` (a
SQLite file: links and tokens survive a restart).
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from emulator.app import create_app
from emulator.serving import QueryFreeRequestHandler

_STRINGS = (
    "EMULATOR_SECRET_ID",
    "EMULATOR_SECRET_PASSWORD",
    "EMULATOR_SIGNING_KEY",
    "EMULATOR_WEBHOOK_URL",
    "EMULATOR_WEBHOOK_AUTH",
    "EMULATOR_STATE_PATH",
)


def config_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The ``create_app`` config the ``EMULATOR_*`` variables of ``env`` describe.

    >>> config_from_env({"EMULATOR_ACCESS_TTL_SECONDS": "60", "EMULATOR_WEBHOOK_DUPLICATES": "true"})
    {'EMULATOR_ACCESS_TTL_SECONDS': 60.0, 'EMULATOR_WEBHOOK_DUPLICATES': True}
    """
    config: dict[str, Any] = {key: env[key] for key in _STRINGS if env.get(key)}
    if ttl := env.get("EMULATOR_ACCESS_TTL_SECONDS"):
        config["EMULATOR_ACCESS_TTL_SECONDS"] = float(ttl)
    if duplicates := env.get("EMULATOR_WEBHOOK_DUPLICATES"):
        config["EMULATOR_WEBHOOK_DUPLICATES"] = duplicates.lower() in ("1", "true", "yes")
    return config


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on (default 8001)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    create_app(config_from_env(os.environ)).run(
        host=args.host, port=args.port, threaded=True, request_handler=QueryFreeRequestHandler
    )


if __name__ == "__main__":
    main()
