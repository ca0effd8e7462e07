"""Shared fixtures: real databases (SQLite, and PostgreSQL when configured), migrated and seeded."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from bot.processes.supervisor import Supervisor
from bot.settings import Settings
from db.plumbing.session import make_engine
from harness.database import migrate_and_seed
from harness.fake_telegram import FakeTelegram
from harness.telegram import Harness

POSTGRES_URL = os.environ.get("LOTSEN_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgres"]

# Tests that need the running Rasa stack (fixtures below), Rasa's own environment, a browser or
# minutes of load are kept out of the fast loop (`make test-fast`: -m "not slow").
STACK_FIXTURES = {"rasa_supervisor", "rasa_stack", "harness", "bare"}
SLOW_FILES = {"test_rasa_project.py", "test_route_cli.py", "test_desk_browser.py", "test_crash.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs Rasa, a browser or a soak as slow."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if (
            fixtures & STACK_FIXTURES
            or item.path.name in SLOW_FILES
            or item.get_closest_marker("soak")
        ):
            item.add_marker(pytest.mark.slow)


def _fresh_postgres(base_url: str, template: str | None = None) -> tuple[str, str]:
    """Create a PostgreSQL database (empty, or a copy of a template); return its URL and name."""
    name = f"lotsen_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    admin.dispose()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False), name


def _drop_postgres(base_url: str, name: str) -> None:
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


SEEDED: set[str] = set()
"""The database URLs `database_url` handed out already migrated and seeded (for `engine`)."""


@pytest.fixture(scope="session")
def seeded_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Hold one migrated, seeded database per backend, built on first use, for tests to copy."""
    templates: dict[str, str] = {}
    yield templates
    if "postgres" in templates and POSTGRES_URL:
        _drop_postgres(POSTGRES_URL, templates["postgres"])


def _template(templates: dict[str, str], backend: str, folder: Path) -> str:
    """Return the seeded template of a backend (a file path, or a database name)."""
    if backend not in templates:
        if backend == "sqlite":
            path = folder / "template.db"
            migrate_and_seed(f"sqlite:///{path}").dispose()
            templates[backend] = str(path)
        else:
            assert POSTGRES_URL is not None
            url, name = _fresh_postgres(POSTGRES_URL)
            migrate_and_seed(url).dispose()
            templates[backend] = name
    return templates[backend]


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    seeded_templates: dict[str, str],
) -> Iterator[str]:
    """Yield the URL of a database of each backend (PostgreSQL only when configured).

    Empty, unless the test also asks for `engine`: then it is a copy of a migrated, seeded
    template (copying is much faster than migrating and seeding every time).
    """
    seeded = "engine" in request.fixturenames
    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured (set LOTSEN_TEST_POSTGRES_URL)")
    template = (
        _template(seeded_templates, request.param, tmp_path_factory.getbasetemp())
        if seeded
        else None
    )
    if request.param == "sqlite":
        path = tmp_path / "lotsen.db"
        if template is not None:
            shutil.copyfile(template, path)
        url = f"sqlite:///{path}"
        if seeded:
            SEEDED.add(url)
        yield url
        return
    assert POSTGRES_URL is not None
    url, name = _fresh_postgres(POSTGRES_URL, template)
    if seeded:
        SEEDED.add(url)
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


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """Yield an engine on a migrated, seeded database of each backend."""
    eng = make_engine(database_url) if database_url in SEEDED else migrate_and_seed(database_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture(scope="session")
def rasa_supervisor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    """Yield the supervisor of a running Rasa server and action server (to crash one on purpose)."""
    from harness.stack import running_stack, stack_settings

    settings = stack_settings(tmp_path_factory.mktemp("stack"), coordinator_chat_id=-1000000000001)
    with running_stack(settings) as supervisor:
        yield supervisor


@pytest.fixture(scope="session")
def rasa_stack(rasa_supervisor: Supervisor) -> Settings:
    """Return settings of a running Rasa server and action server on a seeded SQLite database."""
    return rasa_supervisor.settings


@pytest.fixture
def no_handler_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail a test whose bot logged an error (PTB hands handler exceptions to the error log)."""
    import logging

    yield
    errors = [
        f"{r.name}: {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.get_records("call") + caplog.get_records("teardown")
        if r.levelno >= logging.ERROR and r.name.startswith("bot.")
    ]
    assert errors == []


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """Run the fake Telegram Bot API server for one test."""
    from harness.fake_telegram import start_fake_telegram

    async with start_fake_telegram() as server:
        yield server


@pytest.fixture
def offline(engine: Engine, fake: FakeTelegram) -> Harness:
    """Return the real bot's settings on the test database and the fake (Rasa unreachable)."""
    from harness.telegram import offline_settings

    url = engine.url.render_as_string(hide_password=False)
    return Harness(fake=fake, settings=offline_settings(url, fake), engine=engine)


@pytest_asyncio.fixture
async def harness(rasa_stack: Settings) -> AsyncIterator[Harness]:
    """Start the fake Telegram server and the real bot (polling) on the Rasa stack's database."""
    from harness.fake_telegram import start_fake_telegram
    from harness.telegram import TIMEOUT, bot_settings, reset_transport_tables, running_bot

    engine = make_engine(rasa_stack.database_url)
    reset_transport_tables(engine)
    async with start_fake_telegram() as fake:
        settings = bot_settings(rasa_stack, fake)
        async with running_bot(settings):
            await fake.wait_for("getUpdates", timeout=TIMEOUT)
            yield Harness(fake=fake, settings=settings, engine=engine)
    engine.dispose()


@pytest_asyncio.fixture
async def bare(rasa_stack: Settings) -> AsyncIterator[tuple[FakeTelegram, Engine]]:
    """Start only the fake Telegram server on the Rasa stack's database (bot started per test)."""
    from harness.fake_telegram import start_fake_telegram
    from harness.telegram import reset_transport_tables

    engine = make_engine(rasa_stack.database_url)
    reset_transport_tables(engine)
    async with start_fake_telegram() as fake:
        yield fake, engine
    engine.dispose()
