"""Pid files under var/run: what a run started, so that a later run can stop what it left behind.

Every child of `lotsen run`, and every process that child starts, carries the run's instance
token in its environment (`LOTSEN_INSTANCE`). A pid file names the child, its port, its process
group, the token, and the supervisor with its start time. A run is over when its supervisor no
longer runs (a pid with another start time is another process); whatever still carries the
token of a run that is over is left over from it, and is stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.processes import procfs

INSTANCE_ENV = "LOTSEN_INSTANCE"


class LeftoverError(RuntimeError):
    """Processes of an earlier run could not be stopped."""


@dataclass(frozen=True)
class Record:
    """One started child, as its pid file keeps it."""

    name: str
    port: int
    pid: int  # the keeper, leader of the child's process group
    started: int
    token: str
    supervisor: int
    supervisor_started: int
    command: list[str]

    def run_is_over(self) -> bool:
        """Tell whether the supervisor that started this child no longer runs."""
        return not procfs.running(self.supervisor, self.supervisor_started)


def path_for(run_dir: Path, name: str, port: int) -> Path:
    """Return the pid file of a child on a port, e.g. var/run/action-server-5055.pid."""
    return run_dir / f"{name.replace(' ', '-').lower()}-{port}.pid"


def write(path: Path, record: Record) -> None:
    """Write a pid file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(f".{os.getpid()}.tmp")
    scratch.write_text(json.dumps(asdict(record)) + "\n")
    scratch.replace(path)


def read(path: Path) -> Record | None:
    """Read a pid file; None when it is gone or unreadable."""
    try:
        return Record(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def remove(path: Path, token: str) -> None:
    """Remove a pid file if it still belongs to the run with this token."""
    record = read(path)
    if record is not None and record.token == token:
        path.unlink(missing_ok=True)


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _wait_gone(token: str, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := procfs.tagged(INSTANCE_ENV, token)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def stop_run(records: list[Record], *, grace: float) -> list[int]:
    """Stop every process that carries the token of a run that is over; return their ids.

    The keepers get SIGTERM and stop their services in order; when no keeper is left, every
    tagged process gets it. After the grace period, whatever still carries the token gets
    SIGKILL. Everything is sent SIGCONT first: a hung (stopped) process must run to act.
    """
    token = records[0].token
    found = procfs.tagged(INSTANCE_ENV, token)
    if not found:
        return []
    keepers = [r.pid for r in records if procfs.running(r.pid, r.started) and r.pid in found]
    _signal(found, signal.SIGCONT)
    _signal(keepers or found, signal.SIGTERM)
    left = _wait_gone(token, grace + 5)
    if left:
        _signal(left, signal.SIGKILL)
        left = _wait_gone(token, 5.0)
    if left:
        raise LeftoverError(
            "could not stop what an earlier run left behind: "
            + "; ".join(f"pid {pid} ({procfs.command_line(pid)})" for pid in left)
        )
    return found


def clear_leftovers(run_dir: Path, *, grace: float) -> list[str]:
    """Stop the children of runs that are over and remove their pid files; return report lines."""
    runs: dict[str, list[tuple[Path, Record]]] = {}
    for path in sorted(run_dir.glob("*.pid")):
        record = read(path)
        if record is None:
            path.unlink(missing_ok=True)
        elif record.run_is_over():
            runs.setdefault(record.token, []).append((path, record))
    lines: list[str] = []
    for entries in runs.values():
        records = [record for _path, record in entries]
        stopped = stop_run(records, grace=grace)
        if stopped:
            lines.append(
                f"stopped what an earlier run left behind "
                f"({', '.join(f'{r.name} on port {r.port}' for r in records)}; "
                f"supervisor pid {records[0].supervisor}): pids {', '.join(map(str, stopped))}"
            )
        for path, _record in entries:
            path.unlink(missing_ok=True)
    return lines
