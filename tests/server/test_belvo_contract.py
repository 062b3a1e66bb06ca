"""Contract tests for the Belvo client, each run against the emulator, Belvo's recorded answers and, when a
team sets its sandbox keys, Belvo's live sandbox.

The same test class runs over every upstream, so the emulator cannot drift from Belvo's shapes
unnoticed: a shape the recorded answers pass and the emulator fails is a drift in the emulator, and a
check both fail is a check that misreads Belvo. The recorded answers (``recorded/*.json``) come from
Belvo's OpenAPI 1.35 examples and Belvo's pages; each file's ``_source`` says exactly where from (Belvo
documents no example answer for the Brazil investment lists, so the recorded target skips them).

The live target (marker ``belvo_sandbox``) runs only with ``BELVO_SANDBOX_SECRET_ID``,
``BELVO_SANDBOX_SECRET_PASSWORD`` and ``BELVO_SANDBOX_LINK_ID`` (a link made once through the sandbox's
widget) set, and ``BELVO_SANDBOX_URL`` (default ``https://sandbox.belvo.com``); it skips what cannot be
arranged at Belvo (refusals on demand) or would destroy the team's link (deleting it).

Data, ids and times legitimately differ between the two, so the tests assert shapes (the keys and types
Belvo's schemas mark required), never values, except where the client's behaviour is the point: retries,
errors, what a deleted link answers.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
import responses

from emulator import DEFAULT_SECRET_ID, DEFAULT_SECRET_PASSWORD, create_app, emulator_of
from server.belvo import (
    RESOURCE_PATHS,
    BelvoClient,
    BelvoNotFound,
    BelvoUnavailable,
    Resource,
    as_api_error,
)
from server.config import RetryPolicy, Secret
from server.inprocess import WSGITransport
from server.ofda import FETCH_RESOURCES, TokenRequestSchema
from server.transport import HttpTransport, Reply, Transport
from tests.server.conftest import BELVO, SECRET_ID, SECRET_PASSWORD
from tests.support import Clock, recorded_belvo

HERE = Path(__file__).parent
RECORDED = HERE / "recorded"
GOLDEN = HERE / "golden"
RESOURCES: tuple[Resource, ...] = tuple(RESOURCE_PATHS)
#: What the recorded target can answer: Belvo documents no example for the Brazil investment lists.
RECORDED_RESOURCES: tuple[Resource, ...] = ("accounts", "owners", "transactions", "bills")
REPO = HERE.parents[1]
#: What the links of the contract fetch: everything.
ITEMS_FETCHED = ("ACCOUNTS", "OWNERS", "TRANSACTIONS", "BILLS", "INVESTMENTS", "INVESTMENT_TRANSACTIONS")

#: Belvo's retry schedule (docs/belvo.md §6.2). The upstreams' ``sleep`` only records the waits, so
#: running the whole schedule costs nothing.
BELVO_SCHEDULE = (3.0, 6.0, 12.0, 24.0, 48.0)
POLICY = RetryPolicy(connect_timeout=3.05, read_timeout=10.0, schedule=BELVO_SCHEDULE, deadline=300.0)


# -- shapes: what Belvo documents for a JSON value ----------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """One kind of JSON value Belvo documents: ``what`` names it in messages, ``check`` recognises it;
    an object lists its required ``fields``, a list the kind of its ``items``."""

    what: str
    check: Callable[[Any], bool]
    nullable: bool = False
    fields: Mapping[str, Kind] | None = None
    items: Kind | None = None

    def or_null(self) -> Kind:
        return replace(self, what=f"{self.what} or null", nullable=True)


def problems(value: Any, kind: Kind, where: str) -> list[str]:
    """Every way ``value`` breaks ``kind``, each saying where, what was expected and what came.

    >>> page = obj({"count": INTEGER, "next": URL.or_null()})
    >>> for problem in problems({"count": "2"}, page, "owners"):
    ...     print(problem)
    owners.count: expected an integer, got str '2'
    owners.next: missing (expected an absolute URL or null)
    >>> problems({"count": 2, "next": None}, page, "owners")
    []
    """
    if value is None:
        return [] if kind.nullable else [f"{where}: expected {kind.what}, got null"]
    if not kind.check(value):
        return [f"{where}: expected {kind.what}, got {type(value).__name__} {value!r:.80}"]
    found: list[str] = []
    for key, field_kind in (kind.fields or {}).items():
        if key in value:
            found += problems(value[key], field_kind, f"{where}.{key}")
        else:
            found.append(f"{where}.{key}: missing (expected {field_kind.what})")
    if kind.items is not None:
        for index, item in enumerate(value):
            found += problems(item, kind.items, f"{where}[{index}]")
    return found


def _parses(parse: Callable[[str], object], value: object) -> bool:
    """Whether ``value`` is a string ``parse`` accepts."""
    if not isinstance(value, str):
        return False
    try:
        parse(value)
    except ValueError:
        return False
    return True


def _is_timestamp(value: object) -> bool:
    # RFC 3339 date-time, OpenAPI's ``format: date-time``: a date alone is not one.
    pattern = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})"
    return _parses(datetime.fromisoformat, value) and re.fullmatch(pattern, str(value)) is not None


def _is_date(value: object) -> bool:
    return _parses(date.fromisoformat, value) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)) is not None


def _is_absolute_url(value: object) -> bool:
    parts = urlsplit(value) if isinstance(value, str) else None
    return parts is not None and parts.scheme in ("http", "https") and bool(parts.netloc)


def one_of(*values: str) -> Kind:
    return Kind(f"one of {', '.join(values)}", lambda v: v in values)


def matching(pattern: str) -> Kind:
    return Kind(
        f"a string matching {pattern}", lambda v: isinstance(v, str) and bool(re.fullmatch(pattern, v))
    )


def obj(fields: Mapping[str, Kind]) -> Kind:
    return Kind("an object", lambda v: isinstance(v, dict), fields=fields)


def list_of(item: Kind) -> Kind:
    return Kind(f"a list of {item.what}", lambda v: isinstance(v, list), items=item)


TEXT = Kind("a string", lambda v: isinstance(v, str))
NUMBER = Kind("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool))
INTEGER = Kind("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
OBJECT = obj({})
UUID = Kind("a UUID", functools.partial(_parses, uuid.UUID))
TIMESTAMP = Kind("an ISO-8601 timestamp", _is_timestamp)
DATE = Kind("a YYYY-MM-DD date", _is_date)
URL = Kind("an absolute URL", _is_absolute_url)

# The keys of each OpenAPI 1.35 schema's ``required`` list, typed as the schema types them (``nullable``
# becomes ``or_null``). Nested objects are checked where their schema has a required list of its own.

ACCOUNT_CATEGORIES = (
    "CHECKING_ACCOUNT", "CREDIT_CARD", "INVESTMENT_ACCOUNT", "LOAN_ACCOUNT", "PENSION_FUND_ACCOUNT",
    "RECEIVABLES_ACCOUNT", "SAVINGS_ACCOUNT", "UNCATEGORIZED",
)  # fmt: skip
TRANSACTION_CATEGORIES = (
    "Bills & Utilities", "Credits & Loans", "Deposits", "Fees & Charges", "Food & Groceries", "Home & Life",
    "Income & Payments", "Insurance", "Investments & Savings", "Online Platforms & Leisure",
    "Personal Shopping", "Taxes", "Transfers", "Transport & Travel", "Unknown", "Withdrawal & ATM",
)  # fmt: skip

ACCOUNT = obj(
    {
        "name": TEXT.or_null(),
        "number": TEXT.or_null(),
        "type": TEXT.or_null(),
        "category": one_of(*ACCOUNT_CATEGORIES).or_null(),
        "public_identification_name": TEXT.or_null(),
        "public_identification_value": TEXT.or_null(),
        "currency": TEXT.or_null(),
        "balance": obj({"current": NUMBER.or_null()}),  # AccountsBalance
        "balance_type": TEXT.or_null(),
        "credit_data": obj(  # AccountsCreditData
            {
                "credit_limit": NUMBER.or_null(),
                "cutting_date": TEXT.or_null(),
                "next_payment_date": TEXT.or_null(),
                "minimum_payment": NUMBER.or_null(),
                "no_interest_payment": NUMBER.or_null(),
                "interest_rate": NUMBER.or_null(),
                "collected_at": TIMESTAMP.or_null(),
            }
        ).or_null(),
        "loan_data": OBJECT.or_null(),
        "collected_at": TIMESTAMP,
        "last_accessed_at": TIMESTAMP.or_null(),
    }
)
OWNER = obj(
    {
        "internal_identification": TEXT.or_null(),
        "display_name": TEXT.or_null(),
        "email": TEXT.or_null(),
        "phone_number": TEXT.or_null(),
        "address": TEXT.or_null(),
        "collected_at": TIMESTAMP.or_null(),
    }
)
TRANSACTION_FIELDS: Mapping[str, Kind] = {
    "value_date": DATE.or_null(),
    "accounting_date": TIMESTAMP.or_null(),
    "amount": NUMBER.or_null(),
    "currency": TEXT.or_null(),
    "description": TEXT.or_null(),
    "reference": TEXT.or_null(),
    "observations": TEXT.or_null(),
    "balance": NUMBER.or_null(),
    "status": one_of("PENDING", "PROCESSED", "UNCATEGORIZED").or_null(),
    "account": ACCOUNT.or_null(),
    "type": one_of("INFLOW", "OUTFLOW").or_null(),
    "collected_at": TIMESTAMP.or_null(),
    "category": one_of(*TRANSACTION_CATEGORIES).or_null(),
    "merchant": OBJECT.or_null(),
}
# Bills: the fields of Belvo's OFDA bill (https://developers.belvo.com/docs/bills-ofda).
BILL = obj(
    {
        "id": UUID,
        "account": OBJECT,
        "collected_at": TIMESTAMP,
        "bill_name": TEXT.or_null(),
        "due_date": DATE.or_null(),
        "currency": TEXT.or_null(),
        "total_amount": NUMBER.or_null(),
        "minimum_amount": NUMBER.or_null(),
        "finance_charges": list_of(OBJECT),
        "payments": list_of(OBJECT),
    }
)
# Investments and their transactions: the core fields of Belvo's early-preview pages
# (https://developers.belvo.com/docs/investments-ofda, .../investment-transactions).
INVESTMENT_TYPES = (
    "FIXED_INCOME_BANKING", "FIXED_INCOME_CREDIT", "VARIABLE_INCOME", "TREASURY_BOND", "INVESTMENT_FUND",
)  # fmt: skip
INVESTMENT = obj({"id": UUID, "type": one_of(*INVESTMENT_TYPES), "isin_number": TEXT.or_null()})
INVESTMENT_TRANSACTION = obj({"id": UUID, "internal_identification": TEXT.or_null(), "value_date": DATE})
ITEMS: Mapping[Resource, Kind] = {
    "accounts": ACCOUNT,
    "owners": OWNER,
    "transactions": obj(TRANSACTION_FIELDS),
    "bills": BILL,
    "investments": INVESTMENT,
    "investment-transactions": INVESTMENT_TRANSACTION,
}


def page_of(item: Kind) -> Kind:
    """Belvo's paginated envelope (``*PaginatedResponse``): ``next``/``previous`` are absolute URLs."""
    return obj({"count": INTEGER, "next": URL.or_null(), "previous": URL.or_null(), "results": list_of(item)})


