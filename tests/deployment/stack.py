"""The deployment the Procfile describes, started as real processes on this machine.

PostgreSQL (a fresh schema of the server ``TEST_DATABASE_URL`` names), the Procfile's ``release`` line,
two instances of its ``web`` line (gunicorn, each on its own port, as behind a load balancer), its
``worker`` line, and the standalone emulator (``python -m emulator``) as Belvo. Each process runs in a
process group of its own, so killing an instance (SIGKILL) takes its gunicorn workers with it, as a
platform stopping a dyno would. Used by tests/deployment and bench/webhooks.py.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import requests

from emulator import DEFAULT_SECRET_ID, DEFAULT_SECRET_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
WEBHOOK_AUTH = "Bearer deployment-webhook-secret"
APP_JWT_SECRET = "deployment-test-secret-of-at-least-32-chars"


def procfile() -> dict[str, str]:
    """The Procfile's process types and their command lines."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Stack:
    """The running processes, by name (``web-0``, ``web-1``, ``worker``, ``emulator``)."""

    env: dict[str, str]
    log_dir: Path
    web_ports: list[int]
    emulator_port: int
    commands: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def web_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.web_ports]

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    def start(self, name: str, command: str, **env: str) -> None:
        """Run ``command`` as the Procfile would (a shell line, ``$VAR`` expanded) with ``env`` added."""
        self.commands[name] = (command, env)
        log = (self.log_dir / f"{name}.log").open("ab")
        self._logs.append(log)
        self.processes[name] = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            env={**self.env, **env},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name: str) -> None:
        """SIGKILL the process and every process it started (its own process group)."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def restart(self, name: str) -> None:
        command, env = self.commands[name]
        self.start(name, command, **env)

    def stop(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is None:
                self.kill(name)
        for log in self._logs:
            log.close()

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name} ---\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.log_dir.glob("*.log"))
        )


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout} s")


def web_command(app: str | None = None) -> str:
    """The Procfile's web line, serving ``app`` instead of the backend when given (a baseline)."""
    line = procfile()["web"]
    return line if app is None else line.replace("'server:create_app()'", shlex.quote(app))


@contextmanager
def deployment(
    database_url: str, log_dir: Path, web_instances: int = 2, extra_env: Mapping[str, str] | None = None
) -> Iterator[Stack]:
    """Release, then start the emulator, ``web_instances`` web instances and the worker; stop them all
    on exit."""
    emulator_port = free_port()
    env = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "BELVO_API_URL": f"http://127.0.0.1:{emulator_port}",
        "BELVO_SECRET_ID": DEFAULT_SECRET_ID,
        "BELVO_SECRET_PASSWORD": DEFAULT_SECRET_PASSWORD,
        "BELVO_WEBHOOK_AUTH": WEBHOOK_AUTH,
        "APP_JWT_SECRET": APP_JWT_SECRET,
        "TERMS_URL": "https://acme.example/terms",
        "PUBLIC_BASE_URL": "https://api.acme.example",
        # One immediate retry: Belvo's full schedule (3, 6, 12 s) would outlast a test.
        "BELVO_RETRY_SCHEDULE": "0",
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": "1",
        "WORKER_CONCURRENCY": "4",
        **(extra_env or {}),
    }
    stack = Stack(env, log_dir, [free_port() for _ in range(web_instances)], emulator_port)
    with ExitStack() as cleanup:
        cleanup.callback(stack.stop)
        release = subprocess.run(
            ["bash", "-c", procfile()["release"]], env=env, cwd=ROOT, capture_output=True, check=False
        )
        assert release.returncode == 0, release.stdout + release.stderr
        stack.start("emulator", f"{shlex.quote(sys.executable)} -m emulator --port {emulator_port}")
        for index, port in enumerate(stack.web_ports):
            stack.start(f"web-{index}", web_command(), PORT=str(port))
        stack.start("worker", procfile()["worker"])
        wait_until_up(f"{stack.emulator_url}/_control/faults", stack.processes["emulator"])
        for index, url in enumerate(stack.web_urls):
            wait_until_up(f"{url}/healthz", stack.processes[f"web-{index}"])
        yield stack
