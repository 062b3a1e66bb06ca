"""A link's owners, accounts, transactions, credit-card bills and investments: Brazilian, in BRL, the same
every time for the same link.

Everything is drawn from ``random.Random(link.id)`` (string seeds are hashed with SHA-512, so the data
does not depend on ``PYTHONHASHSEED`` or on the process). Twelve months of history end on the link's
creation day, as Belvo pulls 12 months after an OFDA link is created (facts file 4.3).

Shapes follow Belvo's OFDA Brazil schemas (Accounts/Transactions "Open Finance Brazil" models, which add
``subtype``, ``agency``, ``check_digit``, ``overdraft``, ``credit_data.cards/limits``, ``counterparty``,
``operation_type``... to the Standard schema of OpenAPI 1.35); ``type``/``subtype``/``operation_type`` use
the Open Finance Brasil enumerations (e.g. ``CONTA_DEPOSITO_A_VISTA``/``INDIVIDUAL``, ``PIX``, ``BOLETO``).
Bills follow https://developers.belvo.com/docs/bills-ofda (closed card periods only); investments and their
transactions follow Belvo's early-preview pages https://developers.belvo.com/docs/investments-ofda and
https://developers.belvo.com/docs/investment-transactions. Bills and investments draw from sources of
their own (seeded with the link id and the resource), so adding them left the other resources unchanged.

>>> from emulator.state import ConsentGrant, Identification, Link
>>> from datetime import UTC
>>> when = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
>>> link = Link("0b6c6a37-7a40-4b8e-8d27-3d0f3c1f0a11", "ofmockbank_br_retail", "recurrent", "valid",
...     "u", None, "x" * 44, "7d", "store", "365d", ("ACCOUNTS",), when, when,
...     (Identification("CPF", "76109277673", "Ralph Bragg"),), ConsentGrant("c", when, None))
>>> data = generate(link)
>>> data.owners[0]["display_name"], [a["category"] for a in data.accounts]
('Ralph Bragg', ['CHECKING_ACCOUNT', 'SAVINGS_ACCOUNT', 'CREDIT_CARD'])
>>> len(data.bills), sorted({i["type"] for i in data.investments})
(12, ['FIXED_INCOME_BANKING', 'INVESTMENT_FUND', 'TREASURY_BOND'])
>>> generate(link) == data
True
"""

from __future__ import annotations

import random
import string
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from brdocs import cpf_with_check_digits
from emulator.institutions import INSTITUTIONS
from emulator.state import Identification, Link

Json = dict[str, Any]

