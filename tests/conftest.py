"""Shared fixtures: real databases (SQLite, and PostgreSQL when configured), migrated and seeded."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import Supervisor
from db.migrate import upgrade
from db.seed import seed
from db.session import make_engine, session_scope

POSTGRES_URL = os.environ.get("LOTSEN_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgres"]


def _fresh_postgres(base_url: str) -> tuple[str, str]:
    """Create an empty PostgreSQL database; return (its URL, its name)."""
    name = f"lotsen_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False), name


def _drop_postgres(base_url: str, name: str) -> None:
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of an empty database of each backend (PostgreSQL only when configured)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lotsen.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured (set LOTSEN_TEST_POSTGRES_URL)")
    url, name = _fresh_postgres(POSTGRES_URL)
    try:
        yield url
    finally:
        _drop_postgres(POSTGRES_URL, name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Return the URL of an empty SQLite file (for tests that need only one backend)."""
    return f"sqlite:///{tmp_path / 'lotsen.db'}"


def _settings_for(url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=url,
        telegram_bot_token=None,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Return settings pointing at the test database."""
    return _settings_for(database_url, tmp_path)


def migrate_and_seed(url: str) -> Engine:
    """Migrate a database to head, load the demo municipality, and return an engine."""
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        seed(
            session=session,
            municipality_file=PROJECT_ROOT / "db" / "municipality.yml",
            routes_file=PROJECT_ROOT / "db" / "seed_routes.yml",
        )
    return engine


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """Yield an engine on a migrated, seeded database of each backend."""
    eng = migrate_and_seed(database_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture(scope="session")
def rasa_supervisor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    """Yield the supervisor of a running Rasa server and action server (to crash one on purpose)."""
    from tests.stack import running_stack, stack_settings

    settings = stack_settings(tmp_path_factory.mktemp("stack"), coordinator_chat_id=-1000000000001)
    with running_stack(settings) as supervisor:
        yield supervisor


@pytest.fixture(scope="session")
def rasa_stack(rasa_supervisor: Supervisor) -> Settings:
    """Return settings of a running Rasa server and action server on a seeded SQLite database."""
    return rasa_supervisor.settings