# The Link schema has no required list; these are the fields docs/belvo.md §4.4 lists.
LINK = obj(
    {
        "id": UUID,
        "institution": TEXT,
        "access_mode": one_of("single", "recurrent").or_null(),
        "status": one_of("valid", "invalid", "unconfirmed", "token_required"),
        "created_by": UUID,
        "external_id": matching(r".{3,}").or_null(),
        "institution_user_id": matching(r"[A-Za-z0-9\-=_]{44}"),
        "refresh_rate": one_of("6h", "12h", "24h", "7d", "30d").or_null(),
        "credentials_storage": matching(r"store|nostore|[1-9][0-9]{0,2}d"),
        "stale_in": matching(r"[1-9][0-9]{0,2}d").or_null(),
        "fetch_resources": list_of(TEXT),
        "created_at": TIMESTAMP,
        "last_accessed_at": TIMESTAMP.or_null(),
    }
)
# The Institution schema of OpenAPI 1.35 (no required list): what the backend reads of it, and more.
INSTITUTION = obj(
    {
        "id": INTEGER,
        "name": matching(r"[a-z0-9_]+"),
        "type": one_of("bank", "fiscal", "employment"),
        "display_name": TEXT,
        "country_codes": list_of(TEXT),
        "resources": list_of(TEXT),
        "integration_type": one_of("credentials", "openbanking"),
        "status": one_of("healthy", "down"),
    }
)
# Belvo's error array (docs/belvo.md §6.1): request_id is 32 hex characters.
ERRORS = list_of(obj({"request_id": matching(r"[a-f0-9]{32}"), "code": TEXT, "message": TEXT}))
# The widget token's claims: those of the decoded example of Belvo's API reference.
ACCESS_CLAIMS = obj(
    {
        "token_type": one_of("access"),
        "exp": INTEGER,
        "iat": INTEGER,
        "jti": TEXT,
        "user_id": TEXT,
        "organization_name": TEXT,
        "organization_id": TEXT,
        "scopes": list_of(TEXT),
        "environment": TEXT,
        "api_url": TEXT,
        "credentials_storage": TEXT,
        "stale_in": TEXT,
        "fetch_resources": list_of(TEXT),
        "iss": TEXT,
    }
)