_FIRST_NAMES = (
    "Ana",
    "Bruno",
    "Camila",
    "Diego",
    "Fernanda",
    "Gabriel",
    "Juliana",
    "Lucas",
    "Mariana",
    "Rafael",
    "Beatriz",
    "Thiago",
    "Larissa",
    "Felipe",
    "Patrícia",
    "Rodrigo",
    "Aline",
    "Gustavo",
    "Renata",
    "João",
)
_SURNAMES = (
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Lima",
    "Pereira",
    "Costa",
    "Rodrigues",
    "Almeida",
    "Nascimento",
    "Carvalho",
    "Gomes",
    "Ribeiro",
    "Martins",
    "Araújo",
    "Barbosa",
    "Rocha",
    "Moreira",
)
_STREETS = (
    ("Rua das Laranjeiras", "Laranjeiras", "Rio de Janeiro", "RJ", "22240"),
    ("Avenida Paulista", "Bela Vista", "São Paulo", "SP", "01311"),
    ("Rua da Consolação", "Consolação", "São Paulo", "SP", "01302"),
    ("Avenida Afonso Pena", "Centro", "Belo Horizonte", "MG", "30130"),
    ("Rua XV de Novembro", "Centro", "Curitiba", "PR", "80020"),
    ("Avenida Boa Viagem", "Boa Viagem", "Recife", "PE", "51011"),
)
_EMPLOYERS = (
    "TECNOLOGIA ALFA LTDA",
    "COMERCIAL BOA VISTA S.A.",
    "HOSPITAL SANTA CLARA",
    "LOGISTICA RAPIDA LTDA",
)
_UTILITIES = (
    ("ENEL DISTRIBUICAO SP", "Bills & Utilities", "Electricity & Energy", "CONVENIO_ARRECADACAO", (90, 320)),
    ("SABESP", "Bills & Utilities", "Water", "CONVENIO_ARRECADACAO", (45, 160)),
    ("VIVO FIBRA", "Bills & Utilities", "Telecommunications", "BOLETO", (99, 199)),
    ("CONDOMINIO EDIFICIO AURORA", "Home & Life", "Rent", "BOLETO", (450, 1400)),
)
_DEBIT_MERCHANTS = (
    ("PADARIA PAO DOURADO", "Food & Groceries", "Bakery & Coffee", (8, 45)),
    ("SUPERMERCADO PAO DE ACUCAR", "Food & Groceries", "Groceries", (60, 480)),
    ("DROGARIA SAO PAULO", "Personal Shopping", "Pharmacies", (15, 190)),
    ("POSTO IPIRANGA", "Transport & Travel", "Gas", (80, 320)),
    ("RESTAURANTE SABOR CASEIRO", "Food & Groceries", "Restaurants", (25, 140)),
)
# (description, website, category, subcategory, MCC, amount range)
_CARD_MERCHANTS = (
    ("IFOOD *PEDIDO", "https://www.ifood.com.br", "Food & Groceries", "Delivery", 5812, (25, 160)),
    ("UBER *TRIP", "https://www.uber.com/br", "Transport & Travel", "Taxis & Rideshares", 4121, (12, 85)),
    (
        "NETFLIX.COM",
        "https://www.netflix.com",
        "Online Platforms & Leisure",
        "Movie & Audio",
        4899,
        (39.9, 59.9),
    ),
    ("SPOTIFY", "https://www.spotify.com", "Online Platforms & Leisure", "Movie & Audio", 5815, (21.9, 34.9)),
    ("AMAZON MARKETPLACE", "https://www.amazon.com.br", "Personal Shopping", "E-commerce", 5942, (30, 450)),
    (
        "MERCADOLIVRE*LOJA",
        "https://www.mercadolivre.com.br",
        "Personal Shopping",
        "E-commerce",
        5311,
        (20, 600),
    ),
    ("DROGASIL", "https://www.drogasil.com.br", "Personal Shopping", "Pharmacies", 5912, (15, 220)),
    ("SHELL SELECT", "https://www.shell.com.br", "Transport & Travel", "Gas", 5541, (90, 300)),
    (
        "RENNER",
        "https://www.lojasrenner.com.br",
        "Personal Shopping",
        "Clothing & Accessories",
        5651,
        (60, 520),
    ),
    ("SMART FIT", "https://www.smartfit.com.br", "Personal Shopping", "Gyms & Fitness", 7997, (99.9, 149.9)),
)
_INSTALMENT_STORES = ("MAGAZINE LUIZA", "CASAS BAHIA", "FAST SHOP", "DECATHLON")
_MONTHS_PT = ("jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez")
_CLEARING_CODES = ("001", "033", "104", "237", "260", "341", "077", "336")
_CARD_NETWORKS = ("MASTERCARD", "VISA", "ELO")
_CARD_PRODUCTS = ("GOLD", "PLATINUM", "BLACK")


@dataclass(frozen=True)
class LinkData:
    owners: tuple[Json, ...]
    accounts: tuple[Json, ...]
    transactions: tuple[Json, ...]
    bills: tuple[Json, ...]
    investments: tuple[Json, ...]
    investment_transactions: tuple[Json, ...]


