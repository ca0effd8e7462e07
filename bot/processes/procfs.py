"""What Linux's /proc tells about processes: start time, group, environment, listening ports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
_LISTEN = "0A"


@dataclass(frozen=True)
class Stat:
    """The fields of /proc/<pid>/stat that supervision needs."""

    state: str
    parent: int
    group: int
    started: int  # clock ticks after boot; with the pid, it names one process for good


def stat(pid: int) -> Stat | None:
    """Return a process's state, parent, process group and start time, or None when gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself contain ") ".
    fields = text.rsplit(")", 1)[1].split()
    return Stat(
        state=fields[0], parent=int(fields[1]), group=int(fields[2]), started=int(fields[19])
    )


def pids() -> Iterator[int]:
    """Yield the id of every process."""
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            yield int(entry.name)


def running(pid: int, started: int | None = None) -> bool:
    """Tell whether a process runs (not a zombie), and is the one started at `started`."""
    info = stat(pid)
    if info is None or info.state in {"Z", "X"}:
        return False
    return started is None or info.started == started


def start_time(pid: int) -> int | None:
    """Return when a process started (clock ticks after boot), or None when it is gone."""
    info = stat(pid)
    return info.started if info else None


def group_members(group: int) -> list[int]:
    """Return the running processes of a process group."""
    members = []
    for pid in pids():
        info = stat(pid)
        if info is not None and info.group == group and info.state not in {"Z", "X"}:
            members.append(pid)
    return members


def command_line(pid: int) -> str:
    """Return a process's command line as one string ("" when gone or unreadable)."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def environment_value(pid: int, name: str) -> str | None:
    """Return one variable of the environment a process was started with (None if unreadable)."""
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    prefix = name.encode() + b"="
    for entry in raw.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


def tagged(name: str, value: str) -> list[int]:
    """Return the running processes started with the environment variable name=value."""
    return [pid for pid in pids() if environment_value(pid, name) == value and running(pid)]


@dataclass
class PortUse:
    """Who listens on a TCP port: the processes seen, and whether some owner could not be seen."""

    pids: list[int] = field(default_factory=list)
    hidden: bool = False

    @property
    def free(self) -> bool:
        """Tell whether nothing listens on the port."""
        return not self.pids and not self.hidden


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def port_use(port: int) -> PortUse:
    """Return the processes that hold a listening TCP socket on this port (any address)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return PortUse()
    wanted = {f"socket:[{inode}]" for inode in inodes}
    found: set[str] = set()
    use = PortUse()
    for pid in pids():
        try:
            fds = list((PROC / str(pid) / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = fd.readlink().name
            except OSError:
                continue
            if target in wanted:
                found.add(target)
                if pid not in use.pids:
                    use.pids.append(pid)
    use.hidden = found != wanted
    return use