# -- the two upstreams ------------------------------------------------------------------------------------


@functools.cache
def recording(name: str) -> Any:
    """``recorded/<name>.json``: a recorded answer (``status``, ``body``) and its ``_source``."""
    return json.loads((RECORDED / f"{name}.json").read_text(encoding="utf-8"))


def ofda_payload(golden: str) -> dict[str, Any]:
    """The token request the backend sends (built by :mod:`server.ofda`), from a golden body."""
    body = json.loads((GOLDEN / golden).read_text(encoding="utf-8"))
    del body["id"], body["password"]
    payload: dict[str, Any] = TokenRequestSchema().load(body).payload()
    return payload


@dataclass(frozen=True)
class Exchange:
    """One request the client sent upstream and the answer it got (each retry is one more)."""

    method: str
    path: str
    status: int
    body: Any

    @property
    def codes(self) -> list[str]:
        """The codes of Belvo's error array, if the body is one."""
        return [item.get("code") for item in self.body] if isinstance(self.body, list) else []


class Upstream(ABC):
    """A Belvo the contract runs against: clients for it, and the means to arrange what it answers.

    Every API exchange is recorded in ``exchanges`` and every wait of the retry schedule in ``sleeps``.
    """

    base_url: str
    secret_id: str
    secret_password: str

    def __init__(self, transport: Transport, clock: Clock) -> None:
        self.transport = transport
        self.clock = clock
        self.exchanges: list[Exchange] = []
        self.sleeps: list[float] = []

    def client(self, *, secret_password: str | None = None) -> BelvoClient:
        """The app's Belvo client for this upstream; ``secret_password`` replaces the right one."""
        password = self.secret_password if secret_password is None else secret_password
        return BelvoClient(
            Recording(self.transport, self.exchanges),
            Secret(self.secret_id),
            Secret(password),
            POLICY,
            sleep=self.sleeps.append,
        )

    @abstractmethod
    def add_link(self) -> str:
        """A valid recurrent link holding every resource; its id."""

    def disposable_link(self) -> str:
        """A link a test may delete."""
        return self.add_link()

    def answers(self, resource: Resource) -> bool:
        """Whether this upstream can answer ``resource`` (the recorded one cannot answer them all)."""
        return True

    @abstractmethod
    def refuse_token_requests(self, code: str) -> None:
        """From now on, answer every ``POST /api/token/`` with Belvo's error ``code``."""


