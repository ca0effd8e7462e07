"""`lotsen desk add-user|disable|enable|set-role` on real databases: hashes, audit, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select
from typer.testing import CliRunner

from bot.channels.desk.passwords import Passwords
from bot.cli import app
from db.models import AuditEntry, DeskAccount
from db.plumbing.session import session_scope
from harness.desk import Answer, Clock, adopt_session, desk_client, password_attempt
from harness.workflow import local

NOW = local(2026, 3, 16, 9)
PASSWORD = "ett riktigt långt lösenord"


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
    assert account.password_hash.startswith("$argon2id$v=19$")
    assert "långt" not in account.password_hash
    passwords = Passwords()
    assert passwords.verify("ett riktigt långt lösenord", account.password_hash).ok
    assert not passwords.verify("fel", account.password_hash).ok


def test_add_user_for_a_staff_person_makes_one_colleague(cli: CliRunner, engine: Engine) -> None:
    from db.people.staff import add_staff
    from db.people.staff_identities import find_staff_person

    with session_scope(engine) as session:
        add_staff(
            session=session,
            channel="telegram",
            address="5001",
            role="staff",
            department_key="teknik",
            name="Klara K",
            actor="test",
        )
    args = ["--role", "staff", "--department", "teknik", "--password-stdin"]
    ok = cli.invoke(app, ["desk", "add-user", "klara", *args, "--staff", "5001"], input="x" * 20)
    assert ok.exit_code == 0, ok.output
    alone = cli.invoke(app, ["desk", "add-user", "egen", *args], input="x" * 20)
    assert alone.exit_code == 0, alone.output
    bad = cli.invoke(app, ["desk", "add-user", "fel", *args, "--staff", "anna"], input="x" * 20)
    assert bad.exit_code == 2 and "not a Telegram id" in bad.output
    with session_scope(engine) as session:
        person = find_staff_person(session=session, channel="telegram", address="5001")
        accounts = {a.username: a for a in session.exec(select(DeskAccount)).all()}
        assert person is not None and set(accounts) == {"klara", "egen"}
        assert accounts["klara"].person_id == person.id != accounts["egen"].person_id


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


def _add(cli: CliRunner, *args: str) -> None:
    result = cli.invoke(
        app, ["desk", "add-user", "klara", *args, "--password-stdin"], input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output


async def _signed_in(client: TestClient) -> Answer:
    answer = await password_attempt(client, "klara", PASSWORD)
    assert answer.status == 303
    adopt_session(client, answer)
    assert (await client.get("/desk", allow_redirects=False)).status == 200
    return answer


async def _signed_out(client: TestClient) -> bool:
    response = await client.get("/desk", allow_redirects=False)
    return response.status == 303 and response.headers["Location"] == "/desk/login"


async def test_disable_ends_every_session_and_enable_does_not_revive_them(
    cli: CliRunner, engine: Engine
) -> None:
    _add(cli, "--role", "coordinator")
    async with desk_client(engine, Clock(NOW)) as first, desk_client(engine, Clock(NOW)) as second:
        await _signed_in(first)
        await _signed_in(second)
        result = cli.invoke(app, ["desk", "disable", "Klara", "--actor", "it:anna"])
        assert result.exit_code == 0, result.output
        assert "2 open sessions ended" in result.output
        assert await _signed_out(first) and await _signed_out(second)
        assert (await password_attempt(first, "klara", PASSWORD)).status == 400
        result = cli.invoke(app, ["desk", "enable", "klara", "--actor", "it:anna"])
        assert result.exit_code == 0, result.output
        # The old cookies stay dead; a new sign-in works.
        assert await _signed_out(first) and await _signed_out(second)
        await _signed_in(first)
    with session_scope(engine) as session:
        entries = session.exec(
            select(AuditEntry).where(AuditEntry.entity == "desk_account").order_by(AuditEntry.id)
        ).all()
    assert [(e.action, e.actor, e.entity_key) for e in entries] == [
        ("disable", "it:anna", "klara"),
        ("enable", "it:anna", "klara"),
    ]
    assert entries[0].after is not None and entries[0].after["sessions_ended"] == 2


async def test_set_role_ends_the_sessions_of_the_old_role(cli: CliRunner, engine: Engine) -> None:
    _add(cli, "--role", "coordinator")
    async with desk_client(engine, Clock(NOW)) as client:
        await _signed_in(client)
        assert (await client.get("/desk/queue")).status == 200
        result = cli.invoke(
            app, ["desk", "set-role", "klara", "--role", "staff", "--department", "teknik"]
        )
        assert result.exit_code == 0, result.output
        assert "now staff: 1 open session ended" in result.output
        assert await _signed_out(client)
        await _signed_in(client)
        assert (await client.get("/desk/queue")).status == 403
    with session_scope(engine) as session:
        account = session.exec(select(DeskAccount)).one()
        assert account.role == "staff" and account.department_id is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["disable", "nobody"], "There is no desk account called 'nobody'"),
        (["enable", "klara"], "The desk account 'klara' is not disabled"),
        (["set-role", "klara", "--role", "coordinator"], "already has that role"),
        (["set-role", "klara", "--role", "staff"], "must belong to a department"),
        (["set-role", "klara", "--role", "boss"], "There is no role boss"),
    ],
)
def test_account_changes_refuse_clearly_and_change_nothing(
    cli: CliRunner, engine: Engine, args: list[str], message: str
) -> None:
    _add(cli, "--role", "coordinator")
    result = cli.invoke(app, ["desk", *args])
    assert result.exit_code == 1 and message in result.output
    assert "nothing was changed" in result.output.lower()
    with session_scope(engine) as session:
        account = session.exec(select(DeskAccount)).one()
        assert account.role == "coordinator" and account.disabled_at is None
        assert (
            session.exec(select(AuditEntry).where(AuditEntry.entity == "desk_account")).all() == []
        )


def test_disable_twice_is_refused(cli: CliRunner) -> None:
    _add(cli, "--role", "admin")
    assert cli.invoke(app, ["desk", "disable", "klara"]).exit_code == 0
    again = cli.invoke(app, ["desk", "disable", "klara"])
    assert again.exit_code == 1 and "already disabled" in again.output


async def test_the_queue_page_names_todays_floods(cli: CliRunner, engine: Engine) -> None:
    from datetime import UTC, timedelta

    from db.people.limits import count_refusal

    _add(cli, "--role", "coordinator")
    today = NOW.astimezone(UTC).date()
    with session_scope(engine) as session:
        for _ in range(3):
            count_refusal(session, person="telegram:4711", day=today)
        count_refusal(session, person="telegram:4712", day=today - timedelta(days=1))
    async with desk_client(engine, Clock(NOW)) as client:
        await _signed_in(client)
        page = await client.get("/desk/queue")
        assert page.status == 200
        html = await page.text()
    assert "Avvisade meddelanden i dag (för många på kort tid): telegram:4711 ×3" in html
    assert "telegram:4712" not in html


def test_demo_accounts_are_made_once_and_never_for_a_published_desk(
    cli: CliRunner, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import bot.cli.desk as desk_cli

    kept = tmp_path / "demo-accounts.json"
    monkeypatch.setattr(desk_cli, "demo_accounts_file", lambda settings: kept)
    monkeypatch.setenv("DESK_BASE_URL", "https://lotsen.kommun.example")
    published = cli.invoke(app, ["desk", "demo-accounts"])
    assert published.exit_code == 0 and not kept.exists()
    monkeypatch.delenv("DESK_BASE_URL")
    first = cli.invoke(app, ["desk", "demo-accounts"])
    second = cli.invoke(app, ["desk", "demo-accounts"])
    assert first.exit_code == 0 and first.output == second.output
    assert "demo-samordnare" in first.output and "demo-kultur" in first.output
    assert kept.stat().st_mode & 0o777 == 0o600
    stored = json.loads(kept.read_text())
    with session_scope(engine) as session:
        accounts = {a.username: a for a in session.exec(select(DeskAccount)).all()}
    assert set(accounts) == {"demo-samordnare", "demo-kultur"}
    assert accounts["demo-samordnare"].role == "coordinator"
    assert accounts["demo-kultur"].role == "staff"
    for name, account in accounts.items():
        assert Passwords().verify(stored[name], account.password_hash).ok
