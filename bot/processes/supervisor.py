"""Start the action servers, the Rasa servers (and bot workers) in order, watch them, stop them.

No orphans: each child runs under a keeper (`bot/processes/keeper.py`) as its own process group,
and the whole group dies when the child stops, when the supervisor stops it, and when the
supervisor dies, even of SIGKILL. No strangers: the children carry this run's instance token in
their environment, a run first stops what an earlier run left behind (pid files under
var/run), and it never uses a port it finds taken: the error names the process holding it.
A child counts as ready only when it answers its health check *and* every process listening on
its port carries this run's token.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.processes import pidfiles, procfs
from bot.processes.pidfiles import INSTANCE_ENV
from bot.settings import PROJECT_ROOT, Settings
from bot.understanding import rasa_env

log = logging.getLogger(__name__)

GRACE = 10.0  # seconds a child gets to stop after SIGTERM, before SIGKILL


class StartError(RuntimeError):
    """A service could not be started; the message says which and where its log is."""


@dataclass
class Child:
    """One supervised process."""

    name: str
    command: list[str]
    port: int
    port_setting: str
    health_url: str
    log_path: Path
    env: dict[str, str]
    shares_port: bool = False  # several children of this run listen on the port together
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    retry_at: float = 0.0


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
        "RASA_REPLICAS": str(settings.rasa_replicas),
        "ACTION_PORT": str(settings.action_port),
        "ACTION_SERVERS": str(settings.action_servers),
        "BOT_WORKERS": str(settings.bot_workers),
    }
    optional = {
        "COORDINATOR_CHAT_ID": settings.coordinator_chat_id,
        "TRACKER_DB_URL": settings.tracker_db_url,
        "RASA_URLS": settings.rasa_urls,
        "LOCK_STORE_URL": settings.lock_store_url,
        # The action server decides whether a department nobody else reaches gets e-mail.
        "SMTP_HOST": settings.smtp_host,
        "SMTP_PORT": settings.smtp_port if settings.smtp_host else None,
    }
    env.update({name: str(value) for name, value in optional.items() if value is not None})
    return env


def numbered(name: str, number: int) -> str:
    """Return the name of the n-th (0-based) of several like children: "Rasa server 2"."""
    return name if number == 0 else f"{name} {number + 1}"


def log_name(stem: str, number: int) -> str:
    """Return the log file of the n-th (0-based) of several like children: rasa-2.log."""
    return f"{stem}.log" if number == 0 else f"{stem}-{number + 1}.log"


def describe_holders(child: Child, use: procfs.PortUse, token: str) -> str:
    """Return the one-line error for a port that processes not of this run listen on."""
    holders = []
    for pid in use.pids:
        theirs = procfs.environment_value(pid, INSTANCE_ENV)
        if theirs == token:
            continue
        command = procfs.command_line(pid) or "command line unreadable"
        note = ", started by another `lotsen run`" if theirs else ""
        holders.append(f"pid {pid} ({command}{note})")
    if use.hidden:
        holders.append("a process of another user")
    return (
        f"{child.name}: port {child.port} is held by another process, {'; '.join(holders[:3])}; "
        f"stop it or set {child.port_setting} to a free port"
    )


def describe_exit(code: int) -> str:
    """Return "exit code 1", or "exit code 137, killed by SIGKILL" when a signal ended it."""
    number = -code if code < 0 else code - 128
    if code < 0 or code > 128:
        with contextlib.suppress(ValueError):
            return f"exit code {code}, killed by {signal.Signals(number).name}"
    return f"exit code {code}"


def _kill_group(group: int) -> None:
    """SIGKILL a process group and wait until none of it runs."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while procfs.group_members(group) and time.monotonic() < deadline:
        time.sleep(0.05)


