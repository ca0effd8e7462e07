"""Start the Rasa server and the action server in order, watch them, and stop them together."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.settings import PROJECT_ROOT, Settings
from bot.understanding import rasa_env

log = logging.getLogger(__name__)


class StartError(RuntimeError):
    """A service could not be started; the message says which and where its log is."""


@dataclass
class Child:
    """One supervised process."""

    name: str
    command: list[str]
    health_url: str
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    external: bool = False


def _healthy(url: str) -> bool:
    try:
        response = httpx.get(url, timeout=2.0)
    except httpx.HTTPError:
        return False
    if response.status_code != 200:
        return False
    if url.endswith("/status"):
        try:
            return bool(response.json().get("model_file"))
        except ValueError:
            return False
    return True


def settings_env(settings: Settings) -> dict[str, str]:
    """Return the environment that gives a child process the same settings as this one."""
    env = {
        "DATABASE_URL": settings.database_url,
        "RASA_URL": settings.rasa_url,
        "RASA_PORT": str(settings.rasa_port),
        "ACTION_PORT": str(settings.action_port),
    }
    if settings.coordinator_chat_id is not None:
        env["COORDINATOR_CHAT_ID"] = str(settings.coordinator_chat_id)
    return env


@dataclass
class Supervisor:
    """Run child services; report a crash clearly and restart the child."""

    settings: Settings
    report: Callable[[str], None] = print
    children: list[Child] = field(default_factory=list)
    reported: list[str] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _watcher: threading.Thread | None = None

    def _say(self, line: str) -> None:
        """Report a line to the operator and keep it (tests read `reported`)."""
        self.reported.append(line)
        self.report(line)

    def plan(self) -> list[Child]:
        """Return the services in start order: action server first, then Rasa."""
        logs = self.settings.var_dir / "log"
        logs.mkdir(parents=True, exist_ok=True)
        app_env = dict(os.environ)
        app_env.update(settings_env(self.settings))
        app_env["PYTHONUNBUFFERED"] = "1"
        return [
            Child(
                name="action server",
                command=rasa_env.action_server_command(self.settings),
                health_url=f"http://127.0.0.1:{self.settings.action_port}/health",
                log_path=logs / "actions.log",
                env=app_env,
            ),
            Child(
                name="Rasa server",
                command=rasa_env.server_command(self.settings),
                health_url=f"{self.settings.rasa_url}/status",
                log_path=logs / "rasa.log",
                env=rasa_env.rasa_env(),
            ),
        ]

    def start(self, timeout: float = 240.0) -> None:
        """Start every service (reusing one that already answers) and wait until each is ready."""
        if not rasa_env.model_path(self.settings).exists():
            raise StartError("No trained model: run `make setup` (or `lotsen train`).")
        self.children = self.plan()
        for child in self.children:
            if _healthy(child.health_url):
                child.external = True
                self._say(f"{child.name}: already running at {child.health_url}")
                continue
            self._spawn(child)
            self._wait_ready(child, timeout)
            self._say(f"{child.name}: ready")
        self._watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._watcher.start()

    def _spawn(self, child: Child) -> None:
        log_file = child.log_path.open("ab")
        child.process = subprocess.Popen(
            child.command,
            cwd=PROJECT_ROOT,
            env=child.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log_file.close()

    def _wait_ready(self, child: Child, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        assert child.process is not None
        while time.monotonic() < deadline:
            code = child.process.poll()
            if code is not None:
                raise StartError(
                    f"{child.name} exited with code {code} while starting; see {child.log_path}"
                )
            if _healthy(child.health_url):
                return
            time.sleep(0.5)
        raise StartError(f"{child.name} was not ready after {timeout:.0f} s; see {child.log_path}")

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            for child in self.children:
                if child.external or child.process is None:
                    continue
                code = child.process.poll()
                if code is None or self._stopping.is_set():
                    continue
                child.restarts += 1
                self._say(
                    f"!! {child.name} stopped unexpectedly (exit code {code}); "
                    f"see {child.log_path}. Restarting (restart {child.restarts})."
                )
                time.sleep(min(30, 2**child.restarts))
                if self._stopping.is_set():
                    return
                self._spawn(child)

    def stop(self) -> None:
        """Stop every started service: SIGTERM, then SIGKILL after a grace period."""
        self._stopping.set()
        for child in reversed(self.children):
            process = child.process
            if process is None or process.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
