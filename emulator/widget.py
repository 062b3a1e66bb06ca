"""The hosted widget at ``/widget/``: Belvo's startup parameters, then institution list, consent, a
simulated bank authorization, and a redirect to the app's callback URL with Belvo's parameters.

Plain HTML forms and server-side state: every step is a POST answered with 303 to the next screen, so the
widget works without JavaScript in any webview. The only script (``static/redirect.js``) performs the
final navigation to the callback URL with ``window.location.replace`` (a renderer-initiated GET that
Android's ``shouldOverrideUrlLoading``, iOS's ``decidePolicyFor`` and React Native's
``onShouldStartLoadWithRequest`` all see), and the same URL stays on screen as a link in case it does not.

``GET /widget/?access_token=...`` checks the token and opens a widget session; later URLs carry only the
session id (``/widget/s/<id>/...``), so the token does not travel further than the first request.

App2App (https://developers.belvo.com/docs/hosted-widget-app2app-ofda): when the token carries
``callback_urls.application_link``, the consent screen sends the user to the bank on another origin
(``localhost`` for ``127.0.0.1`` and the other way round), which a mobile app's navigation policy opens
outside its webview, as it must open a real bank's app or site. The bank sends the user to
``<application_link>?access_token=...&consent_id=...&locale=pt``, and the widget opened with that query
finishes the flow: the success, or the bank's denial as an exit.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
import uuid
from dataclasses import replace
from typing import Any, Literal, NoReturn
from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask import Response as Page
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from brdocs import is_valid_cnpj, is_valid_cpf, mask_document
from emulator.app import Emulator, current_emulator
from emulator.events import (
    ABANDON_SURVEY,
    ACCESS_DENIED,
    INSTITUTION_DOWN,
    TOO_MANY_SESSIONS,
    ErrorEvent,
    ExitEvent,
    FinalEvent,
    SuccessEvent,
    WarningEvent,
    callback_url,
    with_query,
)
from emulator.institutions import INSTITUTIONS, Behaviour, Institution, filter_institutions
from emulator.pages import DURATIONS, secure
from emulator.state import IssuedToken, StartupParams, WidgetConfig, WidgetSession
from emulator.tokens import ALREADY_USED, RejectedToken, ValidToken, check_access_token

log = logging.getLogger(__name__)
widget = Blueprint("widget", __name__, url_prefix="/widget")

_EXTERNAL_ID = re.compile(r"[A-Za-z0-9_-]{3,}", re.ASCII)
PERMISSION_LABELS = {
    "REGISTER": ("Dados cadastrais", "Nome, documento, endereço, telefone e e-mail."),
    "ACCOUNTS": ("Dados de contas", "Saldos, limites e transações das suas contas."),
    "CREDIT_CARDS": ("Dados de cartão de crédito", "Limites, faturas e transações dos seus cartões."),
    "CREDIT_OPERATIONS": (
        "Dados de operações de crédito",
        "Empréstimos, financiamentos e adiantamentos contratados.",
    ),
}
SURVEY_REASONS = (
    "Não encontrei minha instituição",
    "Não me sinto seguro em compartilhar meus dados",
    "Não entendi por que preciso conectar minha conta",
    "Só estava conhecendo o aplicativo",
    "Outro motivo",
)
# What the screen says for each outcome (the callback URL carries Belvo's English messages).
_OUTCOME_TEXT = {
    "success": ("Conta conectada!", "Seus dados foram compartilhados com segurança."),
    "institution_down": (
        "Instituição fora do ar",
        "A instituição está com instabilidade no momento. Tente novamente mais tarde.",
    ),
    "too_many_sessions": (
        "Sessão já aberta",
        "Já existe uma sessão aberta com a instituição. Aguarde alguns minutos e tente de novo.",
    ),
    "login_error": (
        "Compartilhamento não autorizado",
        "Você não autorizou o compartilhamento na instituição.",
    ),
    "exit": ("Conexão cancelada", "Você saiu sem conectar nenhuma conta."),
    "ACCESS_TOKEN_NOT_VALID": (
        "Sessão expirada",
        "Este link de conexão expirou ou já foi usado. Volte ao aplicativo e tente novamente.",
    ),
}


secure(widget)


def _page(template: str, config: WidgetConfig | None, status: int = 200, **context: Any) -> Response:
    theme = config.theme if config else ()
    dark = config is not None and config.color_scheme == "DARK"
    # Dark mode uses the ``-dark`` keys; light mode the plain ones (facts file 1.5).
    variables = [
        (t.css_key.removesuffix("-dark"), t.value) for t in theme if t.css_key.endswith("-dark") == dark
    ]
    html = render_template(
        f"widget/{template}",
        config=config,
        branding=config.branding if config else None,
        theme_variables=variables,
        dark=dark,
        nonce=g.csp_nonce,
        **context,
    )
    return Page(html, status=status, mimetype="text/html")


def _error_page(status: int, title: str, message: str) -> NoReturn:
    abort(_page("error.html", None, status, title=title, message=message))


def _parse_list(args: MultiDict[str, str], name: str) -> tuple[str, ...] | None:
    raw = args.get(name, "")
    items = tuple(part.strip() for part in raw.split(",") if part.strip())
    return items or None


def _startup_params(args: MultiDict[str, str]) -> StartupParams:
    """Belvo's startup parameters (facts file 2); a wrong one stops the widget with an error page."""
    access_mode = args.get("access_mode", "recurrent")
    if access_mode not in ("single", "recurrent"):
        _error_page(400, "Parâmetro inválido", 'access_mode deve ser "single" ou "recurrent".')
    external_id = args.get("external_id")
    if external_id is not None:
        if is_valid_cpf(external_id) or is_valid_cnpj(external_id):
            # Belvo stores null when it detects personal data in external_id (facts file 2).
            external_id = None
        elif not _EXTERNAL_ID.fullmatch(external_id):
            _error_page(
                400,
                "Parâmetro inválido",
                "external_id deve ter ao menos 3 caracteres entre letras, números, - e _.",
            )
    return StartupParams(
        access_mode="single" if access_mode == "single" else "recurrent",
        external_id=external_id,
        institutions=_parse_list(args, "institutions"),
        institution_types=_parse_list(args, "institution_types"),
        resources=_parse_list(args, "resources"),
        country_codes=_parse_list(args, "country_codes"),
        show_close_dialog=args.get("show_close_dialog", "true").lower() != "false",
        show_abandon_survey=args.get("show_abandon_survey", "true").lower() != "false",
    )