def iso(moment: datetime) -> str:
    """Belvo's timestamp format: ISO-8601 in UTC with milliseconds and ``Z``.

    >>> from datetime import UTC
    >>> iso(datetime(2026, 11, 20, 12, 0, 5, 123456, tzinfo=UTC))
    '2026-11-20T12:00:05.123Z'
    """
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _Draw:
    """The link's random source, with the few kinds of draw the generators need."""

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible fake data, not security

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(n))

    def alnum(self, n: int) -> str:
        return "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(n))

    def amount(self, low: float, high: float) -> float:
        return round(self.rng.uniform(low, high), 2)

    def person(self) -> tuple[str, str]:
        name = f"{self.rng.choice(_FIRST_NAMES)} {self.rng.choice(_SURNAMES)} {self.rng.choice(_SURNAMES)}"
        base = self.digits(9)
        while len(set(base)) == 1:  # all-equal CPFs are invalid
            base = self.digits(9)
        return name, cpf_with_check_digits(base)

    def moment(self, day: date) -> datetime:
        seconds = self.rng.randrange(7 * 3600, 23 * 3600)
        return datetime.combine(day, time(), tzinfo=UTC) + timedelta(seconds=seconds)


def generate(link: Link) -> LinkData:
    """The data Belvo would hold for ``link`` after its historical update."""
    draw = _Draw(link.id)
    business = INSTITUTIONS[link.institution].customer_type == "business"
    person = _holder(link, "CPF") or _generated_person(draw)
    company = _holder(link, "CNPJ")
    created = iso(link.created_at)
    owner = _owner(draw, link, company if business and company else person, created)
    accounts = (
        [_checking(draw, link, created, business)]
        + ([] if business else [_savings(draw, link, created)])
        + [_credit_card(draw, link, created, business)]
    )
    transactions: list[Json] = []
    for account in accounts:
        builder = _Transactions(draw, account, link.created_at)
        match account["category"]:
            case "CHECKING_ACCOUNT":
                builder.checking(business)
            case "SAVINGS_ACCOUNT":
                builder.savings()
            case _:
                builder.credit_card()
        transactions += builder.items
    transactions.sort(key=lambda t: (t["transacted_at"], t["id"]), reverse=True)
    card = next(a for a in accounts if a["category"] == "CREDIT_CARD")
    bills = _bills(_Draw(f"{link.id}:BILLS"), card, transactions, link.created_at)
    investments = _investments(_Draw(f"{link.id}:INVESTMENTS"), link, business)
    movements = _investment_transactions(
        _Draw(f"{link.id}:INVESTMENT_TRANSACTIONS"), investments, link.created_at
    )
    return LinkData(
        (owner,), tuple(accounts), tuple(transactions), tuple(bills), tuple(investments), tuple(movements)
    )


def _generated_person(draw: _Draw) -> Identification:
    name, cpf = draw.person()
    return Identification("CPF", cpf, name)


def _holder(link: Link, kind: str) -> Identification | None:
    return next((i for i in link.holder if i.type == kind), None)


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return ".".join(ascii_name.lower().split()[:2])


def _owner(draw: _Draw, link: Link, holder: Identification, created: str) -> Json:
    street, district, city, uf, cep = draw.rng.choice(_STREETS)
    number = draw.rng.randrange(10, 2000)
    company = holder.type == "CNPJ"
    parts = holder.name.split()
    return {
        "id": draw.uuid(),
        "link": link.id,
        "internal_identification": draw.alnum(16),
        "collected_at": created,
        "created_at": created,
        "display_name": holder.name,
        "first_name": None if company else parts[0],
        "last_name": None if company else " ".join(parts[1:]) or None,
        "second_last_name": None,
        "email": "contato@empresa.exemplo.com.br" if company else f"{_slug(holder.name)}@exemplo.com.br",
        "phone_number": f"+55 {cep[:2]} 9{draw.digits(4)}-{draw.digits(4)}",
        "address": f"{street}, {number} - {district}, {city} - {uf}, {cep}-{draw.digits(3)}",
        "document_id": {"document_type": holder.type, "document_number": holder.number},
    }


def _account_base(draw: _Draw, link: Link, created: str) -> Json:
    return {
        "id": draw.uuid(),
        "link": link.id,
        "institution": {"name": link.institution, "type": "bank"},
        "collected_at": created,
        "created_at": created,
        "last_accessed_at": created,
        "currency": "BRL",
        "internal_identification": draw.digits(40),
        "credit_data": None,
        "loan_data": None,
        "funds_data": None,
        "receivables_data": None,
        "bank_product_id": None,
    }


