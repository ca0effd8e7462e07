"""Keep one service and everything it spawns in one process group that dies as a whole.

The supervisor starts `python -m bot.processes.keeper --lifeline FD -- COMMAND…` as the leader
of a new session and process group. The keeper starts the service in that group, and stops it
(SIGTERM, then SIGKILL after the grace period) when it is asked to (SIGTERM) or when the
supervisor dies however it dies: the kernel closes the supervisor's end of the lifeline pipe,
and the keeper sees end-of-file. When the service has exited, for whatever reason, the keeper
kills what is left of the group (rasa-sdk's Sanic workers, multiprocessing helpers), reaps it
as the group's subreaper, and exits with the service's exit status.

The service dies with the keeper too (`PR_SET_PDEATHSIG`), so a `kill -9` of the keeper alone
still stops it. The keeper does not use `PR_SET_PDEATHSIG` towards the supervisor: the kernel
sends that signal when the *thread* that started the process ends, and the supervisor restarts
children from its watcher thread.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from types import FrameType

from bot.processes import procfs

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
LEFTOVER_GRACE = 2.0


def prctl(option: int, value: int) -> None:
    """Call prctl(2) with one argument; raise OSError when the kernel refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """Return a `preexec_fn` that has the child signalled when this process dies."""
    parent = os.getpid()

    def arrange() -> None:
        prctl(PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return arrange


def _say(line: str) -> None:
    print(f"[keeper {os.getpid()}] {line}", file=sys.stderr, flush=True)


def _reap_orphans() -> None:
    """Collect the exit status of reparented descendants (this process is their subreaper)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def sweep_group() -> list[int]:
    """Stop every other process of this process group: SIGTERM, then SIGKILL; return their ids."""
    me, group = os.getpid(), os.getpgrp()
    swept: list[int] = []
    deadline = time.monotonic() + LEFTOVER_GRACE
    while True:
        _reap_orphans()
        others = [pid for pid in procfs.group_members(group) if pid != me]
        if not others:
            return swept
        late = time.monotonic() > deadline
        for pid in others:
            if late or pid not in swept:
                _signal(pid, signal.SIGKILL if late else signal.SIGTERM)
            if pid not in swept:
                swept.append(pid)
        time.sleep(0.1)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
        os.kill(pid, signal.SIGCONT)  # a stopped process must run to act on SIGTERM
    except ProcessLookupError:
        pass


def exit_status(returncode: int) -> int:
    """Turn a Popen return code into a shell exit status (killed by signal N: 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


def keep(command: list[str], *, lifeline: int, grace: float) -> int:
    """Run the service until it exits or must stop; leave nothing of its group behind."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    asked: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        asked.append(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    service = subprocess.Popen(command, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent())
    watch = select.poll()
    watch.register(lifeline, select.POLLIN | select.POLLHUP)
    reason = ""
    while service.poll() is None:
        if asked:
            reason = f"asked to stop ({signal.Signals(asked[0]).name})"
        elif watch.poll(200):
            reason = "the supervisor is gone"
        if reason:
            break
    if reason and service.poll() is None:
        _say(f"stopping pid {service.pid}: {reason}")
        service.terminate()
        try:
            service.wait(grace)
        except subprocess.TimeoutExpired:
            _say(f"pid {service.pid} did not stop within {grace:.0f} s; killing it")
            service.kill()
            service.wait()
    swept = sweep_group()
    if swept:
        _say(f"stopped what pid {service.pid} left behind: pids {', '.join(map(str, swept))}")
    return exit_status(service.wait())


def main(argv: list[str] | None = None) -> int:
    """Parse `--lifeline FD [--grace S] -- COMMAND…` and keep the command."""
    parser = argparse.ArgumentParser(prog="python -m bot.processes.keeper")
    parser.add_argument("--lifeline", type=int, required=True)
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to keep")
    return keep(command, lifeline=args.lifeline, grace=args.grace)


if __name__ == "__main__":
    sys.exit(main())