def _listed(params: StartupParams) -> list[Institution]:
    return filter_institutions(
        codes=params.institutions,
        types=params.institution_types,
        resources=params.resources,
        country_codes=params.country_codes,
    )


def _outcome_page(config: WidgetConfig, event: FinalEvent, institution: str | None) -> Response:
    """The last screen: what happened, then the navigation to the callback URL (if the token has one)."""
    match event:
        case SuccessEvent():
            key = "success"
        case ExitEvent(error=None):
            key = "exit"
        case ExitEvent(error=error) if error is not None:
            key = error.code
        case ErrorEvent(code=code):
            key = code
    title, message = _OUTCOME_TEXT[key]
    target = callback_url(config.callback_urls, event) if config.callback_urls else None
    return _page(
        "done.html",
        config,
        event=event,
        title=title,
        message=message,
        callback=target,
        institution=INSTITUTIONS[institution] if institution else None,
    )


def _refused(rejected: RejectedToken) -> Response:
    """An invalid, expired or used token: ACCESS_TOKEN_NOT_VALID on the event URL when we know the
    token's callbacks; a token we cannot tie to a request of ours has nowhere to go, so a page says so."""
    token = rejected.token
    log.info("widget refused token %s: %s", token.jti if token else "(unknown)", rejected.reason)
    if token is None:
        _error_page(
            401,
            "Token de acesso inválido",
            "Não foi possível abrir a conexão: o token de acesso não foi informado ou não é válido.",
        )
    if token.config.callback_urls is None:
        _error_page(401, "Sessão expirada", _OUTCOME_TEXT["ACCESS_TOKEN_NOT_VALID"][1])
    return _outcome_page(token.config, ErrorEvent.access_token_not_valid(), None)