def _deposit_account(
    draw: _Draw, link: Link, created: str, category: str, kind: str, name: str, low: float, high: float
) -> Json:
    agency, number, digit = draw.digits(4), draw.digits(8), draw.digits(1)
    current = draw.amount(low, high)
    blocked = draw.amount(0, 150) if draw.rng.random() < 0.3 else 0.0
    return {
        **_account_base(draw, link, created),
        "category": category,
        "balance_type": "ASSET",
        "type": kind,
        "subtype": "INDIVIDUAL",
        "name": name,
        "number": number,
        "agency": agency,
        "check_digit": digit,
        "public_identification_name": "AGENCY/NUMBER",
        "public_identification_value": f"{agency}/{number}",
        "balance": {
            "current": current,
            "available": round(current - blocked, 2),
            "blocked": blocked,
            "automatically_invested": draw.amount(0, 2000) if category == "CHECKING_ACCOUNT" else 0.0,
        },
    }


def _checking(draw: _Draw, link: Link, created: str, business: bool) -> Json:
    low, high = (15000.0, 180000.0) if business else (800.0, 25000.0)
    account = _deposit_account(
        draw,
        link,
        created,
        "CHECKING_ACCOUNT",
        "CONTA_DEPOSITO_A_VISTA",
        "Conta Corrente PJ" if business else "Conta Corrente",
        low,
        high,
    )
    arranged = float(draw.rng.choice((0, 500, 1000, 2500, 5000)) * (4 if business else 1))
    account["overdraft"] = {"arranged": arranged, "used": 0.0, "unarranged": 0.0}
    return account


def _savings(draw: _Draw, link: Link, created: str) -> Json:
    account = _deposit_account(
        draw, link, created, "SAVINGS_ACCOUNT", "CONTA_POUPANCA", "Poupança", 500.0, 60000.0
    )
    account["overdraft"] = None
    return account


def _credit_card(draw: _Draw, link: Link, created: str, business: bool) -> Json:
    # Credit-card accounts carry the card's Open Finance product type as ``subtype`` and their card
    # numbers (last four digits) as the public identification (Belvo OFDA Accounts model).
    network = draw.rng.choice(_CARD_NETWORKS)
    product = "EMPRESARIAL" if business else draw.rng.choice(_CARD_PRODUCTS)
    last4 = draw.digits(4)
    limit = float(draw.rng.choice((2000, 5000, 8000, 12000, 20000)) * (3 if business else 1))
    used = draw.amount(limit * 0.05, limit * 0.6)
    display = INSTITUTIONS[link.institution].display_name
    closing = link.created_at.date().replace(day=1) + timedelta(days=27)
    return {
        **_account_base(draw, link, created),
        "category": "CREDIT_CARD",
        "balance_type": "LIABILITY",
        "type": "CARTAO_CREDITO",
        "subtype": product,
        "name": f"{display} {product.title()} {network.title()}",
        "number": None,
        "agency": None,
        "check_digit": None,
        "public_identification_name": "CREDIT_CARD_NUMBER",
        "public_identification_value": last4,
        "balance": {
            "current": used,
            "available": round(limit - used, 2),
            "blocked": None,
            "automatically_invested": None,
        },
        "overdraft": None,
        "credit_data": {
            "collected_at": created,
            "credit_limit": limit,
            "limits": [
                {
                    "identification_number": last4,
                    "credit_limit": limit,
                    "used_amount": used,
                    "available_amount": round(limit - used, 2),
                    "is_limit_flexible": False,
                    "type": "TOTAL_LIMIT",
                    "consolidation_type": "CONSOLIDADO",
                    "line_name": "CREDITO_A_VISTA",
                    "line_name_additional_info": None,
                }
            ],
            "cutting_date": closing.isoformat(),
            "minimum_payment": round(used * 0.15, 2),
            "network": network,
            "network_additional_info": None,
            "cards": [{"is_multiple": False, "identification_number": last4}],
            "next_payment_date": None,
            "no_interest_payment": None,
            "interest_rate": None,
            "monthly_payment": None,
            "last_payment_date": None,
        },
    }


