"""Staff keep their routes and contacts in a private chat; changes apply to the next question."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.settings import Settings
from db.models import AuditEntry, Contact, Route
from db.plumbing.session import make_engine, session_scope
from db.routing import absences, edits
from harness.telegram import (
    Harness,
    has,
    new_user_id,
)

DEPARTMENT = "upphandling"
QUESTION = "Hur kan vår förening bli leverantör till kommunen och lämna anbud i en upphandling?"
MAIN_EMAIL = "upphandling@storasa.example"
DEPUTY_EMAIL = "upphandlare@storasa.example"


@pytest.fixture(autouse=True)
def restore_demo_contact(rasa_stack: Settings) -> Iterator[None]:
    """Put the department's demo contact back for the other tests sharing the database."""
    yield
    engine = make_engine(rasa_stack.database_url)
    with session_scope(engine) as session:
        edits.update_contact(
            session=session,
            department_key=DEPARTMENT,
            kind="contact",
            changes={"email": MAIN_EMAIL},
            actor="test",
        )
        absences.clear_absence(session=session, department_key=DEPARTMENT, actor="test")
    engine.dispose()


def audit_rows(h: Harness, actor: str) -> list[AuditEntry]:
    """Return the audit entries written by an actor."""
    with Session(h.engine) as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.actor == actor)).all())


def contact(h: Harness, kind: str = "contact") -> Contact:
    """Return the department's contact row."""
    department = h.department(DEPARTMENT)
    with Session(h.engine) as session:
        return session.exec(
            select(Contact).where(Contact.department_id == department.id, Contact.kind == kind)
        ).one()


async def command(h: Harness, user: int, text: str, expect: str) -> dict[str, Any]:
    """Send a command in a private chat and wait for the reply containing `expect`."""
    mark = h.mark()
    name, *args = text.split(" ")
    h.fake.command(user, name, *args)
    return await h.message_to(user, has(expect), after=mark)


async def test_contact_change_applies_to_the_next_question(harness: Harness) -> None:
    h = harness
    clerk, association = new_user_id(), new_user_id()
    h.add_staff(clerk, "staff", DEPARTMENT)

    await command(h, clerk, "/contact email fel-adress", "e-post")
    assert contact(h).email == MAIN_EMAIL
    assert audit_rows(h, f"telegram:{clerk}") == []

    await command(h, clerk, "/contact email anbud@storasa.example", "Sparat")
    assert contact(h).email == "anbud@storasa.example"
    rows = audit_rows(h, f"telegram:{clerk}")
    assert len(rows) == 1 and rows[0].before is not None and rows[0].after is not None
    assert rows[0].before.get("email") == MAIN_EMAIL
    assert rows[0].after.get("email") == "anbud@storasa.example"

    mark = h.mark()
    h.fake.user_message(association, QUESTION)
    reply = await h.message_to(association, has("LOT-"), after=mark)
    assert "anbud@storasa.example" in reply["text"]


async def test_absence_switches_to_the_deputy_and_back(harness: Harness) -> None:
    h = harness
    clerk, association = new_user_id(), new_user_id()
    h.add_staff(clerk, "staff", DEPARTMENT)
    await command(h, clerk, "/absent 2020-01-01 2099-12-31", "Sparat")
    mark = h.mark()
    h.fake.user_message(association, QUESTION)
    reply = await h.message_to(association, has("LOT-"), after=mark)
    assert DEPUTY_EMAIL in reply["text"] and MAIN_EMAIL not in reply["text"]

    await command(h, clerk, "/absent clear", "Sparat")
    mark = h.mark()
    h.fake.user_message(association, QUESTION + " Vi undrar igen.")
    reply = await h.message_to(association, has("LOT-"), after=mark)
    assert MAIN_EMAIL in reply["text"]

    await command(h, clerk, "/absent tisdag", "/absent 2026-12-01")


async def test_routes_and_verify(harness: Harness) -> None:
    h = harness
    clerk = new_user_id()
    h.add_staff(clerk, "staff", DEPARTMENT)
    overview = await command(h, clerk, "/routes", "Ämnen som kommer till er")
    with Session(h.engine) as session:
        department = h.department(DEPARTMENT)
        intents = [
            r.intent
            for r in session.exec(select(Route).where(Route.department_id == department.id))
        ]
    assert intents and all(intent in overview["text"] for intent in intents)
    await command(h, clerk, "/verify topic_finns_inte", "finns inte")
    await command(h, clerk, "/verify all", f"{len(intents)} ämnen")
    with Session(h.engine) as session:
        routes = session.exec(select(Route).where(Route.department_id == department.id)).all()
    assert all(r.last_verified_at is not None for r in routes)


async def test_non_staff_are_refused_and_logged(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    stranger = new_user_id()
    caplog.set_level(logging.WARNING, logger="bot.channels.telegram.department")
    for text in ("/routes", "/contact email x@y.se", "/absent clear", "/verify all"):
        await command(h, stranger, text, "inte behörighet")
    assert contact(h).email == MAIN_EMAIL
    assert audit_rows(h, f"telegram:{stranger}") == []
    refusals = [
        r for r in caplog.records if "Refused" in r.getMessage() and str(stranger) in r.getMessage()
    ]
    assert len(refusals) == 4


async def test_invite_link_works_once(harness: Harness) -> None:
    from db.models import StaffMember
    from db.people.staff import create_invite
    from db.people.staff_identities import find_staff_person

    h = harness
    newcomer, latecomer = new_user_id(), new_user_id()
    with session_scope(h.engine) as session:
        code = create_invite(session=session, department_key=DEPARTMENT, actor="admin").code
    await command(h, newcomer, f"/start {code}", "registrerad i Lotsen med rollen staff")
    await command(h, latecomer, f"/start {code}", "Inbjudan fungerar inte")
    with Session(h.engine) as session:
        people = {
            staff.id: user
            for user in (newcomer, latecomer)
            if (staff := find_staff_person(session=session, channel="telegram", address=str(user)))
        }
        members = session.exec(
            select(StaffMember).where(col(StaffMember.person_id).in_(list(people)))
        ).all()
    assert [(people[m.person_id], m.role) for m in members] == [(newcomer, "staff")]
    assert members[0].department_id == h.department(DEPARTMENT).id
    await command(h, newcomer, "/routes", "Ämnen som kommer till er")
