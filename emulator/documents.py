"""Brazilian taxpayer documents (CPF, CNPJ): check digits and masking.

Belvo checks ``identification_info`` against the bank's records, so a document with wrong check digits can
never produce a link; the emulator refuses it at ``/api/token/`` where the real sandbox would fail later.
Only ASCII digits count: ``str.isdigit`` and ``int()`` also accept fullwidth and Arabic-Indic digits.

>>> is_valid_cpf("76109277673"), is_valid_cpf("76109277674"), is_valid_cpf("11111111111")
(True, False, False)
>>> is_valid_cnpj("11222333000181"), is_valid_cnpj("12ABC34501DE35"), is_valid_cnpj("11222333000182")
(True, True, False)
>>> mask_document("76109277673")
'***.092.776-**'
"""

from __future__ import annotations

import re

_CPF = re.compile(r"[0-9]{11}", re.ASCII)
# From July 2026 new CNPJs are alphanumeric in their first 12 positions; the two check digits stay
# numeric (IN RFB 2.229/2024). Each character counts as its ASCII code minus 48, so digits keep their value.
_CNPJ = re.compile(r"[0-9A-Z]{12}[0-9]{2}", re.ASCII)
_CNPJ_WEIGHTS = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CPF_WEIGHTS = (11, 10, 9, 8, 7, 6, 5, 4, 3, 2)


def _mod11_digit(values: list[int], weights: tuple[int, ...]) -> int:
    remainder = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return 0 if remainder < 2 else 11 - remainder


def is_valid_cpf(number: str) -> bool:
    """Whether ``number`` is 11 ASCII digits, not all equal, with both mod-11 check digits right."""
    if not _CPF.fullmatch(number) or len(set(number)) == 1:
        return False
    return cpf_with_check_digits(number[:9]) == number


def is_valid_cnpj(number: str) -> bool:
    """Whether ``number`` is a 14-character CNPJ (numeric or alphanumeric) with right check digits."""
    if not _CNPJ.fullmatch(number) or len(set(number)) == 1:
        return False
    values = [ord(c) - 48 for c in number]
    first = _mod11_digit(values[:12], _CNPJ_WEIGHTS[1:])
    second = _mod11_digit(values[:13], _CNPJ_WEIGHTS)
    return values[12] == first and values[13] == second


def cpf_with_check_digits(base: str) -> str:
    """The CPF whose first nine digits are ``base``, used to generate valid sandbox documents.

    >>> cpf_with_check_digits("761092776")
    '76109277673'
    """
    digits = [int(c) for c in base]
    digits.append(_mod11_digit(digits, _CPF_WEIGHTS[1:]))
    digits.append(_mod11_digit(digits, _CPF_WEIGHTS))
    return "".join(map(str, digits))


def mask_document(number: str) -> str:
    """A CPF or CNPJ with only its middle digits visible, for screens that confirm who is consenting.

    >>> mask_document("11222333000181")
    '**.222.333/0001-**'
    """
    if len(number) == 11:
        return f"***.{number[3:6]}.{number[6:9]}-**"
    return f"**.{number[2:5]}.{number[5:8]}/{number[8:12]}-**"