@widget.get("/")
def start() -> Response:
    emulator = current_emulator()
    checked = check_access_token(
        emulator.state, request.args.get("access_token"), emulator.config.signing_key, emulator.now()
    )
    consent_id = request.args.get("consent_id")
    if consent_id is not None and (isinstance(checked, ValidToken) or checked.reason == ALREADY_USED):
        # The query the bank sent back, opened again (an app relaunched before it caught the
        # callback): the outcome again, although finishing spent the token.
        assert checked.token is not None
        finished = _returned(emulator, checked.token, consent_id)
        if finished is not None and finished.outcome is not None:
            return redirect(url_for("widget.done", sid=finished.id), 303)
    if isinstance(checked, RejectedToken):
        return _refused(checked)
    token = checked.token
    if consent_id is not None:
        return _resume(emulator, token, consent_id)
    params = _startup_params(request.args)
    # App2App: the bank sends the user back with the token the widget was opened with.
    raw = request.args["access_token"] if _app2app(token) else None
    session = WidgetSession(id=secrets.token_urlsafe(16), jti=token.jti, params=params, access_token=raw)
    emulator.state.add_session(session)
    log.info("widget session %s opened for token %s", session.id, token.jti)
    listed = _listed(params)
    # One institution left by the startup parameters: the widget goes straight to it (facts file 2).
    if params.institutions and len(listed) == 1:
        return _choose(emulator, session, token, listed[0])
    return redirect(url_for("widget.institutions", sid=session.id), 303)


def _resume(emulator: Emulator, token: IssuedToken, consent_id: str) -> Response:
    """App2App: the widget opened with the query the bank sent the app back with finishes the flow. A
    consent the bank never granted for this token ends as the bank's refusal."""
    session = _returned(emulator, token, consent_id)
    if session is None:
        session = WidgetSession(
            id=secrets.token_urlsafe(16), jti=token.jti, params=_startup_params(MultiDict())
        )
        emulator.state.add_session(session)
        log.info("widget session %s resumed with a consent the bank did not grant", session.id)
        return _finish(emulator, session, ExitEvent(ACCESS_DENIED, None, None))
    log.info("widget session %s resumed after the bank", session.id)
    assert session.institution is not None  # the bank decided, so an institution was chosen
    if session.bank_decision != "authorize":
        return _finish(emulator, session, ExitEvent(ACCESS_DENIED, session.institution, None))
    return _authorized(emulator, session, token, session.institution)


def consent_id_of(session_id: str) -> str:
    """The consent id the bank returns for a widget session: the session id's 128 random bits written as
    a UUID, as Belvo's consent ids are, so the widget finds the session from the bank's query alone.

    >>> consent_id_of("AAAAAAAAAAAAAAAAAAAAAA")
    '00000000-0000-0000-0000-000000000000'
    >>> session_id_of(consent_id_of("3NXckjifR5wpkE1FwBZsIA"))
    '3NXckjifR5wpkE1FwBZsIA'
    """
    return str(uuid.UUID(bytes=base64.urlsafe_b64decode(session_id + "==")))


def session_id_of(consent_id: str) -> str | None:
    """The widget session a consent id names (:func:`consent_id_of`), or None for no UUID."""
    try:
        raw = uuid.UUID(consent_id).bytes
    except ValueError:
        return None
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _returned(emulator: Emulator, token: IssuedToken, consent_id: str) -> WidgetSession | None:
    """The widget session of ``token`` the bank sent back with ``consent_id``, if any."""
    sid = session_id_of(consent_id)
    session = emulator.state.session(sid) if sid is not None else None
    if session is None or session.jti != token.jti or session.bank_decision is None:
        return None
    return session