class _Transactions:
    """Builds one account's 12 months of transactions."""

    def __init__(self, draw: _Draw, account: Json, fetched_at: datetime) -> None:
        self.draw = draw
        self.account = account
        self.fetched_at = fetched_at
        self.created = iso(fetched_at)
        self.end = fetched_at.date()
        self.start = self.end - timedelta(days=365)  # Belvo's 12 months of history
        self.items: list[Json] = []

    def add(
        self,
        day: date,
        amount: float,
        inflow: bool,
        description: str,
        operation: str,
        category: str | None,
        subcategory: str | None,
        *,
        merchant: Json | None = None,
        credit_card_data: Json | None = None,
        counterparty: Json | None = None,
        payment_type: str | None = None,
        mcc: int | None = None,
    ) -> None:
        if not self.start <= day <= self.end:
            return
        # Nothing can have happened after the historical update that collected it.
        moment = min(self.draw.moment(day), self.fetched_at - timedelta(minutes=1))
        card = self.account["category"] == "CREDIT_CARD"
        self.items.append(
            {
                "id": self.draw.uuid(),
                "internal_identification": self.draw.alnum(24),
                "account": self.account,
                "collected_at": self.created,
                "created_at": self.created,
                "value_date": day.isoformat(),
                "transacted_at": iso(moment),
                "accounting_date": iso(moment),  # date-time in Belvo's Transaction schema
                "amount": amount,
                "local_currency_amount": amount if card else None,
                "balance": None,
                "currency": "BRL",
                "description": description,
                "observations": None,
                "merchant": merchant,
                "category": category,
                "subcategory": subcategory,
                "reference": None,
                "type": "INFLOW" if inflow else "OUTFLOW",
                "status": "PENDING" if (self.end - day).days < 2 else "PROCESSED",
                "credit_card_data": credit_card_data,
                "counterparty": counterparty,
                "loan_data": None,
                "payment_type": payment_type,
                "operation_type": operation,
                "operation_type_additional_info": None,
                "mcc": mcc,
            }
        )

    def _counterparty(self, company: bool) -> Json:
        document = self.draw.digits(14) if company else self.draw.person()[1]
        return {
            "type": "COMPANY" if company else "INDIVIDUAL",
            "document_number": document,
            "clearing_code": self.draw.rng.choice(_CLEARING_CODES),
            "agency": self.draw.digits(4),
            "check_digit": self.draw.digits(1),
            "number": self.draw.digits(8),
        }

    def _months(self) -> list[date]:
        first = self.start.replace(day=1)
        months = []
        while first <= self.end:
            months.append(first)
            first = (first + timedelta(days=32)).replace(day=1)
        return months

    def _days(self, month: date, count: int) -> list[date]:
        return sorted(month + timedelta(days=self.draw.rng.randrange(28)) for _ in range(count))

    def checking(self, business: bool) -> None:
        rng = self.draw.rng
        income = self.draw.amount(25000, 90000) if business else self.draw.amount(3200, 14000)
        employer = rng.choice(_EMPLOYERS)
        for month in self._months():
            if business:
                for day in self._days(month, rng.randrange(8, 16)):
                    name = self.draw.person()[0].upper()
                    self.add(
                        day,
                        self.draw.amount(300, 9000),
                        True,
                        f"PIX RECEBIDO - {name}",
                        "PIX",
                        "Income & Payments",
                        "Freelance",
                        counterparty=self._counterparty(False),
                    )
                self.add(
                    month + timedelta(days=4),
                    round(income * 0.45, 2),
                    False,
                    "FOLHA DE PAGAMENTO",
                    "FOLHA_PAGAMENTO",
                    "Income & Payments",
                    "Salary",
                )
                self.add(
                    month + timedelta(days=19),
                    round(income * 0.06, 2),
                    False,
                    "DAS - SIMPLES NACIONAL",
                    "CONVENIO_ARRECADACAO",
                    "Taxes",
                    "Government Fees",
                )
            else:
                self.add(
                    month + timedelta(days=4),
                    income,
                    True,
                    f"SALARIO - {employer}",
                    "FOLHA_PAGAMENTO",
                    "Income & Payments",
                    "Salary",
                    counterparty=self._counterparty(True),
                )
                self.add(
                    month + timedelta(days=6),
                    round(income * 0.1, 2),
                    False,
                    "APLICACAO POUPANCA",
                    "TRANSFERENCIA_MESMA_INSTITUICAO",
                    "Investments & Savings",
                    "Savings",
                )
            for payee, category, sub, operation, (low, high) in _UTILITIES:
                self.add(
                    month + timedelta(days=rng.randrange(8, 15)),
                    self.draw.amount(low, high),
                    False,
                    f"PAGTO {'BOLETO' if operation == 'BOLETO' else 'CONTA'} - {payee}",
                    operation,
                    category,
                    sub,
                )
            self.add(
                month + timedelta(days=9),
                self.draw.amount(900, 4500),
                False,
                "PAGTO FATURA CARTAO CREDITO",
                "OUTROS",
                "Credits & Loans",
                "Credit Card",
            )
            self.add(
                month + timedelta(days=1),
                39.9 if not business else 89.9,
                False,
                "TARIFA PACOTE DE SERVICOS",
                "PACOTE_TARIFA_SERVICOS",
                "Fees & Charges",
                "Bank Fees",
            )
            for day in self._days(month, rng.randrange(3, 9)):
                inflow = rng.random() < 0.4
                name = self.draw.person()[0].upper()
                self.add(
                    day,
                    self.draw.amount(15, 900),
                    inflow,
                    f"PIX {'RECEBIDO' if inflow else 'ENVIADO'} - {name}",
                    "PIX",
                    "Transfers",
                    None,
                    counterparty=self._counterparty(False),
                )
            for day in self._days(month, rng.randrange(4, 10)):
                merchant, category, sub, (low, high) = rng.choice(_DEBIT_MERCHANTS)
                self.add(
                    day,
                    self.draw.amount(low, high),
                    False,
                    f"COMPRA CARTAO DEB - {merchant}",
                    "CARTAO",
                    category,
                    sub,
                )
            if rng.random() < 0.3:
                self.add(
                    self._days(month, 1)[0],
                    float(rng.choice((50, 100, 200, 300))),
                    False,
                    "SAQUE BANCO 24 HORAS",
                    "SAQUE",
                    "Withdrawal & ATM",
                    None,
                )

    def savings(self) -> None:
        for month in self._months():
            self.add(
                month + timedelta(days=6),
                self.draw.amount(300, 1500),
                True,
                "APLICACAO POUPANCA",
                "TRANSFERENCIA_MESMA_INSTITUICAO",
                "Investments & Savings",
                "Savings",
            )
            self.add(
                month,
                self.draw.amount(8, 120),
                True,
                "RENDIMENTO POUPANCA",
                "RENDIMENTO_APLIC_FINANCEIRA",
                "Investments & Savings",
                "Interest",
            )

    def credit_card(self) -> None:
        """Add the card's transactions, each naming the monthly bill it belongs to once that closed."""
        rng = self.draw.rng
        last4 = self.account["public_identification_value"]
        months = self._months()
        for month in months:
            closed = month.year * 12 + month.month < self.end.year * 12 + self.end.month
            due = (month + timedelta(days=40)).replace(day=10)
            bill: Json = {
                "bill_name": f"{_MONTHS_PT[month.month - 1]}-{month.year}" if closed else None,
                "bill_due_date": due.isoformat() if closed else None,
                "bill_internal_identification": self.draw.alnum(12) if closed else None,
            }

            def card_data(fee: str | None = None, instalments: int | None = None, bill: Json = bill) -> Json:
                return {
                    "collected_at": self.created,
                    **bill,
                    "bill_status": None,
                    "previous_bill_total": None,
                    "bill_amount": None,
                    "card_number": last4,
                    "fee_type": fee,
                    "fee_type_additional_info": None,
                    "credits_type": None,
                    "credits_type_additional_info": None,
                    "installment_identifier": self.draw.alnum(10) if instalments else None,
                    "number_of_installments": instalments,
                }

            for day in self._days(month, rng.randrange(8, 20)):
                name, site, category, sub, mcc, (low, high) = rng.choice(_CARD_MERCHANTS)
                self.add(
                    day,
                    self.draw.amount(low, high),
                    False,
                    name,
                    "OUTROS",
                    category,
                    sub,
                    merchant={"logo": None, "website": site, "merchant_name": name},
                    credit_card_data=card_data(),
                    payment_type="FULL",
                    mcc=mcc,
                )
            if rng.random() < 0.35:
                store = rng.choice(_INSTALMENT_STORES)
                count = rng.choice((3, 6, 10, 12))
                self.add(
                    self._days(month, 1)[0],
                    self.draw.amount(60, 400),
                    False,
                    f"{store} PARC {rng.randrange(1, count + 1):02d}/{count:02d}",
                    "OUTROS",
                    "Personal Shopping",
                    "Electronics",
                    credit_card_data=card_data(instalments=count),
                    payment_type="INSTALLMENT",
                    mcc=5732,
                )
            self.add(
                month + timedelta(days=9),
                self.draw.amount(900, 4500),
                True,
                "PAGAMENTO RECEBIDO",
                "PAGAMENTO",
                "Credits & Loans",
                "Credit Card",
                credit_card_data=card_data(),
            )
            if month.month == 1:
                self.add(
                    month + timedelta(days=14),
                    480.0,
                    False,
                    "ANUIDADE",
                    "TARIFA",
                    "Fees & Charges",
                    "Bank Fees",
                    credit_card_data=card_data(fee="ANNUAL_FEE"),
                )


