"""The application link's own page, when ``APPLICATION_LINK`` is on this backend's address.

After the bank, the user is sent to the application link (App2App:
https://developers.belvo.com/docs/hosted-widget-app2app-ofda). On a phone with the app, the OS opens the
app and this page is never fetched. Without the app (or in a desktop browser, as QA tries the flow) the
browser lands here: the page offers to continue in the browser, which opens the widget with the query the
bank sent, as the app would, and shows the same link as a QR code to open it on a phone with the app.

The URL carries Belvo's access token: the page is never cached, never sends a ``Referer``, and nothing
of it is logged.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from deeplinks import DeeplinkError, ResumeEvent, parse
from deeplinks.qr import qr_svg
from server.ofda import resumed_widget_url
from server.settings import settings

# A plain Flask blueprint, registered at the application link's path (``url_prefix``) by ``create_app``.
bp = Blueprint("app_link", __name__)

HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@bp.get("")
@bp.get("/")
def landing() -> tuple[str, int, dict[str, str]]:
    config = settings()
    link = config.callback_urls.application_link
    assert link is not None  # registered only with an application link
    query = request.query_string.decode("ascii", "replace")
    url = f"{link}?{query}"
    try:
        event = parse(url, config.callback_urls.to_dict())
    except DeeplinkError:
        event = None
    if not isinstance(event, ResumeEvent):
        return render_template("app_link.html", widget_url=None, qr=None), 400, HEADERS
    widget_url = resumed_widget_url(config.belvo_widget_url, event.query)
    return render_template("app_link.html", widget_url=widget_url, qr=qr_svg(url)), 200, HEADERS
