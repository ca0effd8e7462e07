"""`lotsen desk add-user` on real databases: hashed password, clear refusals."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from typer.testing import CliRunner

from bot.channels.desk.auth import authenticate
from bot.cli import app
from db.models import DeskAccount
from db.session import session_scope


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """Point the command line at the test database."""
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return CliRunner()


def test_add_user_stores_a_hashed_password(cli: CliRunner, engine: Engine) -> None:
    result = cli.invoke(
        app,
        [
            "desk",
            "add-user",
            "Klara",
            "--role",
            "staff",
            "--department",
            "teknik",
            "--password-stdin",
        ],
        input="ett riktigt långt lösenord\n",
    )
    assert result.exit_code == 0, result.output
    with session_scope(engine) as session:
        account = session.exec(select(DeskAccount)).one()
        assert account.username == "klara" and account.role == "staff"
        assert account.password_hash.startswith("scrypt$")
        assert "långt" not in account.password_hash
        assert authenticate(
            session=session, username="KLARA", password="ett riktigt långt lösenord"
        )
        assert authenticate(session=session, username="klara", password="fel") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "boss"], "There is no role boss"),
        (["--role", "staff"], "must belong to a department"),
        (["--role", "staff", "--department", "nope"], "no department with the key nope"),
    ],
)
def test_add_user_refuses_bad_input(
    cli: CliRunner, engine: Engine, args: list[str], message: str
) -> None:
    result = cli.invoke(
        app, ["desk", "add-user", "klara", *args, "--password-stdin"], input="x" * 20 + "\n"
    )
    assert result.exit_code == 1
    assert message in result.output
    with session_scope(engine) as session:
        assert session.exec(select(DeskAccount)).all() == []


def test_add_user_refuses_a_short_password(cli: CliRunner, engine: Engine) -> None:
    result = cli.invoke(
        app, ["desk", "add-user", "klara", "--role", "admin", "--password-stdin"], input="kort\n"
    )
    assert result.exit_code == 1 and "at least 12 characters" in result.output
