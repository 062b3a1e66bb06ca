"""Building and running the mobile samples' checks: Kotlin on this machine's Java, TypeScript on
Node, Swift through tree-sitter. The toolchains come from `mobile_samples/package.json` (installed by
`npm ci` in `scripts/test`).

Compiled output is cached under `mobile_samples/<platform>/build/`, keyed on a hash of the sources
and the compiler version, so a second run only runs; a lock keeps parallel pytest workers from
compiling the same thing twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_swift

from tests.mobile_samples import android_stubs

REPO = Path(__file__).resolve().parents[2]
MOBILE = REPO / "mobile_samples"
CORPUS = REPO / "deeplinks" / "fixtures"
NAVIGATION_CASES = MOBILE / "navigation_cases.json"
NODE_MODULES = MOBILE / "node_modules"

KOTLIN = MOBILE / "android" / "core"
KOTLIN_HOME = NODE_MODULES / "kotlin-compiler"
REACT_NATIVE = MOBILE / "react-native"
IOS = MOBILE / "ios"


@dataclass(frozen=True)
class Run:
    """A finished check program: its exit code and everything it printed."""

    returncode: int
    output: str

    def summary(self) -> str:
        """The program's last lines, for assertion messages."""
        return "\n".join(self.output.strip().splitlines()[-40:])


def require_node_modules() -> None:
    if not (NODE_MODULES / ".package-lock.json").is_file():
        pytest.fail(
            "mobile_samples/node_modules is missing: run `(cd mobile_samples && npm ci)` (scripts/test does)"
        )


def run(argv: list[str], *, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 300) -> Run:
    completed = subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(completed.returncode, completed.stdout)


def _digest(files: Iterable[Path], *extra: str) -> str:
    sha = hashlib.sha256()
    for part in extra:
        sha.update(part.encode() + b"\0")
    for path in sorted(files):
        sha.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()[:20]


def _package_version(name: str) -> str:
    return str(json.loads((NODE_MODULES / name / "package.json").read_text())["version"])


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _cached_build(build_root: Path, key: str, build: Callable[[Path], Run]) -> Path:
    """`build_root/key`, made by `build(tmp_dir)` when missing; a failed build fails the test."""
    target = build_root / key
    with _locked(build_root):
        if target.is_dir():
            return target
        for stale in build_root.iterdir():
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=build_root))
        result = build(scratch)
        if result.returncode != 0:
            shutil.rmtree(scratch, ignore_errors=True)
            pytest.fail(f"compilation failed:\n{result.summary()}")
        scratch.rename(target)
    return target


# -Werror: the sample is meant to be copied, so it compiles without a warning. -Xjdk-release=1.8: the
# core runs on Android from API 26 (minSdk), whose java.* is Java 8's; a newer JDK method (such as
# URLEncoder.encode(String, Charset), API 33 on Android) fails to compile instead of failing on a phone.
KOTLIN_CORE_FLAGS = ("-Werror", "-Xjdk-release=1.8")


def compile_kotlin(sources: Iterable[Path], out: Path) -> Run:
    """kotlinc (the npm package's) with the core's flags, on this machine's Java."""
    require_node_modules()
    kotlinc = str(KOTLIN_HOME / "bin" / "kotlinc")
    return run([kotlinc, *KOTLIN_CORE_FLAGS, "-d", str(out), *map(str, sources)], cwd=MOBILE, timeout=600)


def kotlin_classes() -> Path:
    """The plain-Kotlin core and its test programs, compiled with the npm package's kotlinc."""
    require_node_modules()
    sources = sorted(KOTLIN.rglob("*.kt"))
    key = _digest(sources, _package_version("kotlin-compiler"), *KOTLIN_CORE_FLAGS)
    return _cached_build(
        MOBILE / "android" / "build" / "kotlin", key, lambda out: compile_kotlin(sources, out)
    )


def run_kotlin(main_class: str, env: Mapping[str, str]) -> Run:
    """Runs `com.example.ofda.core.<main_class>` on this machine's Java."""
    classpath = os.pathsep.join([str(kotlin_classes()), str(KOTLIN_HOME / "lib" / "kotlin-stdlib.jar")])
    return run(["java", "-cp", classpath, f"com.example.ofda.core.{main_class}"], cwd=MOBILE, env=env)


ANDROID_APP = MOBILE / "android" / "app"
ANDROID_KTX = Path(__file__).with_name("android_ktx")


def android_stub_classes() -> Path:
    """Java stubs of the Android API 36 and AndroidX classes (android_stubs.py), compiled by javac;
    cached per version of the stub packages (the first build takes a few minutes)."""
    key = _digest([Path(android_stubs.__file__)], *android_stubs.versions())

    def build(out: Path) -> Run:
        android_stubs.build_stub_jar(out)
        return Run(0, "")

    return _cached_build(MOBILE / "android" / "build" / "android-stubs", key, build) / "classes"


