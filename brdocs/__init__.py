"""Brazilian documents Belvo's consent needs: CPF (people) and CNPJ (companies), and the holder's name.

Standard library only: the backend (``server``) validates what apps send, and the emulator checks what
reaches its token endpoint, with the same rules.

Rules (docs/security.md C3-C5):

- Input is either the bare characters or the canonical mask (``NNN.NNN.NNN-NN``,
  ``NN.NNN.NNN/NNNN-NN``); the normalised form sent to Belvo is the bare one, as in Belvo's examples
  (docs/belvo.md §1.3).
- Only ASCII: ``str.isdigit``, ``\\d`` and ``int()`` also accept fullwidth or Arabic-Indic digits, so the
  patterns spell out ``[0-9]``.
- Numbers made of one repeated digit pass the check-digit arithmetic but are never issued: rejected.
- A CNPJ may be alphanumeric in its first 12 positions (new CNPJs from July 2026, IN RFB 2.229/2024); each
  character counts as its ASCII code minus 48, so digits keep their value and ``A`` is 17. Lowercase
  letters are upper-cased (the registry only issues capitals, so nothing else could be meant).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

CPF_LENGTH = 11
CNPJ_LENGTH = 14
NAME_MAX_LENGTH = 120

_CPF = re.compile(r"[0-9]{11}|[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}")
_CNPJ = re.compile(r"[0-9A-Z]{12}[0-9]{2}|[0-9A-Z]{2}\.[0-9A-Z]{3}\.[0-9A-Z]{3}/[0-9A-Z]{4}-[0-9]{2}")
_MASK = str.maketrans("", "", "./-")

# Unicode categories a name may not contain: controls (Cc), format characters (Cf: the bidirectional
# overrides that make text display differently from what it is, zero-width characters), surrogates,
# private use and unassigned code points, and line or paragraph separators.
_FORBIDDEN_IN_NAMES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class DocumentError(ValueError):
    """The document or name is not acceptable; the message says what was expected."""


def _check_digit(values: Sequence[int]) -> int:
    """CNPJ mod-11 check digit: weights 2..9 from the right, cycling."""
    total = sum(value * (2 + i % 8) for i, value in enumerate(reversed(values)))
    remainder = total % 11
    return 0 if remainder < 2 else 11 - remainder


def _cpf_check_digit(values: Sequence[int]) -> int:
    """CPF weights run 2..10 and 2..11 from the right: no cycling."""
    total = sum(value * (2 + i) for i, value in enumerate(reversed(values)))
    remainder = total % 11
    return 0 if remainder < 2 else 11 - remainder


def normalise_cpf(raw: str) -> str:
    """The 11 digits of a valid CPF.

    >>> normalise_cpf("761.092.776-73")
    '76109277673'
    >>> normalise_cpf("76109277674")
    Traceback (most recent call last):
    ...
    brdocs.DocumentError: CPF check digits do not match
    """
    if not _CPF.fullmatch(raw):
        raise DocumentError("Expected a CPF of 11 digits, optionally formatted as NNN.NNN.NNN-NN")
    digits = raw.translate(_MASK)
    if len(set(digits)) == 1:
        raise DocumentError("A CPF of one repeated digit is not valid")
    values = [int(ch) for ch in digits]
    first = _cpf_check_digit(values[:9])
    second = _cpf_check_digit([*values[:9], first])
    if values[9:] != [first, second]:
        raise DocumentError("CPF check digits do not match")
    return digits


def normalise_cnpj(raw: str) -> str:
    """The 14 characters of a valid CNPJ, numeric or alphanumeric.

    >>> normalise_cnpj("11.222.333/0001-81"), normalise_cnpj("12abc34501de35")
    ('11222333000181', '12ABC34501DE35')
    >>> normalise_cnpj("11222333000182")
    Traceback (most recent call last):
    ...
    brdocs.DocumentError: CNPJ check digits do not match
    """
    upper = raw.upper() if raw.isascii() else raw
    if not _CNPJ.fullmatch(upper):
        raise DocumentError(
            "Expected a CNPJ of 12 letters or digits and 2 check digits, "
            "optionally formatted as NN.NNN.NNN/NNNN-NN"
        )
    chars = upper.translate(_MASK)
    if len(set(chars)) == 1:
        raise DocumentError("A CNPJ of one repeated character is not valid")
    values = [ord(ch) - 48 for ch in chars]
    first = _check_digit(values[:12])
    second = _check_digit([*values[:12], first])
    if values[12:] != [first, second]:
        raise DocumentError("CNPJ check digits do not match")
    return chars


def normalise_document(kind: str, raw: str) -> str:
    """Dispatch on the identification type Belvo uses (``CPF`` or ``CNPJ``)."""
    match kind:
        case "CPF":
            return normalise_cpf(raw)
        case "CNPJ":
            return normalise_cnpj(raw)
        case _:
            raise DocumentError(f"Expected a document type of CPF or CNPJ, got {kind!r}")


def normalise_name(raw: str) -> str:
    """The holder's name in NFC, trimmed, 1-120 characters, with no control, format or bidi characters.

    >>> normalise_name("  Jose\\u0301 Bragg ")
    'José Bragg'
    >>> normalise_name("Ralph\\u202eggarB")
    Traceback (most recent call last):
    ...
    brdocs.DocumentError: Expected a name without control or bidirectional formatting characters
    """
    name = unicodedata.normalize("NFC", raw).strip()
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        raise DocumentError(f"Expected a name of 1 to {NAME_MAX_LENGTH} characters, got {len(name)}")
    if any(unicodedata.category(ch) in _FORBIDDEN_IN_NAMES for ch in name):
        raise DocumentError("Expected a name without control or bidirectional formatting characters")
    return name


def is_valid_cpf(number: str) -> bool:
    """Whether ``number`` is a valid CPF as Belvo receives it: 11 bare ASCII digits (no mask).

    >>> is_valid_cpf("76109277673"), is_valid_cpf("761.092.776-73"), is_valid_cpf("76109277674")
    (True, False, False)
    """
    return _is_bare(number, CPF_LENGTH, normalise_cpf)


def is_valid_cnpj(number: str) -> bool:
    """Whether ``number`` is a valid CNPJ as Belvo receives it: 14 bare characters, upper case.

    >>> is_valid_cnpj("11222333000181"), is_valid_cnpj("12ABC34501DE35"), is_valid_cnpj("12abc34501de35")
    (True, True, False)
    """
    return _is_bare(number, CNPJ_LENGTH, normalise_cnpj)


def _is_bare(number: str, length: int, normalise: Callable[[str], str]) -> bool:
    if len(number) != length:
        return False
    try:
        return normalise(number) == number
    except DocumentError:
        return False


def cpf_with_check_digits(base: str) -> str:
    """The CPF whose first nine digits are ``base`` (to generate valid test documents).

    >>> cpf_with_check_digits("761092776")
    '76109277673'
    """
    values = [int(ch) for ch in base]
    first = _cpf_check_digit(values)
    return base + str(first) + str(_cpf_check_digit([*values, first]))


def mask_document(number: str) -> str:
    """A CPF or CNPJ with only its middle digits visible, for screens that confirm who is consenting.

    >>> mask_document("76109277673"), mask_document("11222333000181")
    ('***.092.776-**', '**.222.333/0001-**')
    """
    if len(number) == CPF_LENGTH:
        return f"***.{number[3:6]}.{number[6:9]}-**"
    return f"**.{number[2:5]}.{number[5:8]}/{number[8:12]}-**"
