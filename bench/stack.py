"""The services under test: a private stack on SQLite or PostgreSQL, and a private server."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
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
    from harness.stack import running_stack, stack_settings

    overrides: dict[str, object] = {"coordinator_chat_id": COORDINATOR_CHAT}
    if database_url is not None:
        overrides["database_url"] = database_url
    settings = stack_settings(folder, **overrides)
    backend = "postgresql" if settings.database_url.startswith("postgresql") else "sqlite"
    started = time.perf_counter()
    with running_stack(settings):
        yield Stack(settings, backend, round(time.perf_counter() - started, 1))


@dataclass(frozen=True)
class PrivateServer:
    """A PostgreSQL server of the benchmark's own (so restarting it disturbs nobody else)."""

    url: str
    pg_ctl: list[str]
    data: Path

    def restart(self) -> None:
        """Restart the server as after a crash (immediate shutdown: recovery on start)."""
        _pg_ctl(self.pg_ctl, self.data, "-m", "immediate", "-w", "restart")


def _pg_ctl(pg_ctl: list[str], data: Path, *args: str, check: bool = True) -> None:
    """Run pg_ctl on a data folder; the server writes to its log, never to our pipes."""
    command = [*pg_ctl, "-D", str(data), "-l", str(data / "server.log"), *args]
    subprocess.run(command, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _postgres_bin() -> Path | None:
    """Return the folder of PostgreSQL's server programs (initdb, pg_ctl), if installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parts[-3])
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


@contextmanager
def private_postgres() -> Iterator[PrivateServer | None]:
    """Run a throwaway PostgreSQL server on a free port; yield None when none can be started.

    As root the server runs as the `postgres` user (PostgreSQL refuses to run as root).
    """
    from harness.ports import free_port

    programs = _postgres_bin()
    if programs is None:
        yield None
        return
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="lotsen-pg-"))
    folder.chmod(0o755)
    data, sockets = folder / "data", folder / "sockets"
    for path in (data, sockets):
        path.mkdir()
        if as_user:
            shutil.chown(path, "postgres")
    pg_ctl = [*as_user, str(programs / "pg_ctl")]
    port = free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1"
    initdb = [*as_user, str(programs / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
    try:
        subprocess.run(initdb, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _pg_ctl(pg_ctl, data, "-o", options, "-w", "start")
    except (OSError, subprocess.CalledProcessError):
        shutil.rmtree(folder, ignore_errors=True)
        yield None
        return
    try:
        admin = create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text('CREATE DATABASE "lotsen"'))
        admin.dispose()
        yield PrivateServer(f"postgresql+psycopg://postgres@127.0.0.1:{port}/lotsen", pg_ctl, data)
    finally:
        _pg_ctl(pg_ctl, data, "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(folder, ignore_errors=True)
