"""CPF, CNPJ and name checks (docs/security.md C3-C5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brdocs import (
    DocumentError,
    is_valid_cnpj,
    is_valid_cpf,
    normalise_cnpj,
    normalise_cpf,
    normalise_name,
)


def fullwidth(digits: str) -> str:
    return "".join(chr(0xFF10 + int(d)) for d in digits)


def arabic_indic(digits: str) -> str:
    return "".join(chr(0x0660 + int(d)) for d in digits)


def cpf_with_check_digits(base: str) -> str:
    """Independent reference: the textbook CPF algorithm (weights 10..2, then 11..2)."""
    digits = [int(c) for c in base]
    for weights in (range(10, 1, -1), range(11, 1, -1)):
        remainder = sum(d * w for d, w in zip(digits, weights, strict=False)) % 11
        digits.append(0 if remainder < 2 else 11 - remainder)
    return "".join(map(str, digits))


def cnpj_with_check_digits(base: str) -> str:
    """Independent reference: IN RFB 2.229/2024 (value = ASCII code - 48, weights 5..2,9..2 / 6..2,9..2)."""
    chars = list(base)
    for weights in ([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]):
        remainder = sum((ord(c) - 48) * w for c, w in zip(chars, weights, strict=True)) % 11
        chars.append(str(0 if remainder < 2 else 11 - remainder))
    return "".join(chars)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("76109277673", "76109277673"), ("761.092.776-73", "76109277673"), ("123.456.789-09", "12345678909")],
)
def test_valid_cpfs_are_normalised(raw: str, expected: str) -> None:
    assert normalise_cpf(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("76109277674", "check digits do not match"),
        ("11111111111", "repeated digit"),
        (fullwidth("12345678909"), "11 digits"),  # \d and int() would take these
        (arabic_indic("12345678909"), "11 digits"),
        ("123456789O9", "11 digits"),  # letter O
        ("761.092.77673", "11 digits"),  # half a mask
        ("7610927767", "11 digits"),
        (" 76109277673", "11 digits"),
        ("76109277673\n", "11 digits"),
    ],
)
def test_invalid_cpfs_are_refused(raw: str, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        normalise_cpf(raw)


@given(st.text("0123456789", min_size=9, max_size=9).filter(lambda s: len(set(s)) > 1))
def test_every_cpf_with_its_check_digits_is_accepted_masked_or_not(base: str) -> None:
    cpf = cpf_with_check_digits(base)
    masked = f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"
    assert normalise_cpf(cpf) == normalise_cpf(masked) == cpf


@given(st.text("0123456789", min_size=9, max_size=9), st.integers(9, 10), st.integers(1, 9))
def test_a_wrong_check_digit_is_always_caught(base: str, position: int, shift: int) -> None:
    cpf = cpf_with_check_digits(base)
    wrong = cpf[:position] + str((int(cpf[position]) + shift) % 10) + cpf[position + 1 :]
    with pytest.raises(DocumentError):
        normalise_cpf(wrong)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11222333000181", "11222333000181"),
        ("11.222.333/0001-81", "11222333000181"),
        ("12ABC34501DE35", "12ABC34501DE35"),  # the 2026 alphanumeric form
        ("12.ABC.345/01DE-35", "12ABC34501DE35"),
        ("12abc34501de35", "12ABC34501DE35"),  # lowercase is upper-cased: only capitals are issued
    ],
)
def test_valid_cnpjs_are_normalised(raw: str, expected: str) -> None:
    assert normalise_cnpj(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("11222333000182", "check digits do not match"),
        ("00000000000000", "repeated"),
        ("12ABC34501DE3A", "12 letters or digits and 2 check digits"),  # check digits stay numeric
        (fullwidth("11222333000181"), "12 letters or digits"),
        ("11.222.333/000181", "12 letters or digits"),
        ("1122233300018", "12 letters or digits"),
    ],
)
def test_invalid_cnpjs_are_refused(raw: str, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        normalise_cnpj(raw)


@given(
    st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=12, max_size=12).filter(
        lambda s: len(set(s)) > 1
    )
)
def test_every_cnpj_with_its_check_digits_is_accepted(base: str) -> None:
    cnpj = cnpj_with_check_digits(base)
    masked = f"{cnpj[:2]}.{cnpj[2:5]}.{cnpj[5:8]}/{cnpj[8:12]}-{cnpj[12:]}"
    assert normalise_cnpj(cnpj) == normalise_cnpj(masked) == cnpj


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Ralph Bragg", "Ralph Bragg"), ("  Jose\u0301 da Silva ", "José da Silva"), ("Zoë", "Zoë")],
)
def test_names_are_nfc_and_trimmed(raw: str, expected: str) -> None:
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "x" * 121,
        "Ralph\u202eggarB",
        "Ralph\u2066Bragg",
        "Ralph\x00Bragg",
        "Ralph\nBragg",
        "Ral\u200bph",
    ],
)
def test_bad_names_are_refused(raw: str) -> None:
    with pytest.raises(DocumentError):
        normalise_name(raw)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("76109277673", True),
        ("12345678909", True),
        ("11111111111", False),
        ("76109277674", False),
        ("１２３４５６７８９０９", False),  # fullwidth digits  # noqa: RUF001
        ("123.456.789-09", False),  # masks are the caller's to strip
        ("123456789O9", False),
        ("7610927767", False),
    ],
)
def test_is_valid_cpf_takes_bare_numbers_only(number: str, valid: bool) -> None:
    assert is_valid_cpf(number) is valid


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("11222333000181", True),
        ("12ABC34501DE35", True),  # alphanumeric CNPJ (IN RFB 2.229/2024)
        ("11222333000182", False),
        ("00000000000000", False),
        ("12abc34501de35", False),
        ("50685362006773", False),  # Belvo's documentation example: wrong check digits
    ],
)
def test_is_valid_cnpj_takes_bare_numbers_only(number: str, valid: bool) -> None:
    assert is_valid_cnpj(number) is valid
