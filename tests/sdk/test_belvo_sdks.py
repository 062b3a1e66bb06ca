"""Belvo's own SDKs against the emulator over HTTP, unchanged: belvo-python (PyPI) and belvo (npm).

Each SDK makes the calls its README and Belvo's quickstart show: log in, list institutions, a widget
token (the SDK's default request, and one with the OFDA ``widget`` object), links list/get/delete, and
accounts, owners and transactions both listed and retrieved (the POST forms the SDKs call ``create`` and
``retrieve``). Neither SDK has a call for bills or Brazil investments, nor can it send the token
request's top-level ``fetch_resources``/``stale_in`` (README, "The emulator"). The emulator is mounted
at ``/sandbox`` as ``ofda run`` mounts it, so the SDKs also prove they work below a path.

The calls' answers are gathered by SDK in one dict of the same names, and one set of assertions holds
for both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import belvo.client
import belvo.enums
import pytest
from flask import Flask
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from emulator import DEFAULT_SECRET_ID, DEFAULT_SECRET_PASSWORD, create_app, emulator_of
from tests.browser import LiveServer
from tests.emulator.builders import OFDA_SCOPES, create_link, token_request

HERE = Path(__file__).parent
NODE_SCRIPT = HERE / "node_sdk.js"
Results = dict[str, Any]


@pytest.fixture
def emulator_app() -> Iterator[Flask]:
    app = create_app()
    yield app
    emulator_of(app).webhooks.close()


@pytest.fixture
def sandbox(emulator_app: Flask, live_server: Callable[[Any], LiveServer]) -> str:
    """The emulator's API base URL, served over HTTP below ``/sandbox``."""
    server = live_server(DispatcherMiddleware(NotFound(), {"/sandbox": emulator_app}))
    return f"{server.url}/sandbox"


@pytest.fixture
def links(emulator_app: Flask) -> tuple[str, str]:
    """Two links: one to read, one to delete."""
    client = emulator_app.test_client()
    return create_link(client)["id"], create_link(client, external_id="ext-2")["id"]


def _dates() -> tuple[str, str]:
    """The last 20 days: fewer transactions than the Node SDK's first 100 listed, within the 12 months
    the sandbox's links hold up to their creation, today."""
    today = datetime.now(UTC).date()
    return (today - timedelta(days=20)).isoformat(), today.isoformat()


def _outcome(call: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"ok": call()}
    except Exception as exc:  # what the SDK raised, for the assertion message
        return {"error": {"status": getattr(exc, "status_code", None), "detail": repr(exc)}}


def python_sdk(url: str, link: str, doomed: str) -> Results:
    """belvo-python 0.39.1: the calls of its README and docstrings."""
    client = belvo.client.Client(DEFAULT_SECRET_ID, DEFAULT_SECRET_PASSWORD, url)  # logs in: GET /api/
    date_from, date_to = _dates()
    widget = token_request()["widget"]
    return {
        "connect": {"ok": True},
        "institutions": _outcome(lambda: list(client.Institutions.list())),
        "widget_token": _outcome(lambda: client.WidgetToken.create(raise_exception=True)),
        "ofda_widget_token": _outcome(
            lambda: client.WidgetToken.create(scopes=OFDA_SCOPES, widget=widget, raise_exception=True)
        ),
        "links": _outcome(lambda: list(client.Links.list())),
        "link": _outcome(lambda: client.Links.get(link)),
        "link_patched": _outcome(
            lambda: client.Links.patch(link, access_mode=belvo.enums.AccessMode.SINGLE, raise_exception=True)
        ),
        "accounts": _outcome(lambda: list(client.Accounts.list(link=link))),
        "accounts_retrieved": _outcome(lambda: client.Accounts.create(link, raise_exception=True)),
        "owners": _outcome(lambda: list(client.Owners.list(link=link))),
        "owners_retrieved": _outcome(lambda: client.Owners.create(link, raise_exception=True)),
        "transactions": _outcome(lambda: list(client.Transactions.list(link))),
        "transactions_retrieved": _outcome(
            lambda: client.Transactions.create(link, date_from, date_to=date_to, raise_exception=True)
        ),
        "link_deleted": _outcome(lambda: client.Links.delete(doomed)),
    }


def node_sdk(url: str, link: str, doomed: str) -> Results:
    """npm belvo 0.28.0 (``tests/sdk/package.json``, installed by ``scripts/test``), run by Node."""
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "belvo").is_dir():
        pytest.fail("Needs Node and `(cd tests/sdk && npm ci)`, as scripts/test does")
    date_from, date_to = _dates()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "BELVO_API_URL": url,
        "SECRET_ID": DEFAULT_SECRET_ID,
        "SECRET_PASSWORD": DEFAULT_SECRET_PASSWORD,
        "LINK_ID": link,
        "DELETE_LINK_ID": doomed,
        "DATE_FROM": date_from,
        "DATE_TO": date_to,
        "OFDA_SCOPES": OFDA_SCOPES,
        "OFDA_WIDGET": json.dumps(token_request()["widget"]),
    }
    done = subprocess.run(
        [node, str(NODE_SCRIPT)], cwd=HERE, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results: Results = json.loads(done.stdout)
    return results


SDKS = {"belvo-python": python_sdk, "belvo (npm)": node_sdk}


def _ok(results: Results, name: str) -> Any:
    outcome = results[name]
    assert "ok" in outcome, f"{name}: {outcome['error']}"
    return outcome["ok"]


@pytest.mark.parametrize("sdk", SDKS)
def test_belvos_sdk_runs_its_readme_calls_against_the_emulator(
    sandbox: str, links: tuple[str, str], emulator_app: Flask, sdk: str
) -> None:
    link, doomed = links

    results = SDKS[sdk](sandbox, link, doomed)

    assert _ok(results, "connect") is True
    assert "ofmockbank_br_retail" in {i["name"] for i in _ok(results, "institutions")}
    for token in ("widget_token", "ofda_widget_token"):
        assert set(_ok(results, token)) == {"refresh", "access"}, token
    assert {item["id"] for item in _ok(results, "links")} == {link, doomed}
    assert _ok(results, "link")["id"] == link
    if "link_patched" in results:
        assert _ok(results, "link_patched")["access_mode"] == "single"
    for resource in ("accounts", "owners"):
        listed, retrieved = _ok(results, resource), _ok(results, f"{resource}_retrieved")
        assert listed, f"the sandbox link holds {resource}"
        assert [item["id"] for item in retrieved] == [item["id"] for item in listed], resource
    listed = _ok(results, "transactions")
    retrieved = _ok(results, "transactions_retrieved")
    assert listed
    assert retrieved
    date_from, date_to = _dates()
    assert all(date_from <= t["value_date"] <= date_to for t in retrieved)
    assert {t["id"] for t in retrieved} < {t["id"] for t in listed}
    assert _ok(results, "link_deleted") is True
    assert emulator_of(emulator_app).state.link(doomed) is None
