"""`POST /v1/deeplinks/parse` (public): the typed event for a URL, or the deeplinks error in the contract's
envelope."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

import deeplinks

CALLBACKS = {"success": "myapp://belvo/success", "exit": "myapp://belvo/exit", "event": "myapp://belvo/event"}
LINK = "cb65f82c-dc93-4d3e-8270-9a27528397f5"


def parse(client: FlaskClient, **body: Any) -> Any:
    return client.post("/v1/deeplinks/parse", json=body)


@pytest.mark.parametrize(
    "url",
    [
        f"your-url-here://success?link={LINK.upper()}&institution=erebor_br_retail",
        "your-url-here://exit?last_encountered_error_code=login_error"
        "&last_encountered_error_message=Invalid%20credentials%20provided%20to%20login%20to%20the%20institution"
        "&meta_data_institution_name=amex_mx_retail&meta_data_step=abandon-survey",
        "your-url-here://error?error=ACCESS_TOKEN_NOT_VALID"
        "&error_message=The%20access%20token%20was%20not%20provided%20or%20is%20not%20valid",
        "your-url-here://warning?warning=institution_disabled&warning_message=The+institution+is+down.&utm=x",
    ],
)
def test_belvos_documented_deeplinks_parse_to_the_libraries_event_json(client: FlaskClient, url: str) -> None:
    response = parse(client, url=url)

    assert response.status_code == 200
    assert response.get_json() == deeplinks.parse(url).to_dict()


def test_callback_urls_decide_which_event_a_url_is(client: FlaskClient) -> None:
    url = "myapp://belvo/event?warning=institution_disabled"

    response = parse(client, url=url, callback_urls=CALLBACKS)

    assert response.get_json() == {
        "type": "warning",
        "code": "institution_disabled",
        "message": None,
        "extra": {},
    }


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"url": "myapp://success?link=nope&institution=x"}, "invalid_deeplink", "link"),
        ({"url": f"myapp://success?link={LINK}&link={LINK}&institution=x"}, "invalid_deeplink", "link"),
        ({"url": "myapp://belvo/done"}, "unknown_event", "url"),
        ({"url": "otherapp://belvo/success", "callback_urls": CALLBACKS}, "unknown_event", "url"),
        (
            {"url": "myapp://belvo/exit", "callback_urls": {"success": "myapp://s"}},
            "invalid_deeplink",
            "callback_urls.exit",
        ),
    ],
)
def test_what_the_library_refuses_is_422_with_its_code_and_field(
    client: FlaskClient, body: dict[str, Any], code: str, field: str
) -> None:
    response = parse(client, **body)

    assert response.status_code == 422
    error = response.get_json()["errors"][0]
    assert (error["code"], error["field"]) == (code, field)
    assert response.get_json()["request_id"] == response.headers["X-Request-Id"]


@pytest.mark.parametrize(
    "body", [{}, {"url": None}, {"url": ["x"]}, {"url": "x", "callback_urls": "myapp://"}]
)
def test_a_body_of_the_wrong_shape_is_422_validation_error(client: FlaskClient, body: dict[str, Any]) -> None:
    response = parse(client, **body)

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["code"] == "validation_error"


def test_it_needs_no_token_and_json_only(client: FlaskClient) -> None:
    assert client.post("/v1/deeplinks/parse", data="url=x", content_type="text/plain").status_code == 415
    assert client.post("/v1/deeplinks/parse", data="{", content_type="application/json").status_code == 400


def test_json_nested_deeper_than_the_decoder_goes_is_400_not_500(client: FlaskClient) -> None:
    response = client.post(
        "/v1/deeplinks/parse", data='{"url": ' + "[" * 50_000, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.get_json()["errors"][0]["code"] == "invalid_request"
