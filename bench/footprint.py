"""Memory footprint of the processes, and the training time of the shipped model."""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

from bot.settings import Settings
from bot.understanding import rasa_env

LISTEN = "0A"


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def pid_listening_on(port: int) -> int | None:
    """Return the id of a process of ours that listens on this TCP port, if any."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not wanted:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    return int(entry.name)
        except OSError:
            continue
    return None


def _status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_mb(pid: int) -> float | None:
    """Return a process's peak resident memory (VmHWM) in MB, or None when it is gone."""
    kb = _status_kb(pid, "VmHWM")
    return round(kb / 1024, 1) if kb is not None else None


def rss_mb(pid: int) -> float | None:
    """Return a process's current resident memory (VmRSS) in MB."""
    kb = _status_kb(pid, "VmRSS")
    return round(kb / 1024, 1) if kb is not None else None


def reset_own_peak() -> bool:
    """Reset this process's peak RSS (VmHWM) so that a new measurement starts; True if done."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def own_peak_rss_mb() -> float:
    """Return this process's peak resident memory in MB since the last reset."""
    peak = peak_rss_mb(os.getpid())
    if peak is not None:
        return peak
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def process_peaks(settings: Settings) -> dict[str, float | None]:
    """Return the peak RSS of the Rasa server and the action server of a running stack."""
    out: dict[str, float | None] = {}
    for name, port in (
        ("rasa_server", settings.rasa_port),
        ("action_server", settings.action_port),
    ):
        pid = pid_listening_on(port)
        out[name] = peak_rss_mb(pid) if pid is not None else None
    return out


def training_seconds(settings: Settings) -> float:
    """Time `lotsen train --force` (same command), writing the model to a temporary folder.

    The shipped model in models/ is left alone so that running services and tests are not
    disturbed while the benchmark trains.
    """
    with tempfile.TemporaryDirectory(prefix="lotsen-bench-train-") as tmp:
        started = time.perf_counter()
        rasa_env.train(settings.model_copy(update={"model_dir": Path(tmp)}), force=True)
        return round(time.perf_counter() - started, 1)
