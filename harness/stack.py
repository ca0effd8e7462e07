"""Start the real Rasa server and action server for tests, on free ports and a test database."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bot.processes.supervisor import Supervisor
from bot.settings import Settings
from bot.understanding import rasa_env
from harness.database import migrate_and_seed
from harness.ports import free_port, free_ports


@contextmanager
def running_redis(folder: Path) -> Iterator[str]:
    """Run Debian's redis-server on a free port (no persistence) until the block ends."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=folder,
        stdout=(folder / "redis.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start; see {folder / 'redis.log'}")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def stack_settings(folder: Path, **overrides: object) -> Settings:
    """Return settings for a private stack: own SQLite database, tracker store and ports."""
    replicas = int(str(overrides.get("rasa_replicas", 1)))
    actions = int(str(overrides.get("action_servers", 1)))
    rasa_port, action_port = free_ports(replicas), free_ports(actions)
    values: dict[str, object] = {
        "database_url": f"sqlite:///{folder / 'lotsen.db'}",
        "tracker_db_url": f"sqlite:///{folder / 'tracker.db'}",
        "rasa_port": rasa_port,
        "action_port": action_port,
        "rasa_url": f"http://127.0.0.1:{rasa_port}",
        "telegram_bot_token": None,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def _warm_up(settings: Settings) -> None:
    """Send one parse and one conversation turn, so the first test does not pay for warm-up."""
    with httpx.Client(base_url=settings.rasa_url, timeout=120) as client:
        client.post("/model/parse", json={"text": "hej"}).raise_for_status()
        client.post(
            "/webhooks/rest/webhook", json={"sender": "warm-up", "message": "hej"}
        ).raise_for_status()


@contextmanager
def running_stack(settings: Settings) -> Iterator[Supervisor]:
    """Run the action server and Rasa for these settings until the block ends."""
    if not rasa_env.model_path(settings).exists():
        pytest.fail("No trained model: run `make setup` before the tests (make test does).")
    migrate_and_seed(settings.database_url).dispose()
    supervisor = Supervisor(settings, report=lambda _line: None)
    supervisor.start()
    _warm_up(settings)
    try:
        yield supervisor
    finally:
        supervisor.stop()