def _active(sid: str) -> tuple[WidgetSession, IssuedToken]:
    """The session and its token, or a response that ends the request: 404 page for an unknown session,
    the outcome page for a finished one, ACCESS_TOKEN_NOT_VALID once the token expired or was used."""
    emulator = current_emulator()
    session = emulator.state.session(sid)
    if session is None:
        _error_page(404, "Sessão não encontrada", "Esta conexão não existe. Volte ao aplicativo e recomece.")
    if session.outcome is not None:
        abort(redirect(url_for("widget.done", sid=sid), 303))
    token = emulator.state.token(session.jti)
    assert token is not None  # a session is only opened for a token we minted
    if token.used or emulator.now() >= token.expires_at:
        abort(_finish(emulator, session, ErrorEvent.access_token_not_valid()))
    return session, token


def _finish(emulator: Emulator, session: WidgetSession, event: FinalEvent) -> Response:
    emulator.state.update_session(session.id, lambda s: replace(s, outcome=event, screen="done"))
    log.info("widget session %s finished: %s", session.id, event.kind)
    return redirect(url_for("widget.done", sid=session.id), 303)


def _set(emulator: Emulator, session: WidgetSession, **changes: Any) -> WidgetSession:
    return emulator.state.update_session(session.id, lambda s: replace(s, **changes))


def _needs_cnpj(config: WidgetConfig, institution: Institution) -> bool:
    return institution.customer_type == "business" and config.document("CNPJ") is None


@widget.get("/s/<sid>/")
def institutions(sid: str) -> Response:
    session, token = _active(sid)
    emulator = current_emulator()
    warning = session.pending_warning
    _set(emulator, session, screen="institutions", pending_warning=None)
    config = token.config
    return _page(
        "institutions.html",
        config,
        sid=sid,
        institutions=_listed(session.params),
        needs_cnpj={i.code for i in INSTITUTIONS.values() if _needs_cnpj(config, i)},
        warning=warning,
        warning_url=callback_url(config.callback_urls, warning) if warning and config.callback_urls else None,
    )


@widget.post("/s/<sid>/institution")
def choose(sid: str) -> Response:
    session, token = _active(sid)
    listed = {i.code: i for i in _listed(session.params)}
    institution = listed.get(request.form.get("institution", ""))
    if institution is None or _needs_cnpj(token.config, institution):
        _error_page(400, "Instituição indisponível", "Escolha uma das instituições da lista.")
    return _choose(current_emulator(), session, token, institution)


def _choose(
    emulator: Emulator, session: WidgetSession, token: IssuedToken, institution: Institution
) -> Response:
    match institution.behaviour:
        case Behaviour.DOWN:
            return _finish(emulator, session, ExitEvent(INSTITUTION_DOWN, institution.code, None))
        case Behaviour.BUSY:
            return _finish(emulator, session, ExitEvent(TOO_MANY_SESSIONS, institution.code, None))
        case Behaviour.DISABLED:
            # A warning does not end the flow: the list shows it and notifies the app, which stays.
            _set(emulator, session, pending_warning=WarningEvent.institution_disabled())
            return redirect(url_for("widget.institutions", sid=session.id), 303)
        case Behaviour.SUCCEED:
            _set(emulator, session, institution=institution.code, consented=False, screen="consent")
            return redirect(url_for("widget.consent", sid=session.id), 303)