def _bills(draw: _Draw, card: Json, transactions: list[Json], fetched_at: datetime) -> list[Json]:
    """One bill per closed period of the card: its purchases' total, the minimum due, and how it was paid
    (paid in full by direct debit, except now and then a late payment with its interest charge)."""
    created = iso(fetched_at)
    periods: dict[str, list[Json]] = {}
    for item in transactions:
        data = item["credit_card_data"]
        if item["account"]["id"] == card["id"] and data and data["bill_name"]:
            periods.setdefault(data["bill_name"], []).append(item)
    bills = []
    for name, items in sorted(periods.items(), key=lambda kv: kv[1][0]["credit_card_data"]["bill_due_date"]):
        due = date.fromisoformat(items[0]["credit_card_data"]["bill_due_date"])
        spent = round(sum(t["amount"] for t in items if t["type"] == "OUTFLOW"), 2)
        late = draw.rng.random() < 0.15 and due + timedelta(days=5) < fetched_at.date()
        charges = (
            [
                {
                    "type": "LATE_PAYMENT_INTEREST",
                    "additional_info": "Pagamento em atraso, juros aplicados.",
                    "currency": "BRL",
                    "amount": round(spent * 0.02, 2),
                }
            ]
            if late
            else []
        )
        total = round(spent + sum(c["amount"] for c in charges), 2)
        paid_on = due + timedelta(days=5 if late else -draw.rng.randrange(0, 4))
        payments = (
            [
                {
                    "type": "FULL",
                    "payment_date": paid_on.isoformat(),
                    "payment_mode": "DIRECT_DEBIT",
                    "currency": "BRL",
                    "amount": total,
                }
            ]
            if paid_on < fetched_at.date()
            else []
        )
        bills.append(
            {
                "id": draw.uuid(),
                "created_at": created,
                "collected_at": created,
                "account": card,
                "internal_identification": draw.digits(40),
                "bill_name": name,
                "due_date": due.isoformat(),
                "currency": "BRL",
                "total_amount": total,
                "minimum_amount": round(total * 0.15, 2),
                "is_installment": any(t["credit_card_data"]["number_of_installments"] for t in items),
                "finance_charges": charges,
                "payments": payments,
            }
        )
    bills.reverse()  # newest first, as the other resources
    return bills


