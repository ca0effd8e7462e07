"""Staff members and one-time invitations: roles on staff people named by channel identities
(a numeric Telegram id, an e-mail address), audited, via CLI too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.channels.telegram.common import invite_link
from bot.cli.staff import parse_identity
from db.enquiries import crud
from db.models import StaffInvite, StaffMember, StaffPerson
from db.people.departments import department_by_key
from db.people.staff import (
    add_staff,
    create_invite,
    list_staff,
    redeem_invite,
    remove_staff,
)
from db.people.staff_identities import find_staff_person, staff_identities
from db.plumbing.audit import history
from db.plumbing.session import session_scope
from db.plumbing.validation import ValidationProblem
from harness.database import migrate_and_seed
from harness.people import staff_id

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BIG_ID = 7_000_000_000_123  # beyond 32 bits
TG = "telegram"


def has_role(
    *, session: Session, telegram_user_id: int, roles: set[str], department_id: int | None = None
) -> bool:
    """Tell whether the staff person behind a Telegram user holds one of the roles."""
    person = find_staff_person(session=session, channel=TG, address=str(telegram_user_id))
    return crud.has_role(
        session=session,
        person_id=person.id if person is not None else None,
        roles=roles,
        department_id=department_id,
    )


def test_add_list_remove_with_audit(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_staff(
            session=session,
            channel=TG,
            address=str(BIG_ID),
            role="staff",
            department_key="teknik",
            name="Gata",
            actor="admin",
        )
        add_staff(session=session, channel=TG, address="42", role="coordinator", actor="admin")
        again = add_staff(
            session=session,
            channel=TG,
            address=str(BIG_ID),
            role="staff",
            department_key="teknik",
            actor="admin",
        )
        again_person = session.get(StaffPerson, again.person_id)
        assert again_person is not None and again_person.name == "Gata"
    with session_scope(engine) as session:
        rows = list_staff(session=session)
        listed = [
            (
                [i.address for i in staff_identities(session=session, person_id=m.person_id)],
                p.name,
                m.role,
                d.key if d else None,
            )
            for m, p, d in rows
        ]
        assert sorted(listed) == [
            (["42"], None, "coordinator", None),
            ([str(BIG_ID)], "Gata", "staff", "teknik"),
        ]
        teknik = department_by_key(session=session, key="teknik")
        assert teknik is not None
        assert has_role(
            session=session, telegram_user_id=BIG_ID, roles={"staff"}, department_id=teknik.id
        )
        assert not has_role(session=session, telegram_user_id=BIG_ID, roles={"coordinator"})
        assert [(r.action, r.entity_key) for r in history(session=session, entity="staff")] == [
            ("create", "telegram:42"),
            ("create", f"telegram:{BIG_ID}"),
        ]
        gata = staff_id(session, BIG_ID)
        assert remove_staff(session=session, channel=TG, address=str(BIG_ID), actor="admin") == 1
        assert remove_staff(session=session, channel=TG, address=str(BIG_ID), actor="admin") == 0
    with session_scope(engine) as session:
        assert not has_role(session=session, telegram_user_id=BIG_ID, roles={"staff"})
        latest = history(session=session, limit=1)[0]
        assert (latest.action, latest.before) == (
            "delete",
            {
                "person": gata,
                "name": "Gata",
                "role": "staff",
                "department": "teknik",
            },
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
            channel, address = parse_identity(user_id)  # what the CLI (the channel) checks
            add_staff(
                session=session,
                channel=channel,
                address=address,
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
        assert (
            redeem_invite(session=session, code="nonsense", channel=TG, address=str(5), now=NOW)
            is None
        )
        later = NOW + timedelta(hours=2)
        assert (
            redeem_invite(session=session, code=stale_code, channel=TG, address=str(5), now=later)
            is None
        )
        member = redeem_invite(
            session=session, code=code, channel=TG, address=str(BIG_ID), now=later
        )
        assert member is not None and member.role == "staff"
    with session_scope(engine) as session:
        assert (
            redeem_invite(session=session, code=code, channel=TG, address=str(6), now=later) is None
        )
        social = department_by_key(session=session, key="social")
        assert social is not None
        assert has_role(
            session=session, telegram_user_id=BIG_ID, roles={"staff"}, department_id=social.id
        )
        assert not has_role(session=session, telegram_user_id=5, roles={"staff"})
        assert not has_role(session=session, telegram_user_id=6, roles={"staff"})
        used = session.exec(select(StaffInvite).where(StaffInvite.code == code)).one()
        assert used.used_by == staff_id(session, BIG_ID) and used.used_at == later
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
    mail = run("add", "email:Clerk@Kommun.se", "--role", "staff", "--department", "teknik")
    assert mail.exit_code == 0 and "email:clerk@kommun.se is staff in teknik" in mail.stdout
    assert run("add", "fax:123", "--role", "admin").exit_code == 2
    assert run("add", "email:nobody", "--role", "admin").exit_code == 2
    listing = run("list")
    assert listing.exit_code == 0
    assert str(BIG_ID) in listing.stdout and "teknik" in listing.stdout and "Gata" in listing.stdout
    assert "email:clerk@kommun.se" in listing.stdout
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
        member = redeem_invite(session=session, code=code, channel=TG, address=str(99))
        assert member is not None
    engine.dispose()