@widget.get("/s/<sid>/consent")
def consent(sid: str) -> Response:
    session, token = _active(sid)
    if session.institution is None:
        return redirect(url_for("widget.institutions", sid=sid), 303)
    _set(current_emulator(), session, screen="consent")
    config = token.config
    person, company = config.document("CPF"), config.document("CNPJ")
    preselected = config.default_consent_duration_days
    return _page(
        "consent.html",
        config,
        sid=sid,
        institution=INSTITUTIONS[session.institution],
        permissions=[PERMISSION_LABELS[p] for p in config.permissions],
        person=person,
        company=company if INSTITUTIONS[session.institution].customer_type == "business" else None,
        mask=mask_document,
        durations=DURATIONS,
        preselected=preselected if preselected in dict(DURATIONS) else None,
    )


@widget.post("/s/<sid>/consent")
def accept_consent(sid: str) -> Response:
    session, token = _active(sid)
    if session.institution is None:
        return redirect(url_for("widget.institutions", sid=sid), 303)
    raw = request.form.get("consent_duration", "")
    days = int(raw) if raw.isdigit() and int(raw) in dict(DURATIONS) else None
    _set(current_emulator(), session, consented=True, consent_days=days, screen="bank")
    if _app2app(token) is not None:
        return redirect(url_for("widget.to_the_bank", sid=sid), 303)
    return redirect(url_for("widget.bank", sid=sid), 303)


@widget.get("/s/<sid>/to-the-bank")
def to_the_bank(sid: str) -> Response:
    """App2App: the page that sends the user on to the bank's site (a navigation, not a redirect of the
    consent form, which the pages' ``form-action 'self'`` would stop at another origin)."""
    session, token = _active(sid)
    if session.institution is None or not session.consented:
        return redirect(url_for("widget.institutions", sid=sid), 303)
    institution = INSTITUTIONS[session.institution]
    return _page(
        "handoff.html",
        token.config,
        screen="to-the-bank",
        title="Redirecionando para a instituição",
        lead=f"Você vai autorizar o compartilhamento no ambiente do {institution.display_name}.",
        target=bank_url(url_for("widget.bank", sid=sid, _external=True)),
        test_id="to-the-bank",
        action=f"Ir para o {institution.display_name}",
        institution=None,
    )


def _app2app(token: IssuedToken) -> str | None:
    """The application link the bank sends the user back to, when the token asked for App2App."""
    urls = token.config.callback_urls
    return urls.application_link if urls is not None else None


def bank_url(widget_url: str) -> str:
    """``widget_url`` on the bank's origin: another host name for the same server, so that a browser (or
    an app's navigation policy) sees the user leave the widget's site.

    >>> bank_url("http://127.0.0.1:8000/sandbox/widget/s/x/bank")
    'http://localhost:8000/sandbox/widget/s/x/bank'
    >>> bank_url("http://localhost:8000/sandbox/widget/s/x/bank")
    'http://127.0.0.1:8000/sandbox/widget/s/x/bank'
    """
    parts = urlsplit(widget_url)
    other = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(parts.hostname or "")
    if other is None:
        # No second name known for this host (a LAN address): the bank stays on the widget's origin.
        return widget_url
    netloc = other if parts.port is None else f"{other}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


@widget.get("/s/<sid>/bank")
def bank(sid: str) -> Response:
    session, token = _active(sid)
    if session.institution is None or not session.consented:
        return redirect(url_for("widget.institutions", sid=sid), 303)
    _set(current_emulator(), session, screen="bank")
    return _page("bank.html", token.config, sid=sid, institution=INSTITUTIONS[session.institution])


@widget.post("/s/<sid>/bank")
def bank_decision(sid: str) -> Response:
    session, token = _active(sid)
    emulator = current_emulator()
    code = session.institution
    if code is None or not session.consented:
        return redirect(url_for("widget.institutions", sid=sid), 303)
    decision: Literal["authorize", "deny"] = (
        "authorize" if request.form.get("decision") == "authorize" else "deny"
    )
    application_link = _app2app(token)
    if application_link is not None:
        return _back_to_the_app(emulator, session, token, application_link, decision)
    if decision == "deny":
        return _finish(emulator, session, ExitEvent(ACCESS_DENIED, code, None))
    return _authorized(emulator, session, token, code)


