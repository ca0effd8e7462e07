"""Foundation: migrations match the models, seeding is safe to repeat, settings fail clearly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import Session, SQLModel, select

import db.models  # noqa: F401  (registers the tables)
from bot.settings import PROJECT_ROOT, SettingsError, load_settings
from db.models import Contact, Department, Municipality, Route
from db.plumbing.migrate import downgrade, upgrade
from db.plumbing.session import make_engine, session_scope
from db.routing.seed import SeedError, seed


def test_migrations_build_exactly_the_models(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []
    downgrade(database_url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(database_url)
    assert "enquiry" in inspect(engine).get_table_names()
    engine.dispose()


def test_seed_twice_adds_nothing_and_keeps_staff_edits(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    files = {
        "municipality_file": PROJECT_ROOT / "db" / "municipality.yml",
        "routes_file": PROJECT_ROOT / "db" / "seed_routes.yml",
    }
    with session_scope(engine) as session:
        first = seed(session=session, **files)
    assert first.added["departments"] == 8
    with session_scope(engine) as session:
        contact = session.exec(select(Contact)).first()
        assert contact is not None
        contact.email = "edited@storasa.example"
        edited_id = contact.id
    with session_scope(engine) as session:
        second = seed(session=session, **files)
    assert second.added == {}
    with Session(engine) as session:
        assert len(session.exec(select(Department)).all()) == 8
        assert len(session.exec(select(Municipality)).all()) == 1
        assert session.get(Contact, edited_id).email == "edited@storasa.example"  # type: ignore[union-attr]
        keys = {d.key for d in session.exec(select(Department))}
        assert keys == {
            "kultur_fritid",
            "samhallsbyggnad",
            "teknik",
            "upphandling",
            "utbildning",
            "social",
            "arbetsmarknad",
            "samverkan",
        }
        assert len(session.exec(select(Route)).all()) >= len(keys)
    engine.dispose()


def test_malformed_seed_file_is_refused_with_its_name(sqlite_url: str, tmp_path: Path) -> None:

    bad = tmp_path / "bad.yml"
    bad.write_text("municipality: [unclosed\n")
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    with Session(engine) as session, pytest.raises(SeedError, match=r"bad\.yml"):
        seed(session=session, municipality_file=bad, routes_file=None)
    engine.dispose()


def test_invalid_settings_give_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_PORT", "not-a-port")
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    assert "\n" not in message
    assert "RASA_PORT" in message and "DATABASE_URL" in message


def test_cli_reports_invalid_settings_without_a_traceback() -> None:
    env = dict(os.environ, DATABASE_URL="mysql://nope")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "Traceback" not in result.stderr
    assert "DATABASE_URL" in result.stderr