def exit_code(process: subprocess.Popen[bytes]) -> int | None:
    """Return the exit code of a child that ended, after killing what is left of its group."""
    if process.returncode is not None:
        return process.returncode
    # Look without reaping: until it is reaped, the child keeps its group id from being reused.
    try:
        ended = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped already
        return process.poll()
    if ended is None:
        return None
    _kill_group(process.pid)
    return process.wait()


@dataclass
class Supervisor:
    """Run child services; report a crash clearly and restart the child."""

    settings: Settings
    report: Callable[[str], None] = print
    bot_workers: int = 0  # bot processes to run as children (BOT_WORKERS>1 under `lotsen run`)
    children: list[Child] = field(default_factory=list)
    reported: list[str] = field(default_factory=list)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _watcher: threading.Thread | None = None
    _lifeline: tuple[int, int] | None = None

    def _say(self, line: str) -> None:
        """Report a line to the operator and keep it (tests read `reported`)."""
        self.reported.append(line)
        self.report(line)

    @property
    def run_dir(self) -> Path:
        """Return the folder of the pid files."""
        return self.settings.var_dir / "run"

    def plan(self) -> list[Child]:
        """Return the services in start order: action servers, Rasa servers, bot workers."""
        settings = self.settings
        logs = settings.var_dir / "log"
        logs.mkdir(parents=True, exist_ok=True)
        app_env = dict(os.environ)
        app_env.update(settings_env(settings))
        app_env["PYTHONUNBUFFERED"] = "1"
        app_env["SANIC_HOST"] = "127.0.0.1"  # only Rasa on this machine calls the actions
        rasa_env_vars = {
            **rasa_env.rasa_env(),
            "TICKET_LOCK_LIFETIME": str(rasa_env.lock_lifetime(settings)),
        }
        children = [
            Child(
                name=numbered("action server", n),
                command=rasa_env.action_server_command(settings, n),
                port=settings.action_port + n,
                port_setting="ACTION_PORT",
                health_url=f"http://127.0.0.1:{settings.action_port + n}/health",
                log_path=logs / log_name("actions", n),
                env=app_env,
            )
            for n in range(settings.action_servers)
        ]
        children += [
            Child(
                name=numbered("Rasa server", n),
                command=rasa_env.server_command(settings, n),
                port=settings.rasa_port + n,
                port_setting="RASA_PORT",
                health_url=f"http://127.0.0.1:{settings.rasa_port + n}/status",
                log_path=logs / log_name("rasa", n),
                env=rasa_env_vars,
            )
            for n in range(settings.rasa_replicas)
        ]
        children += [
            Child(
                name=numbered("bot worker", n),
                command=[sys.executable, "-m", "bot.cli", "bot"],
                port=settings.webhook_port,
                port_setting="WEBHOOK_PORT",
                health_url=f"http://{settings.webhook_listen}:{settings.webhook_port}/health",
                log_path=logs / log_name("bot", n),
                env=app_env,
                shares_port=True,
            )
            for n in range(self.bot_workers)
        ]
        return children

    def start(self, timeout: float = 240.0) -> None:
        """Stop an earlier run's leftovers, start every service, and wait until each is ready."""
        if not rasa_env.model_path(self.settings).exists():
            raise StartError("No trained model: run `make setup` (or `lotsen train`).")
        try:
            for line in pidfiles.clear_leftovers(self.run_dir, grace=GRACE):
                self._say(line)
        except pidfiles.LeftoverError as exc:
            raise StartError(str(exc)) from None
        self._lifeline = os.pipe()
        self.children = self.plan()
        try:
            for child in self.children:
                self._claim(child)
                self._spawn(child)
                self._wait_ready(child, timeout)
                self._say(f"{child.name}: ready")
        except StartError:
            self.stop()
            raise
        self._watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._watcher.start()

    def _claim(self, child: Child) -> None:
        """Refuse a port that something else listens on (this run's own, for a shared port)."""
        use = procfs.port_use(child.port)
        if use.free or (child.shares_port and not self._strangers(use)):
            return
        raise StartError(describe_holders(child, use, self.token))

    def _strangers(self, use: procfs.PortUse) -> bool:
        """Tell whether a process not of this run (or one that cannot be seen) holds the port."""
        return use.hidden or any(
            procfs.environment_value(pid, INSTANCE_ENV) != self.token for pid in use.pids
        )

    def _pid_file(self, child: Child) -> Path:
        return pidfiles.path_for(self.run_dir, child.name, child.port)

    def _spawn(self, child: Child) -> None:
        assert self._lifeline is not None
        lifeline = self._lifeline[0]
        keeper = [sys.executable, "-m", "bot.processes.keeper", "--lifeline", str(lifeline)]
        keeper += ["--grace", str(GRACE), "--", *child.command]
        with child.log_path.open("ab") as log_file:
            child.process = subprocess.Popen(
                keeper,
                cwd=PROJECT_ROOT,
                env={**child.env, INSTANCE_ENV: self.token},
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                pass_fds=(lifeline,),
            )
        record = pidfiles.Record(
            name=child.name,
            port=child.port,
            pid=child.process.pid,
            started=procfs.start_time(child.process.pid) or 0,
            token=self.token,
            supervisor=os.getpid(),
            supervisor_started=procfs.start_time(os.getpid()) or 0,
            command=child.command,
        )
        pidfiles.write(self._pid_file(child), record)

    def _serves(self, child: Child) -> bool:
        """Tell whether the child answers, listening only through processes of this run.

        A child that shares its port must itself be among the listeners.
        """
        if not _healthy(child.health_url):
            return False
        use = procfs.port_use(child.port)
        if self._strangers(use):
            raise StartError(describe_holders(child, use, self.token))
        if child.shares_port:
            assert child.process is not None
            groups = {info.group for pid in use.pids if (info := procfs.stat(pid)) is not None}
            return child.process.pid in groups
        return bool(use.pids)

    def _wait_ready(self, child: Child, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        assert child.process is not None
        while time.monotonic() < deadline:
            code = exit_code(child.process)
            if code is not None:
                raise StartError(
                    f"{child.name} stopped while starting ({describe_exit(code)}); "
                    f"see {child.log_path}"
                )
            if self._serves(child):
                return
            time.sleep(0.5)
        raise StartError(f"{child.name} was not ready after {timeout:.0f} s; see {child.log_path}")

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            for child in self.children:
                with self._lock:
                    if self._stopping.is_set():
                        return
                    self._tend(child)

    def _tend(self, child: Child) -> None:
        """Notice a crashed child, and restart it once its back-off has passed."""
        if child.process is not None:
            code = exit_code(child.process)
            if code is None:
                return
            child.process = None
            child.restarts += 1
            child.retry_at = time.monotonic() + min(30, 2**child.restarts)
            self._say(
                f"!! {child.name} stopped unexpectedly ({describe_exit(code)}); "
                f"see {child.log_path}. Restarting (restart {child.restarts})."
            )
            return
        if time.monotonic() < child.retry_at:
            return
        try:
            self._claim(child)
        except StartError as exc:
            child.retry_at = time.monotonic() + 30
            self._say(f"!! {exc}; trying again in 30 s")
            return
        self._spawn(child)

    def _halt(self, child: Child) -> None:
        """Stop one child: SIGTERM to its keeper, which stops the service and sweeps its group."""
        process = child.process
        if process is not None and exit_code(process) is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + GRACE + 5
            while exit_code(process) is None:
                if time.monotonic() > deadline:
                    _kill_group(process.pid)  # the keeper hangs; its group id is still ours
                time.sleep(0.1)
        pidfiles.remove(self._pid_file(child), self.token)

    def stop(self) -> None:
        """Stop every started service (in reverse order) and everything they started."""
        self._stopping.set()
        with self._lock:
            for child in reversed(self.children):
                self._halt(child)
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=5)
        if self._lifeline is not None:
            for fd in self._lifeline:
                os.close(fd)
            self._lifeline = None
