"""The sandbox's Open Finance institutions and what choosing each one does (docs/contract.md section 5).

The first five are the contract's scripted institutions; the rest are real OFDA codes (docs/belvo.md §2:
``of<bank>_br_retail`` / ``of<bank>_br_business``) that behave like Mockbank, so institution lists and
filters look realistic.

>>> INSTITUTIONS["ofdownbank_br_retail"].behaviour
<Behaviour.DOWN: 'down'>
>>> [i.code for i in filter_institutions(types=("business",))]
['ofmockbank_br_business', 'ofitau_br_business', 'ofbradesco_br_business']
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

# The resources of OFDA's fetch_resources (docs/belvo.md §1.3).
OFDA_RESOURCES = (
    "ACCOUNTS",
    "OWNERS",
    "TRANSACTIONS",
    "BILLS",
    "INVESTMENTS",
    "INVESTMENT_TRANSACTIONS",
)


class Behaviour(enum.Enum):
    """What the widget does once the user picks the institution."""

    SUCCEED = "succeed"  # consent, bank authorization, success
    DOWN = "down"  # exit institution_down
    BUSY = "busy"  # exit too_many_sessions
    DISABLED = "disabled"  # warning institution_disabled; the widget stays open


@dataclass(frozen=True)
class Institution:
    code: str
    id: int
    display_name: str
    website: str
    primary_color: str
    behaviour: Behaviour
    resources: tuple[str, ...] = OFDA_RESOURCES

    @property
    def customer_type(self) -> str:
        """``retail`` or ``business``: the last part of the code, which ``institution_types`` filters on."""
        return self.code.rsplit("_", 1)[1]

    @property
    def status(self) -> str:
        """Belvo's ``healthy`` or ``down`` (OpenAPI 1.35 ``EnumInstitutionStatus``)."""
        return "down" if self.behaviour is Behaviour.DOWN else "healthy"


_ALL = (
    Institution(
        "ofmockbank_br_retail", 9001, "Mockbank", "https://www.mockbank.com.br/", "#0663F9",
        Behaviour.SUCCEED,
    ),
    Institution(
        "ofmockbank_br_business", 9002, "Mockbank Empresas", "https://www.mockbank.com.br/empresas/",
        "#0663F9", Behaviour.SUCCEED,
    ),
    Institution(
        "ofdownbank_br_retail", 9003, "Downbank", "https://www.downbank.com.br/", "#6B7280",
        Behaviour.DOWN,
    ),
    Institution(
        "ofbusybank_br_retail", 9004, "Busybank", "https://www.busybank.com.br/", "#B45309",
        Behaviour.BUSY,
    ),
    Institution(
        "ofdisabledbank_br_retail", 9005, "Disabledbank", "https://www.disabledbank.com.br/",
        "#9CA3AF", Behaviour.DISABLED,
    ),
    Institution(
        "ofnubank_br_retail", 9101, "Nubank", "https://nubank.com.br/", "#820AD1",
        Behaviour.SUCCEED, ("ACCOUNTS", "OWNERS", "TRANSACTIONS", "BILLS"),
    ),
    Institution(
        "ofitau_br_retail", 9102, "Itaú", "https://www.itau.com.br/", "#EC7000", Behaviour.SUCCEED,
    ),
    Institution(
        "ofitau_br_business", 9103, "Itaú Empresas", "https://www.itau.com.br/empresas/", "#EC7000",
        Behaviour.SUCCEED,
    ),
    Institution(
        "ofbradesco_br_retail", 9104, "Bradesco", "https://banco.bradesco/", "#CC092F",
        Behaviour.SUCCEED,
    ),
    Institution(
        "ofbradesco_br_business", 9105, "Bradesco Empresas", "https://banco.bradesco/empresas/",
        "#CC092F", Behaviour.SUCCEED,
    ),
    Institution(
        "ofbancodobrasil_br_retail", 9106, "Banco do Brasil", "https://www.bb.com.br/", "#F8D117",
        Behaviour.SUCCEED,
    ),
    Institution(
        "ofsantander_br_retail", 9107, "Santander", "https://www.santander.com.br/", "#EC0000",
        Behaviour.SUCCEED, ("ACCOUNTS", "OWNERS", "TRANSACTIONS"),
    ),
    Institution(
        "ofcaixa_br_retail", 9108, "Caixa", "https://www.caixa.gov.br/", "#005CA9", Behaviour.SUCCEED,
        ("ACCOUNTS", "OWNERS", "TRANSACTIONS", "BILLS"),
    ),
    Institution(
        "ofinter_br_retail", 9109, "Inter", "https://inter.co/", "#FF7A00", Behaviour.SUCCEED,
    ),
)  # fmt: skip

INSTITUTIONS: dict[str, Institution] = {i.code: i for i in _ALL}


def filter_institutions(
    *,
    codes: Iterable[str] | None = None,
    types: Iterable[str] | None = None,
    resources: Iterable[str] | None = None,
    country_codes: Iterable[str] | None = None,
) -> list[Institution]:
    """The institutions the hosted widget lists for its startup parameters (docs/belvo.md §2).

    ``resources`` has AND semantics: an institution must support every one of them. Brazil (``BR``) is
    the only country the OFDA sandbox has, so any other ``country_codes`` leave the list empty.
    """
    wanted_codes = set(codes) if codes is not None else None
    wanted_types = set(types) if types is not None else None
    needed = set(resources or ())
    if country_codes is not None and "BR" not in set(country_codes):
        return []
    return [
        i
        for i in _ALL
        if (wanted_codes is None or i.code in wanted_codes)
        and (wanted_types is None or i.customer_type in wanted_types)
        and needed <= set(i.resources)
    ]
