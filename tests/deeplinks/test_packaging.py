"""The library stays standard-library only, ships its corpus and py.typed, and its docstring
examples run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import deeplinks
from deeplinks.corpus import KINDS

PACKAGE = Path(deeplinks.__file__).parent
MODULES = sorted(
    f"deeplinks.{path.stem}" for path in PACKAGE.glob("*.py") if path.stem not in {"__init__", "__main__"}
)


def test_importing_deeplinks_loads_only_the_standard_library() -> None:
    # -S: no site-packages at all, so any third-party import fails outright; then check what loaded.
    code = (
        f"import sys, {', '.join(MODULES)}\n"
        "allowed = set(sys.stdlib_module_names) | {'deeplinks', '__main__'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} - allowed))\n"
        "print(sorted({'flask', 'requests', 'server', 'emulator', 'qrcode'} & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=PACKAGE.parent, capture_output=True, text=True, check=True
    )
    assert result.stdout.split("\n")[:2] == ["[]", "[]"]


def test_package_ships_its_corpus_and_typing_marker() -> None:
    assert (PACKAGE / "py.typed").is_file()
    assert {path.stem for path in (PACKAGE / "fixtures").glob("*.json")} == set(KINDS)
