"""CPU time of running processes and their descendants, read from /proc (for CPU per message)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _tree(children: Mapping[int, list[int]], root: int) -> list[int]:
    found, frontier = [root], [root]
    while frontier:
        below = children.get(frontier.pop(), [])
        found.extend(below)
        frontier.extend(below)
    return found


def tree_cpu_seconds(roots: Iterable[int]) -> float:
    """Return the user + system CPU seconds used so far by these processes and descendants.

    A process's own time and the time of its children that it has reaped are counted; a
    descendant that runs now is counted on its own.
    """
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        # utime, stime, cutime, cstime (fields 14–17 of /proc/PID/stat)
        ticks[pid] = sum(int(value) for value in fields[11:15])
    total = 0
    for pid in {p for root in roots for p in _tree(children, root)}:
        total += ticks.get(pid, 0)
    return total / TICKS


class CpuMeter:
    """Measure the CPU seconds that named groups of process trees use between two readings."""

    def __init__(self, groups: Mapping[str, Iterable[int]]) -> None:
        self.groups = {name: list(pids) for name, pids in groups.items()}
        self._start = self._read()

    def _read(self) -> dict[str, float]:
        return {name: tree_cpu_seconds(pids) for name, pids in self.groups.items()}

    def restart(self) -> None:
        """Start a new measurement now."""
        self._start = self._read()

    def per_message(self, messages: int) -> dict[str, float | None]:
        """Return the milliseconds of CPU per message of each group and in total."""
        now = self._read()
        used = {name: max(0.0, now[name] - self._start[name]) for name in now}
        if messages <= 0:
            return {name: None for name in [*used, "total"]}
        out: dict[str, float | None] = {
            name: round(seconds * 1000 / messages, 1) for name, seconds in used.items()
        }
        out["total"] = round(sum(used.values()) * 1000 / messages, 1)
        return out