class Recording:
    """The client's transport to an upstream, recording each exchange it passes on in ``exchanges``."""

    def __init__(self, transport: Transport, exchanges: list[Exchange]) -> None:
        self.base_url = transport.base_url
        self._transport = transport
        self._exchanges = exchanges

    def send(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: tuple[float, float],
    ) -> Reply:
        reply = self._transport.send(method, path, headers, body, timeout)
        try:
            answer = reply.json()
        except ValueError:
            answer = None
        self._exchanges.append(Exchange(method, path.partition("?")[0], reply.status, answer))
        return reply


class EmulatorUpstream(Upstream):
    """The emulator, mounted in-process at ``/sandbox`` as the backend mounts it in emulator mode."""

    base_url = "http://localhost/sandbox"
    secret_id = DEFAULT_SECRET_ID
    secret_password = DEFAULT_SECRET_PASSWORD

    def __init__(self, clock: Clock) -> None:
        self.app = create_app({"EMULATOR_NOW": clock})
        super().__init__(WSGITransport(self.app, self.base_url, script_name="/sandbox"), clock)

    def add_link(self) -> str:
        link = self._control(
            "/_control/links",
            {
                "institution": "ofmockbank_br_retail",
                "access_mode": "recurrent",
                "external_id": "contract-test-user",
                "fetch_resources": list(FETCH_RESOURCES),
            },
        )
        link_id: str = link["id"]
        return link_id

    def refuse_token_requests(self, code: str) -> None:
        self._control("/_control/faults", {"match": "/api/token/", "code": code, "times": -1})

    def close(self) -> None:
        emulator_of(self.app).webhooks.close()

    def _control(self, path: str, body: Mapping[str, Any]) -> Any:
        response = self.transport.send("POST", path, JSON_HEADERS, json.dumps(body).encode(), (5, 5))
        assert response.status == 201, f"POST {path}: expected 201, got {response.status}"
        return response.json()


