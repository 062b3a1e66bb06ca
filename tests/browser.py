"""Browser-test support shared by every test package (a pytest plugin: ``tests/conftest.py`` loads it).

* ``live_server(app)``: serves any WSGI app on 127.0.0.1 on a free port, in a thread.
* ``browser`` (session-wide Debian Chromium through Playwright, never a downloaded browser) and
  ``page``/``mobile_page``; :func:`capture_callback` returns the app-callback URL (any non-web scheme) a
  click or a navigation makes the page request, and :func:`screenshot` saves
  ``artifacts/screenshots/<name>.png``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from emulator.serving import QueryFreeRequestHandler

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
WEB_SCHEMES = ("http:", "https:", "data:", "about:", "blob:", "chrome:", "chrome-extension:")


@dataclass(frozen=True)
class LiveServer:
    url: str  # e.g. http://127.0.0.1:41234 (no trailing slash)


@contextmanager
def serve(app: Any) -> Iterator[LiveServer]:
    """Serve the WSGI ``app`` on 127.0.0.1, on a free port, until the block ends."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QueryFreeRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture
def live_server() -> Iterator[Callable[[Any], LiveServer]]:
    """``live_server(app)`` starts serving ``app`` for the rest of the test."""
    stack: list[Any] = []

    def start(app: Any) -> LiveServer:
        context = serve(app)
        stack.append(context)
        return context.__enter__()

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A desktop-sized page in a fresh context."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="pt-BR")
    yield context.new_page()
    context.close()


@pytest.fixture
def mobile_page(browser: Any) -> Iterator[Any]:
    """A phone-sized touch page, as in an app's webview."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="pt-BR",
    )
    yield context.new_page()
    context.close()


def is_app_callback(url: str) -> bool:
    """Whether the browser is being sent out of the web, to an app (a custom-scheme URL)."""
    return not url.lower().startswith(WEB_SCHEMES)


def capture_callback(page: Any, action: Callable[[], Any], timeout_ms: float = 10_000) -> str:
    """Run ``action`` (a click, a ``goto``...) and return the app-callback URL the page then requests.

    Chromium reports the navigation to a custom scheme as a request (which then fails with
    ERR_ABORTED, as no app handles it), just as a webview hands it to ``shouldOverrideUrlLoading`` /
    ``decidePolicyFor`` / ``onShouldStartLoadWithRequest``.
    """
    with page.expect_request(lambda request: is_app_callback(request.url), timeout=timeout_ms) as info:
        action()
    url: str = info.value.url
    return url


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save the page as ``artifacts/screenshots/<name>.png`` (a test artifact, gitignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
