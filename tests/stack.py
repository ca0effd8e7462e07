"""Start the real Rasa server and action server for tests, on free ports and a test database."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bot.processes.supervisor import Supervisor
from bot.settings import Settings
from bot.understanding import rasa_env
from tests.conftest import migrate_and_seed


def free_port() -> int:
    """Return a TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stack_settings(folder: Path, **overrides: object) -> Settings:
    """Return settings for a private stack: own SQLite database, tracker store and ports."""
    rasa_port, action_port = free_port(), free_port()
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
