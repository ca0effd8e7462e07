"""The services under test: a private stack on SQLite or on a fresh PostgreSQL database."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.settings import Settings

COORDINATOR_CHAT = -1_000_000_000_777


@dataclass(frozen=True)
class Stack:
    """Settings of a running stack and how long it took to be ready (None: not started here)."""

    settings: Settings
    backend: str
    ready_seconds: float | None


@contextmanager
def fresh_postgres(base_url: str) -> Iterator[str]:
    """Create an empty PostgreSQL database for the run; drop it afterwards."""
    name = f"lotsen_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def own_stack(folder: Path, *, database_url: str | None = None) -> Iterator[Stack]:
    """Start the action server and Rasa on free ports and a seeded database."""
    from tests.stack import running_stack, stack_settings

    overrides: dict[str, object] = {"coordinator_chat_id": COORDINATOR_CHAT}
    if database_url is not None:
        overrides["database_url"] = database_url
    settings = stack_settings(folder, **overrides)
    backend = "postgresql" if settings.database_url.startswith("postgresql") else "sqlite"
    started = time.perf_counter()
    with running_stack(settings):
        yield Stack(settings, backend, round(time.perf_counter() - started, 1))
