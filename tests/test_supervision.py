"""No orphans, no strangers: `lotsen run`'s children die with it and it uses only its own.

Real processes throughout: the supervisor runs in a child process (`harness/supervise_actions.py`,
the supervisor of `lotsen run` with only the action server, which is quick to start) or as the
real `lotsen run`; it is killed with SIGKILL, frozen, or meets a stranger on its port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.settings import PROJECT_ROOT
from harness.database import migrate_and_seed
from harness.ports import free_port
from harness.processes import (
    alive,
    clean_env,
    descendants,
    kill_all,
    listening,
    start_supervisor,
)
from harness.wait import wait_until

# Each test starts real action servers (a few seconds each): kept out of `make test-fast`.
pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Return the environment of a private run: own database, tracker store and ports."""
    rasa_port = free_port()
    return clean_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'lotsen.db'}",
        TRACKER_DB_URL=f"sqlite:///{tmp_path / 'tracker.db'}",
        ACTION_PORT=str(free_port()),
        RASA_PORT=str(rasa_port),
        RASA_URL=f"http://127.0.0.1:{rasa_port}",
        WEB_PORT=str(free_port()),
    )


class Runs:
    """The supervisors a test starts, and every process seen in their trees (for clean-up)."""

    def __init__(self) -> None:
        self.supervisors: list[subprocess.Popen[str]] = []
        self.seen: dict[tuple[int, int], str] = {}

    def start(self, env: dict[str, str], log: Path) -> subprocess.Popen[str]:
        """Start a supervisor with only the action server."""
        process = start_supervisor(env, log)
        self.supervisors.append(process)
        return process

    def ready(self, process: subprocess.Popen[str], log: Path) -> dict[tuple[int, int], str]:
        """Wait for "ready" and return the supervisor's process tree."""
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line == "ready", log.read_text()[-2000:]
        tree = descendants(process.pid)
        self.seen.update(tree)
        return tree


@pytest.fixture
def runs() -> Iterator[Runs]:
    """Yield a test's supervisors; kill whatever of them and their trees is left at the end."""
    collected = Runs()
    yield collected
    for process in collected.supervisors:
        collected.seen.update(descendants(process.pid))
        if process.poll() is None:
            process.kill()
            process.wait(10)
    kill_all(collected.seen)


def _health(port: int) -> int:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=5.0).status_code
    except httpx.HTTPError:
        return 0


def test_sigkill_of_the_supervisor_takes_the_action_server_and_its_workers_down(
    env: dict[str, str], runs: Runs, tmp_path: Path
) -> None:
    log = tmp_path / "supervisor.log"
    supervisor = runs.start(env, log)
    tree = runs.ready(supervisor, log)
    assert any("multiprocessing" in command for command in tree.values()), tree  # the worker
    supervisor.kill()
    supervisor.wait(10)
    assert wait_until(lambda: not alive(tree), 60), f"still alive: {alive(tree)}"
    assert not listening(int(env["ACTION_PORT"]))


def test_a_stopped_supervisor_returns_only_when_every_process_of_its_children_is_gone(
    env: dict[str, str], runs: Runs, tmp_path: Path
) -> None:
    log = tmp_path / "supervisor.log"
    supervisor = runs.start(env, log)
    tree = runs.ready(supervisor, log)
    assert supervisor.stdin is not None
    supervisor.stdin.close()  # the helper stops the supervisor, as Ctrl-C stops `lotsen run`
    assert supervisor.wait(60) == 0
    assert alive(tree) == {}
    assert not listening(int(env["ACTION_PORT"]))


def test_a_crashed_action_server_takes_its_workers_along_and_is_restarted(
    env: dict[str, str], runs: Runs, tmp_path: Path
) -> None:
    log = tmp_path / "supervisor.log"
    supervisor = runs.start(env, log)
    tree = runs.ready(supervisor, log)
    server = next(
        pid
        for (pid, _started), command in tree.items()
        if command.split()[1:3] == ["-m", "rasa_sdk"]  # the Sanic manager
    )
    workers = {process: command for process, command in tree.items() if "spawn_main" in command}
    assert workers, tree
    os.kill(server, signal.SIGKILL)  # Sanic's workers outlive their manager unless stopped
    assert wait_until(lambda: "stopped unexpectedly" in log.read_text(), 30), log.read_text()
    assert wait_until(lambda: not alive(workers), 30), f"orphaned workers: {alive(workers)}"
    assert wait_until(lambda: _health(int(env["ACTION_PORT"])) == 200, 60), log.read_text()
    assert supervisor.poll() is None


def test_children_left_by_an_earlier_run_are_stopped_before_the_ports_are_bound(
    env: dict[str, str], runs: Runs, tmp_path: Path
) -> None:
    log = tmp_path / "supervisor.log"
    earlier = runs.start(env, log)
    tree = runs.ready(earlier, log)
    # The earlier run's children hang (frozen), so they cannot notice that it dies; then it dies.
    for pid, _started in tree:
        os.kill(pid, signal.SIGSTOP)
    earlier.kill()
    earlier.wait(10)
    assert alive(tree)
    later = runs.start(env, log)
    runs.ready(later, log)
    assert not alive(tree), f"left over from the earlier run: {alive(tree)}"
    assert _health(int(env["ACTION_PORT"])) == 200
    assert "earlier run" in log.read_text()


def test_an_action_server_of_another_live_run_is_neither_used_nor_stopped(
    env: dict[str, str], runs: Runs, tmp_path: Path
) -> None:
    other_log, log = tmp_path / "other.log", tmp_path / "supervisor.log"
    other = runs.start({**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"}, other_log)
    theirs = runs.ready(other, other_log)
    mine = runs.start(env, log)
    assert mine.wait(120) == 2, log.read_text()[-2000:]
    error = log.read_text().strip().splitlines()[-1]
    port = env["ACTION_PORT"]
    assert error.startswith(f"Could not start: action server: port {port}"), error
    assert any(f"pid {pid} " in error for pid, _started in theirs), error
    assert "rasa_sdk" in error
    assert alive(theirs) == theirs


def test_a_stranger_on_the_action_port_is_named_in_one_line_and_not_used(
    env: dict[str, str], tmp_path: Path
) -> None:
    migrate_and_seed(env["DATABASE_URL"]).dispose()  # so `lotsen run` could go on to the chat
    # The stranger even answers the health check.
    (tmp_path / "health").write_text("ok\n")
    port = env["ACTION_PORT"]
    stranger = subprocess.Popen(
        [sys.executable, "-m", "http.server", port, "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: listening(int(port)), 30)
        assert _health(int(port)) == 200
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert result.returncode == 1, result.stderr
        error = result.stderr.strip().splitlines()[-1]
        assert error.startswith(f"Could not start: action server: port {port}"), error
        assert f"pid {stranger.pid} " in error and "http.server" in error, error
        assert "Traceback" not in result.stderr
        assert "ready" not in result.stderr
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait(10)
