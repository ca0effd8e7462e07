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


def machine_ticks() -> tuple[int, int]:
    """Return the machine's busy and total CPU ticks so far (all cores, from /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])
    return total - idle, total


class CpuMeter:
    """Measure the CPU seconds that named groups of process trees use between two readings."""

    def __init__(self, groups: Mapping[str, Iterable[int]]) -> None:
        self.groups = {name: list(pids) for name, pids in groups.items()}
        self._start = self._read()
        self._machine = machine_ticks()

    def _read(self) -> dict[str, float]:
        return {name: tree_cpu_seconds(pids) for name, pids in self.groups.items()}

    def restart(self) -> None:
        """Start a new measurement now."""
        self._start = self._read()
        self._machine = machine_ticks()

    def machine_busy(self) -> float | None:
        """Return the share of the whole machine's CPU that was busy since the start (0–1)."""
        busy, total = machine_ticks()
        elapsed = total - self._machine[1]
        return round((busy - self._machine[0]) / elapsed, 3) if elapsed > 0 else None

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
