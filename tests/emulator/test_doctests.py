"""The examples in the emulator's docstrings run and are right."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import emulator

MODULES = sorted(m.name for m in pkgutil.iter_modules(emulator.__path__, "emulator."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)

    assert result.failed == 0
