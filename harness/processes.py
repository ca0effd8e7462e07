"""Look at real processes from a test or benchmark: process trees, liveness, listening ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path

from bot.settings import PROJECT_ROOT
from harness.ports import free_port

# A process is (pid, start time in clock ticks since boot): a reused pid is another process.
Process = tuple[int, int]


def _stat(pid: int) -> tuple[str, int, int] | None:
    """Return (state, parent pid, start time) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[19])


def command_line(pid: int) -> str:
    """Return a process's command line, or "" when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def descendants(root: int) -> dict[Process, str]:
    """Return every live descendant of a process with its command line."""
    children: dict[int, list[tuple[int, int]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None or stat[0] == "Z":
            continue
        children.setdefault(stat[1], []).append((int(entry.name), stat[2]))
    found: dict[Process, str] = {}
    frontier = [root]
    while frontier:
        for pid, started in children.get(frontier.pop(), []):
            found[(pid, started)] = command_line(pid)
            frontier.append(pid)
    return found


def alive(processes: Mapping[Process, str]) -> dict[Process, str]:
    """Return the processes that still run (zombies count as dead: they hold nothing)."""
    living: dict[Process, str] = {}
    for (pid, started), command in processes.items():
        stat = _stat(pid)
        if stat is not None and stat[0] != "Z" and stat[2] == started:
            living[(pid, started)] = command
    return living


def kill_all(processes: Mapping[Process, str]) -> None:
    """SIGKILL every one of these processes that still runs (test clean-up)."""
    for pid, _started in alive(processes):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def listening(port: int) -> bool:
    """Tell whether something accepts TCP connections on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.settimeout(2.0)
        try:
            sock.connect(("127.0.0.1", port))
        except OSError:
            return False
    return True


def clean_env(**values: str) -> dict[str, str]:
    """Return this process's environment without Telegram settings, plus the given values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LOTSEN_"))}
    env.update({"PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING"}, **values)
    return env


def lotsen_env(folder: Path, **values: str) -> dict[str, str]:
    """Return `clean_env` for a `lotsen run` of its own: SQLite files in `folder`, free ports.

    RASA_PORT, ACTION_PORT and WEB_PORT are fresh free ports (RASA_URL points at Rasa's);
    `values` add to or override them.
    """
    rasa_port = str(free_port())
    base = {
        "DATABASE_URL": f"sqlite:///{folder / 'lotsen.db'}",
        "TRACKER_DB_URL": f"sqlite:///{folder / 'tracker.db'}",
        "RASA_PORT": rasa_port,
        "RASA_URL": f"http://127.0.0.1:{rasa_port}",
        "ACTION_PORT": str(free_port()),
        "WEB_PORT": str(free_port()),
    }
    return clean_env(**{**base, **values})


def run_lotsen(
    env: dict[str, str],
    log: Path,
    *,
    command: str = "run",
    stdin: int = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """Start `python -m bot.cli <command>` (default `lotsen run`) with its stderr in `log`.

    `stdin=subprocess.PIPE` keeps the console chat of `lotsen run` waiting for questions.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", command],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=stdin,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def start_supervisor(env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    """Start `harness/supervise_actions.py` (the supervisor with only the action server)."""
    return subprocess.Popen(
        [sys.executable, "-m", "harness.supervise_actions"],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log.open("a"),
        text=True,
    )
