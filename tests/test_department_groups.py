"""A department's chat group as a channel address (`Department.group_chat`, migration 0180):
the routing file's `telegram_chat_id:` field, the check of a chat id, the forward to the group,
and the migration carrying every stored id over and back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.channels.telegram.outbox import resolve_chat
from bot.i18n import translate
from db.enquiries import notifications as notify
from db.enquiries.reach import department_reach
from db.models import Contact, Department, OutboxMessage
from db.people.departments import department_by_key
from db.plumbing.migrate import downgrade, upgrade
from db.plumbing.session import make_engine, session_scope
from db.plumbing.validation import ValidationProblem
from db.routing.edits import update_contact, update_department
from db.routing.export import dump_table, export_table
from db.routing.importing import import_table
from harness.database import set_group_chat
from tests.test_routing_table import INTENTS, audit_count

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
BIG_GROUP = -1_001_234_567_890_123  # a supergroup's id: beyond 32 bits, negative


def _forward_to(department_id: int) -> OutboxMessage:
    """Return an (unsaved) forward to a department on the chat app, as the outbox holds it."""
    return OutboxMessage(
        kind=notify.Kind.FORWARD,
        channel=notify.Channel.TELEGRAM,
        recipient=notify.Recipient.DEPARTMENT,
        recipient_id=department_id,
        language="sv",
        params={},
    )


def _exported(engine: Engine) -> str:
    with session_scope(engine) as session:
        return dump_table(export_table(session=session))


def test_an_old_routing_file_sets_the_group_and_the_export_writes_it_back(engine: Engine) -> None:
    data = yaml.safe_load(_exported(engine))
    culture = next(d for d in data["departments"] if d["key"] == "kultur_fritid")
    assert culture["telegram_chat_id"] is None  # the field is written, empty without a group
    culture["telegram_chat_id"] = BIG_GROUP
    with session_scope(engine) as session:
        result = import_table(
            session=session, text=yaml.safe_dump(data), actor="t", domain_intents=INTENTS
        )
        assert result.ok, result.problems
    with session_scope(engine) as session:
        department = department_by_key(session=session, key="kultur_fritid")
        assert department is not None and department.group_chat == str(BIG_GROUP)
        reach = department_reach(session=session, department=department, email_enabled=False)
        assert reach.channels == (notify.Channel.TELEGRAM,)
    exported = _exported(engine)
    assert f"telegram_chat_id: {BIG_GROUP}\n" in exported  # a number, as files always had it
    with session_scope(engine) as session:  # and the written file imports as a no-op
        before = audit_count(session)
        result = import_table(session=session, text=exported, actor="t", domain_intents=INTENTS)
        assert result.ok and result.changes == []
        assert audit_count(session) == before


@pytest.mark.parametrize("value", ["-10o2", "0", "12345678901234567890", "true"])
def test_a_chat_id_that_is_not_one_is_refused_at_its_line(engine: Engine, value: str) -> None:
    data = yaml.safe_load(_exported(engine))
    culture = next(d for d in data["departments"] if d["key"] == "kultur_fritid")
    culture["telegram_chat_id"] = value
    broken = yaml.safe_dump(data)
    with session_scope(engine) as session:
        before = audit_count(session)
        result = import_table(session=session, text=broken, actor="t", domain_intents=INTENTS)
        assert not result.ok
        assert audit_count(session) == before
        department = department_by_key(session=session, key="kultur_fritid")
        assert department is not None and department.group_chat is None
    [problem] = result.problems
    [at] = [
        n
        for n, line in enumerate(broken.splitlines(), 1)
        if "telegram_chat_id:" in line and "null" not in line  # the only department with one
    ]
    assert problem.line == at
    assert "telegram_chat_id" in translate("en", problem.message)


def test_edits_check_the_group_and_the_contacts_chat(engine: Engine) -> None:
    with session_scope(engine) as session:
        department = update_department(
            session=session,
            department_key="teknik",
            changes={"group_chat": f" {BIG_GROUP} "},
            actor="t",
        )
        assert department.group_chat == str(BIG_GROUP)
        contact = update_contact(
            session=session,
            department_key="teknik",
            kind="contact",
            changes={"chat": "42"},
            actor="t",
        )
        assert contact.chat == "42"
        with pytest.raises(ValidationProblem) as refused:
            update_department(
                session=session, department_key="teknik", changes={"group_chat": "-0"}, actor="t"
            )
        assert refused.value.field == "group_chat"
        update_department(
            session=session, department_key="teknik", changes={"group_chat": ""}, actor="t"
        )
        assert department.group_chat is None


def test_a_forward_to_the_group_goes_to_its_chat_id(engine: Engine) -> None:
    with session_scope(engine) as session:
        department = department_by_key(session=session, key="teknik")
        assert department is not None and department.id is not None
        set_group_chat(department, BIG_GROUP)
        row = _forward_to(department.id)
        assert resolve_chat(session, row, None) == BIG_GROUP  # the 64-bit id, exactly
        set_group_chat(department, None)
        assert resolve_chat(session, row, None) is None


# --- migration 0180 -----------------------------------------------------------------------------


def _old_rows(engine: Engine) -> None:
    """Write departments and contacts as revision 0170 held them: numeric chat ids."""
    with engine.begin() as connection:
        for dept_id, key, chat in ((1, "kultur", BIG_GROUP), (2, "teknik", None), (3, "ny", 77)):
            connection.execute(
                text(
                    "INSERT INTO department (id, key, name, languages, sla_hours,"
                    " telegram_chat_id, channels, handles, created_at) VALUES"
                    " (:id, :key, :key, '[\"sv\"]', 48, :chat, 'telegram', '[]', :now)"
                ),
                {"id": dept_id, "key": key, "chat": chat, "now": NOW},
            )
        for contact_id, chat in ((1, 5_000_000_001), (2, None)):
            connection.execute(
                text(
                    "INSERT INTO contact (id, department_id, kind, role, telegram_chat_id,"
                    " updated_at) VALUES (:id, :id, 'contact', 'Kontakt', :chat, :now)"
                ),
                {"id": contact_id, "chat": chat, "now": NOW},
            )


def _old_values(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {
            table: [
                tuple(r)
                for r in connection.execute(
                    text(f"SELECT id, telegram_chat_id FROM {table} ORDER BY id")
                ).all()
            ]
            for table in ("department", "contact")
        }


def test_migration_0180_carries_every_chat_id_over_and_back(database_url: str) -> None:
    upgrade(database_url, "0170")
    engine = make_engine(database_url)
    try:
        _old_rows(engine)
        before = _old_values(engine)
        assert before["department"] == [(1, BIG_GROUP), (2, None), (3, 77)]
        upgrade(database_url, "0180")
        assert "telegram_chat_id" not in {
            c["name"] for c in inspect(engine).get_columns("department")
        }
        with Session(engine) as session:
            departments = session.exec(select(Department).order_by(col(Department.id))).all()
            assert [(d.key, d.group_chat) for d in departments] == [
                ("kultur", str(BIG_GROUP)),
                ("teknik", None),
                ("ny", "77"),
            ]
            contacts = session.exec(select(Contact).order_by(col(Contact.id))).all()
            assert [c.chat for c in contacts] == ["5000000001", None]
            culture, technical = departments[0], departments[1]
            reach = department_reach(session=session, department=culture, email_enabled=False)
            assert reach.channels == (notify.Channel.TELEGRAM,)
            reach = department_reach(session=session, department=technical, email_enabled=False)
            assert not reach.reachable
            assert culture.id is not None
            row = _forward_to(culture.id)
            assert resolve_chat(session, row, None) == BIG_GROUP
        downgrade(database_url, "0170")
        assert "group_chat" not in {c["name"] for c in inspect(engine).get_columns("department")}
        assert _old_values(engine) == before
        upgrade(database_url)
        with Session(engine) as session:
            culture_again = session.get(Department, 1)
            assert culture_again is not None and culture_again.group_chat == str(BIG_GROUP)
    finally:
        engine.dispose()
