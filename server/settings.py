"""Access to the running app's validated :class:`~server.config.Settings`."""

from __future__ import annotations

from flask import Flask, current_app

from server.config import Settings


def settings(app: Flask | None = None) -> Settings:
    value: Settings = (app or current_app).extensions["ofda.settings"]
    return value
