"""Staff members and one-time invitations: roles on numeric Telegram ids, audited, via CLI too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from typer.testing import CliRunner

from db.enquiries.crud import has_role
from db.models import StaffInvite, StaffMember
from db.people.departments import department_by_key
from db.people.staff import (
    add_staff,
    create_invite,
    invite_link,
    list_staff,
    redeem_invite,
    remove_staff,
)
from db.plumbing.audit import history
from db.plumbing.session import session_scope
from db.plumbing.validation import ValidationProblem
from harness.database import migrate_and_seed

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BIG_ID = 7_000_000_000_123  # beyond 32 bits


def test_add_list_remove_with_audit(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_staff(
            session=session,
            telegram_user_id=BIG_ID,
            role="staff",
            department_key="teknik",
            name="Gata",
            actor="admin",
        )
        add_staff(session=session, telegram_user_id="42", role="coordinator", actor="admin")
        again = add_staff(
            session=session,
            telegram_user_id=BIG_ID,
            role="staff",
            department_key="teknik",
            actor="admin",
        )
        assert again.name == "Gata"
    with session_scope(engine) as session:
        rows = list_staff(session=session)
        assert [(m.telegram_user_id, m.role, d.key if d else None) for m, d in rows] == [
            (42, "coordinator", None),
            (BIG_ID, "staff", "teknik"),
        ]
        teknik = department_by_key(session=session, key="teknik")
        assert teknik is not None
        assert has_role(
            session=session, telegram_user_id=BIG_ID, roles={"staff"}, department_id=teknik.id
        )
        assert not has_role(session=session, telegram_user_id=BIG_ID, roles={"coordinator"})
        assert [(r.action, r.entity_key) for r in history(session=session, entity="staff")] == [
            ("create", "42"),
            ("create", str(BIG_ID)),
        ]
        assert remove_staff(session=session, telegram_user_id=BIG_ID, actor="admin") == 1
        assert remove_staff(session=session, telegram_user_id=BIG_ID, actor="admin") == 0
    with session_scope(engine) as session:
        assert not has_role(session=session, telegram_user_id=BIG_ID, roles={"staff"})
        latest = history(session=session, limit=1)[0]
        assert (latest.action, latest.before) == (
            "delete",
            {"telegram_user_id": BIG_ID, "name": "Gata", "role": "staff", "department": "teknik"},
        )


@pytest.mark.parametrize(
    ("user_id", "role", "department", "field"),
    [
        ("abc", "staff", "teknik", "telegram_user_id"),
        ("12.5", "staff", "teknik", "telegram_user_id"),
        ("-5", "staff", "teknik", "telegram_user_id"),
        (str(2**63), "staff", "teknik", "telegram_user_id"),
        ("5", "boss", "teknik", "role"),
        ("5", "staff", None, "department"),
        ("5", "staff", "finns_inte", "department"),
    ],
)
def test_add_staff_refuses_bad_input(
    engine: Engine, user_id: str, role: str, department: str | None, field: str
) -> None:
    with session_scope(engine) as session:
        with pytest.raises(ValidationProblem) as bad:
            add_staff(
                session=session,
                telegram_user_id=user_id,
                role=role,
                department_key=department,
                actor="admin",
            )
        assert bad.value.field == field
        assert session.exec(select(StaffMember)).all() == []


def test_invite_works_once_and_expires(engine: Engine) -> None:
    with session_scope(engine) as session:
        invite = create_invite(
            session=session, department_key="social", actor="admin", hours=48, now=NOW
        )
        stale = create_invite(
            session=session, department_key="social", actor="admin", hours=1, now=NOW
        )
        code, stale_code = invite.code, stale.code
    assert len(code) >= 30 and code != stale_code
    link = invite_link("@LotsenBot", code)
    assert link == f"https://t.me/LotsenBot?start={code}"
    with session_scope(engine) as session:
        assert redeem_invite(session=session, code="nonsense", telegram_user_id=5, now=NOW) is None
        later = NOW + timedelta(hours=2)
        assert (
            redeem_invite(session=session, code=stale_code, telegram_user_id=5, now=later) is None
        )
        member = redeem_invite(session=session, code=code, telegram_user_id=BIG_ID, now=later)
        assert member is not None and member.role == "staff"
    with session_scope(engine) as session:
        assert redeem_invite(session=session, code=code, telegram_user_id=6, now=later) is None
        social = department_by_key(session=session, key="social")
        assert social is not None
        assert has_role(
            session=session, telegram_user_id=BIG_ID, roles={"staff"}, department_id=social.id
        )
        assert not has_role(session=session, telegram_user_id=5, roles={"staff"})
        assert not has_role(session=session, telegram_user_id=6, roles={"staff"})
        used = session.exec(select(StaffInvite).where(StaffInvite.code == code)).one()
        assert used.used_by == BIG_ID and used.used_at == later
        actions = {(r.entity, r.action, r.actor) for r in history(session=session)}
        assert ("invite", "redeem", f"telegram:{BIG_ID}") in actions
        assert ("staff", "create", f"telegram:{BIG_ID}") in actions
        with pytest.raises(ValidationProblem):
            create_invite(session=session, department_key="social", actor="a", role="admin")
        with pytest.raises(ValidationProblem):
            create_invite(session=session, department_key="nope", actor="a")


def test_cli_staff_commands(tmp_path: Path) -> None:
    import bot.cli

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = migrate_and_seed(url)
    env = {"DATABASE_URL": url, "TELEGRAM_BOT_USERNAME": "StorasaLotsBot"}
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(bot.cli.app, ["staff", *args], env=env)

    result = run("add", str(BIG_ID), "--role", "staff", "--department", "teknik", "--name", "Gata")
    assert result.exit_code == 0, result.output
    assert run("add", "77", "--role", "admin").exit_code == 0
    bad = run("add", "anna", "--role", "admin")
    assert bad.exit_code == 2 and "not a Telegram id" in bad.stderr
    assert run("add", "78", "--role", "staff").exit_code == 1
    assert run("add", "78", "--role", "staff", "--department", "nope").exit_code == 1
    listing = run("list")
    assert listing.exit_code == 0
    assert str(BIG_ID) in listing.stdout and "teknik" in listing.stdout and "Gata" in listing.stdout
    result = run("invite", "kultur_fritid", "--hours", "2")
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith("https://t.me/StorasaLotsBot?start=")
    code = link.split("start=", 1)[1]
    assert run("remove", "77").exit_code == 0
    assert run("remove", "77").exit_code == 1
    with session_scope(engine) as session:
        assert has_role(session=session, telegram_user_id=BIG_ID, roles={"staff"})
        assert not has_role(session=session, telegram_user_id=77, roles={"admin"})
        assert not has_role(session=session, telegram_user_id=78, roles={"staff"})
        member = redeem_invite(session=session, code=code, telegram_user_id=99)
        assert member is not None
    engine.dispose()