# (type, subtype, product name, issuer CNPJ, ISIN prefix, annual rate, amount range)
_INVESTMENT_PRODUCTS = (
    ("FIXED_INCOME_BANKING", "CDB", "CDB Pós 110% CDI", "60746948000112", "BRCDB", 0.12, (1000, 30000)),
    ("FIXED_INCOME_BANKING", "LCI", "LCI 95% CDI", "60701190000104", "BRLCI", 0.10, (5000, 50000)),
    ("TREASURY_BOND", "TESOURO_SELIC", "Tesouro Selic 2029", None, "BRSTNCLF1RU6", 0.11, (500, 20000)),
    ("INVESTMENT_FUND", "FUNDO_RENDA_FIXA", "Fundo Renda Fixa Referenciado DI", "09215250000113",
     "BRFRF", 0.10, (1000, 40000)),
)  # fmt: skip


def _investments(draw: _Draw, link: Link, business: bool) -> list[Json]:
    """The user's investments: a CDB, a treasury bond and a fund (an LCI too, for people)."""
    created = iso(link.created_at)
    chosen = [p for p in _INVESTMENT_PRODUCTS if not (business and p[1] == "LCI")]
    items = []
    for kind, subtype, product, issuer, isin, rate, (low, high) in chosen:
        invested = draw.amount(low, high) * (3 if business else 1)
        gross = round(invested * (1 + rate * draw.rng.uniform(0.2, 1.0)), 2)
        quantity = float(draw.rng.randrange(1, 200))
        items.append(
            {
                "id": draw.uuid(),
                "link": link.id,
                "internal_identification": draw.alnum(24),
                "collected_at": created,
                "created_at": created,
                "type": kind,
                "subtype": subtype,
                "product_name": product,
                "issuer_id_number": issuer,
                "isin_number": isin if len(isin) == 12 else f"{isin}{draw.alnum(7).upper()}",
                "currency": "BRL",
                "quantity": quantity,
                "unit_price": round(gross / quantity, 6),
                "balance": {
                    "gross": gross,
                    "net": round(gross - (gross - invested) * 0.15, 2),  # 15% income tax on the gain
                    "blocked": 0.0,
                    "invested": round(invested, 2),
                },
                "remuneration": {"indexer": "CDI" if kind != "TREASURY_BOND" else "SELIC", "rate": rate},
            }
        )
    return items


