"""The HTTP layer: one blueprint per module, each named ``bp``, thin over ``server.services``."""

from __future__ import annotations

from flask_smorest import Api

from server.views import (
    consents,
    deeplinks,
    health,
    links,
    session_events,
    webhooks,
    well_known,
    widget_sessions,
)

BLUEPRINTS = (
    health.bp,
    widget_sessions.bp,
    session_events.bp,
    deeplinks.bp,
    webhooks.bp,
    links.bp,
    consents.bp,
    well_known.bp,
)


def register(api: Api) -> None:
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