def build_config(app: Path) -> str:
    """Kotlin standing in for the BuildConfig class AGP generates from app/build.gradle.kts."""
    gradle = (app / "build.gradle.kts").read_text()
    names = re.findall(r'buildConfigField\("String", "(\w+)"', gradle)
    fields = "".join(f'    const val {name} = ""\n' for name in names)
    return (
        f"package com.example.ofda.sample\n\nobject BuildConfig {{\n    const val DEBUG = true\n{fields}}}\n"
    )


def compile_android_app(app: Path, out: Path) -> Run:
    """kotlinc over the app module's Kotlin (`app`: the module directory, or a copy of it), against the
    Android and AndroidX stubs, the hand-written Kotlin-only AndroidX declarations (android_ktx/), the
    compiled core and kotlinx-coroutines (the jar that ships with the Kotlin compiler)."""
    require_node_modules()
    out.mkdir(parents=True, exist_ok=True)
    generated = out / "BuildConfig.kt"
    generated.write_text(build_config(app))
    sources = [*sorted((app / "src" / "main").rglob("*.kt")), *sorted(ANDROID_KTX.glob("*.kt")), generated]
    classpath = os.pathsep.join(
        [
            str(android_stub_classes()),
            str(kotlin_classes()),
            str(KOTLIN_HOME / "lib" / "kotlinx-coroutines-core-jvm.jar"),
        ]
    )
    kotlinc = str(KOTLIN_HOME / "bin" / "kotlinc")
    argv = [
        kotlinc,
        "-Werror",
        "-jvm-target",
        "17",
        "-cp",
        classpath,
        "-d",
        str(out / "classes"),
        *map(str, sources),
    ]
    return run(argv, cwd=MOBILE, timeout=900)


def typescript_build() -> Path:
    """The TypeScript core and its Node tests, compiled by tsc (strict) to JavaScript."""
    require_node_modules()
    sources = [
        *REACT_NATIVE.glob("src/**/*.ts"),
        *REACT_NATIVE.glob("test/**/*.ts"),
        REACT_NATIVE / "tsconfig.json",
    ]
    key = _digest(sources, _package_version("typescript"))

    def build(out: Path) -> Run:
        tsc = str(NODE_MODULES / ".bin" / "tsc")
        return run([tsc, "-p", "tsconfig.json", "--outDir", str(out)], cwd=REACT_NATIVE)

    return _cached_build(REACT_NATIVE / "build" / "node", key, build)


def run_node_tests(test_file: str, env: Mapping[str, str]) -> Run:
    """`node --test` on one compiled test file (`test/<name>.js` under the build)."""
    return run(["node", "--test", str(typescript_build() / "test" / test_file)], cwd=REACT_NATIVE, env=env)


def typecheck_react_native_app() -> Run:
    """tsc --noEmit over the React Native app, against the real react-native(-webview) types."""
    require_node_modules()
    return run([str(NODE_MODULES / ".bin" / "tsc"), "-p", "tsconfig.app.json"], cwd=REACT_NATIVE)


def lint_react_native_hooks(*, stdin: str | None = None, as_file: str | None = None) -> Run:
    """ESLint's React hooks rules (react-native/eslint.config.mjs) over the app, or over `stdin` read
    as the app's file `as_file`."""
    require_node_modules()
    eslint = [str(NODE_MODULES / ".bin" / "eslint"), "--max-warnings", "0"]
    if stdin is None:
        return run([*eslint, "App.tsx", "src"], cwd=REACT_NATIVE)
    completed = subprocess.run(
        [*eslint, "--stdin", "--stdin-filename", str(as_file)],
        cwd=REACT_NATIVE,
        input=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )
    return Run(completed.returncode, completed.stdout)


def corpus_env(corpus: Path) -> dict[str, str]:
    """What the Kotlin and TypeScript corpus programs read: the corpus and the navigation cases."""
    return {"OFDA_FIXTURES_DIR": str(corpus), "OFDA_NAVIGATION_CASES": str(NAVIGATION_CASES)}


def swift_files() -> list[Path]:
    """Every Swift source of the iOS sample (app, core and tests)."""
    return sorted(IOS.rglob("*.swift"))


def swift_syntax_problems(source: bytes) -> list[str]:
    """Where tree-sitter-swift finds ERROR or MISSING nodes in `source` (line:column and the text)."""
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_swift.language()))
    problems: list[str] = []
    stack = [parser.parse(source).root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            row, column = node.start_point
            text = (node.text or b"").decode(errors="replace")[:60]
            kind = "missing" if node.is_missing else "error"
            problems.append(f"{row + 1}:{column + 1} {kind} {node.type} {text!r}")
        stack.extend(node.children)
    return sorted(problems)


def check_swift_corpus_tests(corpus: Path) -> Run:
    """The Swift generator's `--check`: are the committed Swift corpus tests what `corpus` produces?"""
    script = IOS / "scripts" / "generate_corpus_tests.py"
    return run([sys.executable, str(script), "--check", "--corpus", str(corpus)], cwd=MOBILE)
