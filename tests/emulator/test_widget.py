"""The hosted widget through Flask's test client: every outcome of docs/contract.md section 5, the startup
parameters, and what the screens show. Each callback URL is checked with ``deeplinks.parse``."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

import deeplinks
from emulator import Emulator
from tests.emulator.builders import (
    CALLBACKS,
    CNPJ,
    CPF,
    NAME,
    Widget,
    basic,
    hrefs,
    mint,
    sdk_token_request,
    token_request,
)
from tests.support import Clock


def _parse(url: str) -> deeplinks.Event:
    return deeplinks.parse(url, CALLBACKS)


@pytest.fixture
def widget(emu_client: FlaskClient) -> Widget:
    return Widget(emu_client)


def test_success_creates_the_link_the_callback_names(widget: Widget, emu_client: FlaskClient) -> None:
    widget.open(mint(emu_client), external_id="user-7f3a", access_mode="single")

    widget.connect("ofmockbank_br_retail")

    event = _parse(widget.callback())
    assert isinstance(event, deeplinks.SuccessEvent)
    assert event.institution == "ofmockbank_br_retail"
    link = emu_client.get(f"/api/links/{event.link_id}/", headers=basic()).json
    assert link["external_id"] == "user-7f3a"
    assert (link["access_mode"], link["status"], link["refresh_rate"]) == ("single", "valid", None)
    assert (link["stale_in"], link["fetch_resources"]) == ("300d", ["ACCOUNTS", "TRANSACTIONS", "OWNERS"])
    assert len(link["institution_user_id"]) == 44


def test_a_link_is_recurrent_unless_the_url_says_single(widget: Widget, emu_client: FlaskClient) -> None:
    widget.open(mint(emu_client))
    widget.connect()

    event = _parse(widget.callback())
    assert isinstance(event, deeplinks.SuccessEvent)
    link = emu_client.get(f"/api/links/{event.link_id}/", headers=basic()).json
    assert (link["access_mode"], link["refresh_rate"], link["credentials_storage"]) == (
        "recurrent",
        "7d",
        "store",
    )


def test_consent_screen_shows_purpose_permissions_holder_and_brand(
    widget: Widget, emu_client: FlaskClient
) -> None:
    widget.open(mint(emu_client))
    widget.choose("ofmockbank_br_retail")

    page = widget.screen().text

    assert "Recomendações de crédito sob medida para você." in page
    assert NAME in page
    assert "***.092.776-**" in page
    assert CPF not in page
    for label in (
        "Dados cadastrais",
        "Dados de contas",
        "Dados de cartão de crédito",
        "Dados de operações de crédito",
    ):
        assert label in page
    assert "ACME" in page
    assert 'lang="pt-BR"' in page
    assert 'name="viewport"' in page


@pytest.mark.parametrize(
    ("institution", "code", "message"),
    [
        ("ofdownbank_br_retail", "institution_down", "The financial institution is down, try again later"),
        (
            "ofbusybank_br_retail",
            "too_many_sessions",
            "Impossible to login, a session is already opened with the institution for these credentials",
        ),
    ],
)
def test_failing_institutions_exit_with_belvos_error(
    widget: Widget, emu_client: FlaskClient, institution: str, code: str, message: str
) -> None:
    widget.open(mint(emu_client))

    widget.choose(institution)

    event = _parse(widget.callback())
    assert event == deeplinks.ExitEvent(deeplinks.ExitError(code, message), institution, None)


def test_denying_at_the_bank_exits_with_login_error(widget: Widget, emu_client: FlaskClient) -> None:
    widget.open(mint(emu_client))

    widget.connect("ofmockbank_br_retail", decision="deny")

    event = _parse(widget.callback())
    assert isinstance(event, deeplinks.ExitEvent)
    assert event.error is not None
    assert (event.error.code, event.institution) == ("login_error", "ofmockbank_br_retail")
    assert emu_client.get("/api/links/", headers=basic()).json["count"] == 0


def test_disabled_institution_warns_and_the_widget_stays_open(
    widget: Widget, emu_client: FlaskClient
) -> None:
    widget.open(mint(emu_client))

    widget.choose("ofdisabledbank_br_retail")
    page = widget.screen().text

    [warning_url] = hrefs(page, "event-link")
    assert _parse(warning_url) == deeplinks.WarningEvent(
        "institution_disabled", "The institution is temporarily unavailable."
    )
    assert 'data-test="warning"' in page
    assert 'data-test="institution"' in page
    assert hrefs(widget.screen().text, "event-link") == []  # reported once
    widget.connect("ofmockbank_br_retail")
    assert isinstance(_parse(widget.callback()), deeplinks.SuccessEvent)


def test_closing_at_the_start_asks_then_surveys_then_exits_with_abandon_survey(
    widget: Widget, emu_client: FlaskClient
) -> None:
    widget.open(mint(emu_client))

    widget.post("close")
    assert 'data-test="close-confirm"' in widget.screen().text
    widget.post("close/confirm")
    assert 'data-test="survey-submit"' in widget.screen().text
    widget.post("survey", reason="2")

    assert _parse(widget.callback()) == deeplinks.ExitEvent(None, None, "abandon-survey")


def test_close_dialog_and_survey_can_be_turned_off(widget: Widget, emu_client: FlaskClient) -> None:
    widget.open(mint(emu_client), show_close_dialog="false", show_abandon_survey="false")

    widget.post("close")

    assert _parse(widget.callback()) == deeplinks.ExitEvent(None, None, "abandon-survey")


def test_cancelling_the_close_dialog_returns_to_the_screen(widget: Widget, emu_client: FlaskClient) -> None:
    widget.open(mint(emu_client))
    widget.choose("ofmockbank_br_retail")
    widget.post("close")

    [back] = hrefs(widget.screen().text, "close-cancel")

    assert back.endswith("/consent")


def test_closing_after_choosing_names_the_institution(widget: Widget, emu_client: FlaskClient) -> None:
    widget.open(mint(emu_client), show_close_dialog="false", show_abandon_survey="false")
    widget.choose("ofitau_br_retail")

    widget.post("close")

    assert _parse(widget.callback()) == deeplinks.ExitEvent(None, "ofitau_br_retail", None)


def _access_token_not_valid(url: str) -> bool:
    return _parse(url) == deeplinks.ErrorEvent(
        "ACCESS_TOKEN_NOT_VALID", "The access token was not provided or is not valid"
    )


def test_an_expired_token_reports_access_token_not_valid(
    widget: Widget, emu_client: FlaskClient, clock: Clock
) -> None:
    token = mint(emu_client)
    clock.advance(600)

    response = widget.open(token)

    assert response.status_code == 200
    [url] = hrefs(response.text, "callback-link")
    assert _access_token_not_valid(url)


def test_a_token_expiring_mid_flow_ends_it_on_the_next_step(
    widget: Widget, emu_client: FlaskClient, clock: Clock
) -> None:
    widget.open(mint(emu_client))
    widget.choose("ofmockbank_br_retail")
    clock.advance(601)

    widget.post("consent", consent_duration="")

    assert _access_token_not_valid(widget.callback())


def test_a_token_is_spent_by_its_first_success(widget: Widget, emu_client: FlaskClient) -> None:
    token = mint(emu_client)
    other = Widget(emu_client)
    widget.open(token)
    other.open(token)  # the same token opened twice: fine until one of them succeeds
    widget.connect()

    reopened = Widget(emu_client).open(token)

    [url] = hrefs(reopened.text, "callback-link")
    assert _access_token_not_valid(url)
    other.choose("ofmockbank_br_retail")
    assert _access_token_not_valid(other.callback())
    assert emu_client.get("/api/links/", headers=basic()).json["count"] == 1


def test_a_refresh_token_is_not_a_widget_token(widget: Widget, emu_client: FlaskClient) -> None:
    refresh = emu_client.post("/api/token/", json=token_request()).json["refresh"]

    [url] = hrefs(widget.open(refresh).text, "callback-link")

    assert _access_token_not_valid(url)


@pytest.mark.parametrize("token", ["", "not-a-jwt", "eyJhbGciOiJIUzUxMiJ9.e30.c2lnbmF0dXJl"])
def test_a_token_with_no_known_callbacks_gets_an_error_page(widget: Widget, token: str) -> None:
    response = widget.open(token)

    assert response.status_code == 401
    assert 'data-test="widget-error"' in response.text
    assert "callback-link" not in response.text


def test_a_token_from_another_emulator_gets_an_error_page(
    widget: Widget, make_emu_app: Callable[..., Flask]
) -> None:
    foreign = mint(make_emu_app().test_client())

    assert widget.open(foreign).status_code == 401


def test_a_token_without_callback_urls_shows_the_outcome_instead(
    widget: Widget, emu_client: FlaskClient
) -> None:
    widget.open(mint(emu_client, sdk_token_request()))

    page = widget.connect().text

    assert 'data-test="result"' in page
    assert "callback-link" not in page
    [link] = emu_client.get("/api/links/", headers=basic()).json["results"]
    assert link["id"] in page


def test_callback_query_parameters_are_kept(widget: Widget, emu_client: FlaskClient) -> None:
    body = token_request()
    body["widget"]["callback_urls"]["success"] = "https://app.example/belvo/success?sid=ws_1"
    widget.open(mint(emu_client, body))

    widget.connect()

    assert widget.callback().startswith("https://app.example/belvo/success?sid=ws_1&link=")


def _listed(page: str) -> list[str]:
    return re.findall(r'data-institution="([a-z_]+)"', page)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"institution_types": "business"},
            ["ofmockbank_br_business", "ofitau_br_business", "ofbradesco_br_business"],
        ),
        ({"institutions": "ofnubank_br_retail,ofitau_br_retail"}, ["ofnubank_br_retail", "ofitau_br_retail"]),
        ({"resources": "ACCOUNTS,INVESTMENTS", "institution_types": "retail"}, None),
        ({"country_codes": "MX"}, []),
    ],
)
def test_startup_parameters_filter_the_institution_list(
    widget: Widget, emu_client: FlaskClient, params: dict[str, str], expected: list[str] | None
) -> None:
    widget.open(mint(emu_client), **params)

    listed = _listed(widget.screen().text)

    if expected is None:  # AND semantics: institutions lacking INVESTMENTS are left out
        assert "ofmockbank_br_retail" in listed
        assert "ofnubank_br_retail" not in listed
        assert "ofsantander_br_retail" not in listed
    else:
        assert listed == expected


def test_one_institution_left_opens_its_consent_directly(widget: Widget, emu_client: FlaskClient) -> None:
    widget.open(mint(emu_client), institutions="ofmockbank_br_retail")

    assert widget.path.endswith("/consent")


def test_business_institutions_need_a_cnpj(widget: Widget, emu_client: FlaskClient) -> None:
    widget.open(mint(emu_client))
    page = widget.screen().text
    assert 'data-institution="ofmockbank_br_business" disabled' in page

    assert widget.choose("ofmockbank_br_business").status_code == 400


def test_a_business_connects_with_its_cnpj(widget: Widget, emu_client: FlaskClient, emu: Emulator) -> None:
    body = token_request()
    body["widget"]["consent"]["identification_info"].append(
        {"type": "CNPJ", "number": CNPJ, "name": "Bragg Mecânica"}
    )
    widget.open(mint(emu_client, body))
    widget.choose("ofmockbank_br_business")
    assert "Bragg Mecânica" in widget.screen().text

    widget.post("consent", consent_duration="")
    widget.post("bank", decision="authorize")

    event = _parse(widget.callback())
    assert isinstance(event, deeplinks.SuccessEvent)
    owners = emu_client.get(f"/api/owners/?link={event.link_id}", headers=basic()).json["results"]
    assert owners[0]["document_id"] == {"document_type": "CNPJ", "document_number": CNPJ}


def test_an_external_id_carrying_a_cpf_is_stored_as_null(widget: Widget, emu_client: FlaskClient) -> None:
    widget.open(mint(emu_client), external_id=CPF)
    widget.connect()

    [link] = emu_client.get("/api/links/", headers=basic()).json["results"]

    assert link["external_id"] is None


@pytest.mark.parametrize(
    "params", [{"external_id": "a b"}, {"external_id": "ab"}, {"access_mode": "sometimes"}]
)
def test_invalid_startup_parameters_stop_with_an_error_page(
    widget: Widget, emu_client: FlaskClient, params: dict[str, str]
) -> None:
    response = widget.open(mint(emu_client), **params)

    assert response.status_code == 400
    assert 'data-test="widget-error"' in response.text


def test_chosen_consent_duration_sets_the_consent_expiry(widget: Widget, emu_client: FlaskClient) -> None:
    body = token_request()
    body["widget"]["consent"]["default_consent_duration_days"] = 183
    widget.open(mint(emu_client, body))
    widget.choose("ofmockbank_br_retail")
    assert '<option value="183" selected>' in widget.screen().text

    widget.post("consent", consent_duration="92")
    widget.post("bank", decision="authorize")

    [consent] = emu_client.get(f"/api/consents/?user_document={CPF}", headers=basic()).json["results"]
    assert consent["expired_at"] == "2027-02-21T12:00:00.000Z"  # the clock's day + 92 days
    assert consent["undefined_consent_expiration"] is False


def test_theme_and_dark_mode_reach_the_page(widget: Widget, emu_client: FlaskClient) -> None:
    body = token_request()
    body["widget"]["color_scheme"] = "DARK"
    body["widget"]["theme"] = [
        {"css_key": "--color-primary-base", "value": "#FF0000"},
        {"css_key": "--color-primary-base-dark", "value": "rgba(0, 255, 0, 0.5)"},
    ]
    widget.open(mint(emu_client, body))

    page = widget.screen().text

    assert "--color-primary-base: rgba(0, 255, 0, 0.5);" in page
    assert "#FF0000" not in page
    assert 'class="dark"' in page


def test_pages_protect_the_token_in_their_url(widget: Widget, emu_client: FlaskClient) -> None:
    response = widget.open(mint(emu_client))
    page = widget.screen()

    for answer in (response, page):
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "access_token" not in widget.path


def test_an_unknown_widget_session_is_a_404_page(emu_client: FlaskClient) -> None:
    response = emu_client.get("/widget/s/nope/")

    assert response.status_code == 404
    assert 'data-test="widget-error"' in response.text