JSON_HEADERS = {"Content-Type": "application/json"}
Answer = tuple[int, dict[str, str], str]


class RecordedUpstream(Upstream):
    """Belvo as recorded: replays ``recorded/*.json`` through ``responses``.

    It answers only the keys it was recorded with (the recorded 401 otherwise), and its only state is
    which links exist, so a deleted link answers the recorded 404.
    """

    base_url = BELVO
    secret_id = SECRET_ID
    secret_password = SECRET_PASSWORD
    #: Replayed tokens are signed with this key: Belvo's is Belvo's, and nobody verifies it.
    replay_key = "recorded-belvo-replay-signing-key-" * 2

    def __init__(self, mock: responses.RequestsMock, clock: Clock) -> None:
        super().__init__(HttpTransport(self.base_url, {}), clock)
        self.links: set[str] = set()
        self.refusing: str | None = None
        link_url = re.compile(rf"{re.escape(self.base_url)}/api/links/(?P<id>[^/]+)/")
        mock.add_callback(responses.POST, f"{self.base_url}/api/token/", self._token)
        mock.add_callback(responses.GET, link_url, self._link)
        mock.add_callback(responses.DELETE, link_url, self._delete_link)
        mock.add_callback(responses.GET, f"{self.base_url}/api/institutions/", self._institutions)
        mock.add_callback(responses.GET, f"{self.base_url}/api/links/", self._links)
        for resource in RECORDED_RESOURCES:
            mock.add_callback(
                responses.GET,
                f"{self.base_url}{RESOURCE_PATHS[resource]}",
                functools.partial(self._page, resource),
            )

    def add_link(self) -> str:
        link_id: str = recording("link")["body"]["id"]
        self.links.add(link_id)
        return link_id

    def answers(self, resource: Resource) -> bool:
        return resource in RECORDED_RESOURCES

    def refuse_token_requests(self, code: str) -> None:
        recording(code)  # there must be a recorded answer for it
        self.refusing = code

    # -- the recorded answers ---------------------------------------------------------------------------

    @staticmethod
    def _replay(name: str) -> Answer:
        answer = recording(name)
        return answer["status"], JSON_HEADERS, json.dumps(answer["body"])

    def _authorised(self, request: requests.PreparedRequest) -> bool:
        keys = base64.b64encode(f"{self.secret_id}:{self.secret_password}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {keys}"

    def _token(self, request: requests.PreparedRequest) -> Answer:
        body = json.loads(request.body or b"{}")
        if (body.get("id"), body.get("password")) != (self.secret_id, self.secret_password):
            return self._replay("authentication_failed")
        if self.refusing is not None:
            return self._replay(self.refusing)
        tokens = recording("token")
        # A recorded exp has long passed: move iat to now, keeping each token's lifetime (exp - iat).
        shift = int(self.clock().timestamp()) - tokens["access_claims"]["iat"]

        def sign(claims: Mapping[str, Any]) -> str:
            moved = {**claims, "iat": claims["iat"] + shift, "exp": claims["exp"] + shift}
            return jwt.encode(moved, self.replay_key, algorithm=tokens["header"]["alg"])

        answer = {"refresh": sign(tokens["refresh_claims"]), "access": sign(tokens["access_claims"])}
        return tokens["status"], JSON_HEADERS, json.dumps(answer)

    def _link_id(self, request: requests.PreparedRequest) -> str:
        return urlsplit(request.url or "").path.rstrip("/").rsplit("/", 1)[-1]

    def _link(self, request: requests.PreparedRequest) -> Answer:
        if not self._authorised(request):
            return self._replay("authentication_failed")
        return self._replay("link" if self._link_id(request) in self.links else "not_found")

    def _delete_link(self, request: requests.PreparedRequest) -> Answer:
        if not self._authorised(request):
            return self._replay("authentication_failed")
        link_id = self._link_id(request)
        if link_id not in self.links:
            return self._replay("not_found")
        self.links.remove(link_id)
        return 204, {}, ""

    def _institutions(self, request: requests.PreparedRequest) -> Answer:
        if not self._authorised(request):
            return self._replay("authentication_failed")
        return self._replay("institutions")

    def _links(self, request: requests.PreparedRequest) -> Answer:
        """The recorded list, filtered by ``external_id`` as Belvo filters it."""
        if not self._authorised(request):
            return self._replay("authentication_failed")
        status, headers, body = self._replay("links")
        page = json.loads(body)
        wanted = parse_qs(urlsplit(request.url or "").query).get("external_id")
        kept = [link for link in page["results"] if link["id"] in self.links]
        if wanted is not None:
            kept = [link for link in kept if link["external_id"] in wanted]
        return status, headers, json.dumps({**page, "count": len(kept), "results": kept})

    def _page(self, resource: str, request: requests.PreparedRequest) -> Answer:
        if not self._authorised(request):
            return self._replay("authentication_failed")
        (link_id,) = parse_qs(urlsplit(request.url or "").query).get("link", [""])
        assert link_id in self.links, f"nothing recorded for {resource} of link {link_id!r}"
        return self._replay(resource)


class LiveUpstream(Upstream):
    """Belvo's live sandbox, over the network, with a team's own keys and a link it made there once."""

    def __init__(self, env: Mapping[str, str], clock: Clock) -> None:
        self.base_url = env.get("BELVO_SANDBOX_URL", "https://sandbox.belvo.com").rstrip("/")
        self.secret_id = env["BELVO_SANDBOX_SECRET_ID"]
        self.secret_password = env["BELVO_SANDBOX_SECRET_PASSWORD"]
        self.link_id = env["BELVO_SANDBOX_LINK_ID"]
        self.http = HttpTransport(self.base_url, env)
        super().__init__(self.http, clock)

    @classmethod
    def from_environment(cls, clock: Clock) -> LiveUpstream:
        missing = [name for name in LIVE_SETTINGS if not os.environ.get(name)]
        if missing:
            pytest.skip(f"Belvo's live sandbox: set {', '.join(missing)} to run")
        return cls(os.environ, clock)

    def add_link(self) -> str:
        return self.link_id

    def disposable_link(self) -> str:
        pytest.skip("deleting would destroy the team's sandbox link")

    def refuse_token_requests(self, code: str) -> None:
        pytest.skip(f"Belvo's live sandbox cannot be made to answer {code} on demand")


#: What the live target needs; ``BELVO_SANDBOX_URL`` is optional.
LIVE_SETTINGS = ("BELVO_SANDBOX_SECRET_ID", "BELVO_SANDBOX_SECRET_PASSWORD", "BELVO_SANDBOX_LINK_ID")


@pytest.fixture(params=["emulator", "recorded", pytest.param("live", marks=pytest.mark.belvo_sandbox)])
def upstream(request: pytest.FixtureRequest) -> Iterator[Upstream]:
    clock = Clock()
    match request.param:
        case "emulator":
            emulator = EmulatorUpstream(clock)
            yield emulator
            emulator.close()
        case "recorded":
            with recorded_belvo() as mock:
                yield RecordedUpstream(mock, clock)
        case "live":
            live = LiveUpstream.from_environment(clock)
            yield live
            live.http.close()


# -- the contract -----------------------------------------------------------------------------------------

WRONG_PASSWORD = "not-the-belvo-secret-password"
CALLS: Mapping[str, Callable[[BelvoClient, str], object]] = {
    "token": lambda client, _: client.create_widget_token(ofda_payload("token_request_minimal.json")),
    "link": lambda client, link_id: client.get_link(link_id),
    "accounts": lambda client, link_id: client.list_page("accounts", {"link": link_id}),
}


class TestBelvoContract:
    @pytest.mark.parametrize("golden", ["token_request_minimal.json", "token_request_full.json"])
    def test_an_ofda_token_request_answers_an_access_token_that_has_not_expired(
        self, upstream: Upstream, golden: str
    ) -> None:
        token = upstream.client().create_widget_token(ofda_payload(golden))

        now = datetime.now(UTC) if isinstance(upstream, LiveUpstream) else upstream.clock()
        claims = jwt.decode(token.access, options={"verify_signature": False})
        assert problems(claims, ACCESS_CLAIMS, "access token") == []
        assert jwt.get_unverified_header(token.access)["alg"] == "HS512"
        assert token.expires_at == datetime.fromtimestamp(claims["exp"], UTC)
        assert datetime.fromtimestamp(claims["iat"], UTC) <= now < token.expires_at
        refresh = jwt.decode(token.refresh, options={"verify_signature": False})
        assert refresh["token_type"] == "refresh"
        assert [(x.method, x.path, x.status) for x in upstream.exchanges] == [("POST", "/api/token/", 200)]

    def test_a_link_answers_the_fields_belvo_documents(self, upstream: Upstream) -> None:
        link_id = upstream.add_link()
        link = upstream.client().get_link(link_id)
        assert link["id"] == link_id
        assert problems(link, LINK, "link") == []

    @pytest.mark.parametrize("resource", RESOURCES)
    def test_a_page_has_belvos_envelope_and_each_result_the_required_keys(
        self, upstream: Upstream, resource: Resource
    ) -> None:
        if not upstream.answers(resource):
            pytest.skip(f"Belvo documents no example answer for {RESOURCE_PATHS[resource]}")
        link_id = upstream.add_link()
        page = upstream.client().list_page(resource, {"link": link_id, "page_size": "2"})

        assert problems(page, page_of(ITEMS[resource]), resource) == []
        assert page["results"], f"a link holding {resource} answers a first page with some"
        assert page["count"] >= len(page["results"])
        assert page["previous"] is None
        if page["next"] is not None:
            following = urlsplit(page["next"])
            assert following.path.endswith(RESOURCE_PATHS[resource])
            assert parse_qs(following.query)["page"] == ["2"]

    def test_the_institution_list_is_read_page_after_page(self, upstream: Upstream) -> None:
        institutions = upstream.client().list_institutions({"country_code": "BR"})

        assert institutions
        assert problems(institutions, list_of(INSTITUTION), "institutions") == []
        assert {(x.method, x.path, x.status) for x in upstream.exchanges} == {
            ("GET", "/api/institutions/", 200)
        }

    def test_the_links_of_an_external_id_are_listed(self, upstream: Upstream) -> None:
        link_id = upstream.add_link()
        client = upstream.client()
        external_id = client.get_link(link_id)["external_id"]
        if external_id is None:
            pytest.skip("the link has no external_id to filter by")

        listed = client.list_links({"external_id": external_id})
        others = client.list_links({"external_id": f"not-{external_id}"[:64]})

        assert link_id in {link["id"] for link in listed}
        assert {link["external_id"] for link in listed} == {external_id}
        assert problems(listed, list_of(LINK), "links") == []
        assert link_id not in {link["id"] for link in others}

    def test_an_unknown_link_is_not_found(self, upstream: Upstream) -> None:
        with pytest.raises(BelvoNotFound) as caught:
            upstream.client().get_link(str(uuid.uuid4()))

        assert caught.value.code == "not_found"
        assert re.fullmatch(r"[a-f0-9]{32}", caught.value.request_id or "")
        (exchange,) = upstream.exchanges
        assert (exchange.status, exchange.codes) == (404, ["not_found"])
        assert problems(exchange.body, ERRORS, "404 body") == []

    @pytest.mark.parametrize("call", CALLS)
    def test_wrong_keys_are_unavailable_never_unauthorised(self, upstream: Upstream, call: str) -> None:
        link_id = upstream.add_link()
        with pytest.raises(BelvoUnavailable) as caught:
            CALLS[call](upstream.client(secret_password=WRONG_PASSWORD), link_id)

        # Our keys are wrong: an operator must act, so the app is told 503, never 401 (docs/security.md F8).
        assert as_api_error(caught.value).status == 503
        (exchange,) = upstream.exchanges  # not retried
        assert (exchange.status, exchange.codes) == (401, ["authentication_failed"])
        assert problems(exchange.body, ERRORS, "401 body") == []

    def test_too_many_sessions_is_retried_on_belvos_schedule(self, upstream: Upstream) -> None:
        upstream.refuse_token_requests("too_many_sessions")
        with pytest.raises(BelvoUnavailable):
            upstream.client().create_widget_token(ofda_payload("token_request_minimal.json"))

        assert upstream.sleeps == list(BELVO_SCHEDULE)
        assert [(x.status, x.codes) for x in upstream.exchanges] == [(400, ["too_many_sessions"])] * 6
        assert problems(upstream.exchanges[0].body, ERRORS, "400 body") == []

    def test_a_deleted_link_is_gone(self, upstream: Upstream) -> None:
        link_id = upstream.disposable_link()
        client = upstream.client()
        client.delete_link(link_id)
        with pytest.raises(BelvoNotFound):
            client.get_link(link_id)
        assert [(x.method, x.status) for x in upstream.exchanges] == [("DELETE", 204), ("GET", 404)]


# -- the live target's wiring, proven against the emulator over HTTP -----------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        assert process.poll() is None, "python -m emulator exited"
        try:
            requests.get(f"{url}/api/", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError(f"the emulator never answered at {url}")


def test_the_live_target_runs_when_its_settings_are_set(tmp_path: Path) -> None:
    """The opt-in run a team makes, pointed at the standalone emulator over HTTP instead of Belvo: the
    ``belvo_sandbox`` tests run (none skipped for want of settings) and pass."""
    url = f"http://127.0.0.1:{_free_port()}"
    server = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", url.rsplit(":", 1)[1]],
        cwd=REPO,
        env={**os.environ, "EMULATOR_STATE_PATH": str(tmp_path / "emulator.sqlite3")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_up(url, server)
        link = requests.post(
            f"{url}/_control/links",
            json={"institution": "ofmockbank_br_retail", "fetch_resources": list(ITEMS_FETCHED)},
            timeout=5,
        ).json()
        env = {
            **os.environ,
            "BELVO_SANDBOX_URL": url,
            "BELVO_SANDBOX_SECRET_ID": DEFAULT_SECRET_ID,
            "BELVO_SANDBOX_SECRET_PASSWORD": DEFAULT_SECRET_PASSWORD,
            "BELVO_SANDBOX_LINK_ID": link["id"],
        }
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                __file__,
                "-m",
                "belvo_sandbox",
                "-q",
                "-rs",
                "-p",
                "no:cacheprovider",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-2000:]
    assert run.returncode == 0, run.stdout[-4000:]
    assert re.search(r"\d+ passed", summary), summary
    assert "to run" not in run.stdout, "a live test was skipped for want of settings"
