"""CPF and CNPJ check digits (vectors from the threat model, section C3/C4)."""

from __future__ import annotations

import pytest

from emulator.documents import is_valid_cnpj, is_valid_cpf


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
def test_cpf(number: str, valid: bool) -> None:
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
def test_cnpj(number: str, valid: bool) -> None:
    assert is_valid_cnpj(number) is valid