def _back_to_the_app(
    emulator: Emulator,
    session: WidgetSession,
    token: IssuedToken,
    application_link: str,
    decision: Literal["authorize", "deny"],
) -> Response:
    """The bank records the decision and sends the user to the app's application link with the token, a
    consent id and the locale; the widget opened with that query finishes the flow."""
    consent_id = consent_id_of(session.id)
    _set(emulator, session, bank_decision=decision)
    assert session.access_token is not None  # kept when the widget opened with an application link
    pairs = [("access_token", session.access_token), ("consent_id", consent_id), ("locale", "pt")]
    target = with_query(application_link, pairs)
    institution = INSTITUTIONS[session.institution] if session.institution else None
    return _page(
        "handoff.html",
        token.config,
        screen="bank-return",
        title="Pronto",
        lead="Sua decisão foi registrada. Voltando para o aplicativo para concluir a conexão…",
        target=target,
        test_id="bank-return",
        action="Voltar para o aplicativo",
        institution=institution,
        footer="Instituição simulada pelo emulador da Belvo",
    )


def _authorized(emulator: Emulator, session: WidgetSession, token: IssuedToken, code: str) -> Response:
    """The bank authorised: spend the token, create the link, send its webhooks, report the success."""
    config = token.config
    with emulator.state.locked():
        # Check and spend the token in one step: two sessions of one token cannot both succeed.
        if emulator.state.token(token.jti) != token:
            return _finish(emulator, session, ErrorEvent.access_token_not_valid())
        emulator.state.mark_token_used(token.jti)
    link = emulator.create_link(
        institution=code,
        access_mode=session.params.access_mode,
        external_id=session.params.external_id,
        fetch_resources=config.fetch_resources,
        stale_in=config.stale_in,
        credentials_storage=config.credentials_storage,
        holder=config.identification,
        consent_days=session.consent_days,
    )
    emulator.send_historical_updates(link)
    return _finish(emulator, session, SuccessEvent(link.id, code))


@widget.post("/s/<sid>/close")
def close(sid: str) -> Response:
    session, _ = _active(sid)
    if session.params.show_close_dialog:
        return redirect(url_for("widget.close_dialog", sid=sid), 303)
    return _after_close(session)


@widget.get("/s/<sid>/close")
def close_dialog(sid: str) -> Response:
    session, token = _active(sid)
    return _page("close.html", token.config, sid=sid, back=url_for(f"widget.{session.screen}", sid=sid))


@widget.post("/s/<sid>/close/confirm")
def close_confirm(sid: str) -> Response:
    session, _ = _active(sid)
    return _after_close(session)


def _after_close(session: WidgetSession) -> Response:
    if session.params.show_abandon_survey:
        return redirect(url_for("widget.survey", sid=session.id), 303)
    return _exit(session)


def _exit(session: WidgetSession) -> Response:
    # meta_data_step is sent when the user leaves from the initial screen, always "abandon-survey";
    # meta_data_institution_name once an institution was chosen (facts file 3.2).
    step = ABANDON_SURVEY if session.screen == "institutions" else None
    return _finish(current_emulator(), session, ExitEvent(None, session.institution, step))


@widget.get("/s/<sid>/survey")
def survey(sid: str) -> Response:
    _, token = _active(sid)
    return _page("survey.html", token.config, sid=sid, reasons=SURVEY_REASONS)


@widget.post("/s/<sid>/survey")
def survey_submit(sid: str) -> Response:
    session, _ = _active(sid)
    return _exit(session)


@widget.get("/s/<sid>/done")
def done(sid: str) -> Response:
    emulator = current_emulator()
    session = emulator.state.session(sid)
    if session is None or session.outcome is None:
        return redirect(url_for("widget.institutions", sid=sid), 303)
    token = emulator.state.token(session.jti)
    assert token is not None
    return _outcome_page(token.config, session.outcome, session.institution)