def _investment_transactions(draw: _Draw, investments: list[Json], fetched_at: datetime) -> list[Json]:
    """Each investment's purchases and redemptions over the last 12 months."""
    created = iso(fetched_at)
    end = fetched_at.date()
    items = []
    for investment in investments:
        for _ in range(draw.rng.randrange(3, 7)):
            day = end - timedelta(days=draw.rng.randrange(1, 365))
            inflow = draw.rng.random() < 0.7  # money going into the investment
            quantity = float(draw.rng.randrange(1, 20))
            gross = round(quantity * investment["unit_price"], 2)
            tax = 0.0 if inflow else round(gross * 0.01, 2)
            items.append(
                {
                    "id": draw.uuid(),
                    "investment_id": investment["id"],
                    "internal_identification": draw.alnum(24),
                    "collected_at": created,
                    "created_at": created,
                    "value_date": day.isoformat(),
                    "type": "ENTRADA" if inflow else "SAIDA",
                    "subtype": "APLICACAO" if inflow else "RESGATE",
                    "currency": "BRL",
                    "quantity": quantity,
                    "unit_price": investment["unit_price"],
                    "gross_value": gross,
                    "income_tax": tax,
                    "financial_transaction_tax": 0.0,
                    "net_value": round(gross - tax, 2),
                }
            )
    items.sort(key=lambda t: (t["value_date"], t["id"]), reverse=True)
    return items
