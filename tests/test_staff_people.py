"""Staff people with channel identities (db/people/staff_identities.py) and migration 0160:
one colleague whether they come by Telegram, by desk password or from the command line."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.channels.desk.accounts import add_account
from bot.channels.desk.auth import load_principal, start_session
from bot.channels.telegram.common import staff_person_id
from bot.channels.telegram.outbox import resolve_chat
from db.enquiries import queue as q
from db.enquiries import workflow
from db.enquiries.queue_facts import queue_item
from db.models import (
    DeskAccount,
    DeskLoginToken,
    DeskSession,
    Enquiry,
    EnquiryEvent,
    Escalation,
    EventKind,
    OutboxMessage,
    StaffInvite,
    StaffMember,
    StaffPerson,
)
from db.people import departments
from db.people.staff import department_colleagues
from db.people.staff_identities import (
    add_staff_identity,
    find_staff_person,
    is_local_operator,
    staff_identities,
)
from db.plumbing.migrate import downgrade, upgrade
from db.plumbing.session import make_engine, session_scope
from harness.people import staff_member
from harness.workflow import escalated_enquiry, local, routed_enquiry

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
MONDAY_9 = local(2026, 3, 16, 9)
SAM_TELEGRAM, CORA_TELEGRAM = 5_000_000_001, 6001
PASSWORD = "a long enough password"


def _sam_and_cora(session: Session) -> tuple[int, int]:
    """Sam (kultur_fritid staff) and Cora (coordinator): each on Telegram and with an account."""
    culture = departments.department_by_key(session=session, key="kultur_fritid")
    assert culture is not None and culture.id is not None
    sam = staff_member(session, SAM_TELEGRAM, "staff", culture.id, name="Sam").person_id
    cora = staff_member(session, CORA_TELEGRAM, "coordinator", name="Cora").person_id
    add_account(
        session=session,
        username="sam.desk",
        password=PASSWORD,
        role="staff",
        department_key="kultur_fritid",
        person_id=sam,
    )
    add_account(
        session=session, username="cora.desk", password=PASSWORD, role="coordinator", person_id=cora
    )
    return sam, cora


def _account_id(session: Session, username: str) -> int:
    account = session.exec(select(DeskAccount).where(DeskAccount.username == username)).one()
    assert account.id is not None
    return account.id


def test_a_staff_member_with_telegram_and_a_desk_account_is_one_colleague(engine: Engine) -> None:
    with session_scope(engine) as session:
        sam, cora = _sam_and_cora(session)
        add_staff_identity(session=session, person_id=sam, channel="email", address="Sam@Kommun.se")
    with session_scope(engine) as session:
        culture = departments.department_by_key(session=session, key="kultur_fritid")
        assert culture is not None and culture.id is not None
        colleagues = department_colleagues(session=session, department_id=culture.id)
        assert [(c.staff_id, c.name) for c in colleagues] == [(sam, "Sam")]
        assert [
            (i.channel, i.address) for i in staff_identities(session=session, person_id=sam)
        ] == [
            ("telegram", str(SAM_TELEGRAM)),
            ("email", "sam@kommun.se"),
        ]
        # The Telegram channel and both desk sign-ins name the same person.
        assert staff_person_id(session, SAM_TELEGRAM) == sam
        by_password = start_session(session=session, account_id=_account_id(session, "sam.desk"))
        by_link = start_session(session=session, person_id=sam)
        principals = [load_principal(session=session, cookie=c) for c in (by_password, by_link)]
        assert [p.staff_user_id if p else None for p in principals] == [sam, sam]
        assert staff_person_id(session, CORA_TELEGRAM) == cora != sam
        assert staff_person_id(session, 999) is None


def test_assignment_and_claim_by_desk_and_by_telegram_show_the_same_name(engine: Engine) -> None:
    with session_scope(engine) as session:
        sam, cora = _sam_and_cora(session)
        first = routed_enquiry(session, now=MONDAY_9)
        second = routed_enquiry(session, now=MONDAY_9)
        _, by_telegram = escalated_enquiry(session, now=MONDAY_9)
        _, by_desk = escalated_enquiry(session, now=MONDAY_9)
        ids = (first.id, second.id)
    with session_scope(engine) as session:
        # A clerk in the desk (signed in with the password) and one on Telegram assign to Sam.
        desk = load_principal(
            session=session,
            cookie=start_session(session=session, account_id=_account_id(session, "sam.desk")),
        )
        assert desk is not None
        via_telegram = staff_person_id(session, SAM_TELEGRAM)
        assert via_telegram is not None
        for enquiry_id, staff_id in zip(ids, (desk.staff_user_id, via_telegram), strict=True):
            enquiry = session.get(Enquiry, enquiry_id)
            assert enquiry is not None
            workflow.assign_enquiry(session=session, enquiry=enquiry, staff_id=staff_id, actor="x")
        # Cora claims one escalation from Telegram, the other from the desk.
        cora_on_telegram = staff_person_id(session, CORA_TELEGRAM)
        assert cora_on_telegram is not None
        cora_desk = load_principal(
            session=session,
            cookie=start_session(session=session, account_id=_account_id(session, "cora.desk")),
        )
        assert cora_desk is not None
        q.claim(session=session, escalation_id=by_telegram, staff_user_id=cora_on_telegram)
        q.claim(session=session, escalation_id=by_desk, staff_user_id=cora_desk.staff_user_id)
    with session_scope(engine) as session:
        assigned = [session.get(Enquiry, i) for i in ids]
        assert [e.assigned_to if e else None for e in assigned] == [sam, sam]
        names = session.exec(
            select(EnquiryEvent)
            .where(EnquiryEvent.kind == EventKind.ASSIGNED)
            .order_by(col(EnquiryEvent.id))
        ).all()
        assert [(e.detail["to"], e.detail["staff_id"]) for e in names] == [
            ("Sam", sam),
            ("Sam", sam),
        ]
        # Sam is told on Telegram both times, whoever assigned: one person, one chat.
        told = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == "assigned_to_you")
        ).all()
        assert [resolve_chat(session, row, None) for row in told] == [SAM_TELEGRAM] * 2
        claims = [session.get(Escalation, e) for e in (by_telegram, by_desk)]
        assert [c.claimed_by if c else None for c in claims] == [cora, cora]
        items = [queue_item(session=session, escalation=c, now=MONDAY_9) for c in claims if c]
        assert [i.claimed_by_name for i in items] == ["Cora", "Cora"]


def test_the_command_line_operator_is_a_staff_person_too(engine: Engine) -> None:
    from bot.cli.queue import _staff_id

    with session_scope(engine) as session:
        _, escalation_id = escalated_enquiry(session, now=MONDAY_9)
        operator = _staff_id(session, "cli")
        assert _staff_id(session, "cli") == operator  # the same person every time
        q.claim(session=session, escalation_id=escalation_id, staff_user_id=operator)
    with session_scope(engine) as session:
        assert is_local_operator(session=session, person_id=operator)
        escalation = session.get(Escalation, escalation_id)
        assert escalation is not None and escalation.claimed_by == operator
        item = queue_item(session=session, escalation=escalation, now=MONDAY_9)
        assert item.claimed_by_name == "cli"
        claimed = session.exec(select(EnquiryEvent).where(EnquiryEvent.kind == "claimed")).one()
        assert claimed.actor == "cli"


# --- migration 0160 -----------------------------------------------------------------------------

BIG = 7_000_000_000_123  # a Telegram id beyond 32 bits


def _old_rows(engine: Engine) -> None:
    """Write staff as revision 0140 held them: Telegram ids, minus a desk account's id, 0."""
    rows: list[tuple[str, Mapping[str, object]]] = [
        (
            "INSERT INTO department (id, key, name, languages, sla_hours, channels, handles,"
            " created_at) VALUES (1, 'kultur', 'Kultur', '[\"sv\"]', 48, 'telegram', '[]', :now)",
            {},
        ),
        (
            "INSERT INTO staff_member (id, telegram_user_id, name, role, department_id,"
            " created_at, created_by) VALUES (:id, :user, :name, :role, :dept, :now, 'cli')",
            {"id": 1, "user": BIG, "name": "Gata", "role": "staff", "dept": 1},
        ),
        (
            "INSERT INTO staff_member (id, telegram_user_id, name, role, department_id,"
            " created_at, created_by) VALUES (:id, :user, :name, :role, :dept, :now, 'cli')",
            {"id": 2, "user": 42, "name": None, "role": "coordinator", "dept": None},
        ),
        (
            "INSERT INTO staff_member (id, telegram_user_id, name, role, department_id,"
            " created_at, created_by) VALUES (:id, :user, :name, :role, :dept, :now, 'cli')",
            {"id": 3, "user": 42, "name": "Cora", "role": "admin", "dept": None},
        ),
        (
            "INSERT INTO desk_account (id, username, password_hash, role, department_id,"
            " created_at) VALUES (1, 'sam', 'hash', 'staff', 1, :now)",
            {},
        ),
        (
            "INSERT INTO staff_invite (id, code, role, department_id, expires_at, used_at,"
            " used_by) VALUES (1, 'code', 'staff', 1, :now, :now, :user)",
            {"user": BIG},
        ),
        (
            "INSERT INTO desk_login_token (id, token_hash, telegram_user_id, created_at,"
            " expires_at) VALUES (1, :hash, 42, :now, :now)",
            {"hash": "a" * 64},
        ),
        (
            "INSERT INTO desk_session (id, session_hash, telegram_user_id, account_id,"
            " csrf_token, created_at, last_seen_at, expires_at) VALUES"
            " (:id, :hash, :user, :account, 'c', :now, :now, :now)",
            {"id": 1, "hash": "b" * 64, "user": 42, "account": None},
        ),
        (
            "INSERT INTO desk_session (id, session_hash, telegram_user_id, account_id,"
            " csrf_token, created_at, last_seen_at, expires_at) VALUES"
            " (:id, :hash, :user, :account, 'c', :now, :now, :now)",
            {"id": 2, "hash": "c" * 64, "user": None, "account": 1},
        ),
        *[
            (
                "INSERT INTO enquiry (id, text, language, guesses, status, assigned_to,"
                " created_at, updated_at) VALUES (:id, 'Fråga', 'sv', '[]', 'routed', :to,"
                " :now, :now)",
                {"id": enquiry_id, "to": assigned},
            )
            for enquiry_id, assigned in ((1, BIG), (2, -1), (3, None))
        ],
        *[
            (
                "INSERT INTO escalation (id, enquiry_id, reason, created_at, claimed_by)"
                " VALUES (:id, :id, 'unsure', :now, :by)",
                {"id": escalation_id, "by": claimed},
            )
            for escalation_id, claimed in ((1, 42), (2, 0), (3, None))
        ],
        (
            "INSERT INTO outbox_message (id, kind, channel, recipient, recipient_id, language,"
            " params, created_at, attempts) VALUES (1, 'route_review', 'telegram', 'staff',"
            " :user, 'sv', '{}', :now, 0)",
            {"user": BIG},
        ),
    ]
    with engine.begin() as connection:
        for statement, values in rows:
            connection.execute(text(statement), {"now": NOW, **values})


def _old_values(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    queries = {
        "staff_member": "SELECT id, telegram_user_id, name, role, department_id FROM staff_member",
        "staff_invite": "SELECT id, used_by FROM staff_invite",
        "desk_login_token": "SELECT id, telegram_user_id FROM desk_login_token",
        "desk_session": "SELECT id, telegram_user_id, account_id FROM desk_session",
        "enquiry": "SELECT id, assigned_to FROM enquiry",
        "escalation": "SELECT id, claimed_by FROM escalation",
        "outbox_message": "SELECT id, recipient_id FROM outbox_message",
    }
    with engine.connect() as connection:
        return {
            table: [tuple(r) for r in connection.execute(text(f"{sql} ORDER BY id")).all()]
            for table, sql in queries.items()
        }


def test_migration_0160_carries_every_staff_row_into_staff_people_and_back(
    database_url: str,
) -> None:
    upgrade(database_url, "0140")
    engine = make_engine(database_url)
    try:
        _old_rows(engine)
        upgrade(database_url, "0160")
        assert "telegram_user_id" not in {
            c["name"] for c in inspect(engine).get_columns("staff_member")
        }
        with Session(engine) as session:
            gata = find_staff_person(session=session, channel="telegram", address=str(BIG))
            cora = find_staff_person(session=session, channel="telegram", address="42")
            operator = find_staff_person(session=session, channel="cli", address="local")
            assert gata and cora and operator and gata.id and cora.id and operator.id
            assert (gata.name, cora.name, operator.name) == ("Gata", "Cora", "cli")
            account = session.get(DeskAccount, 1)
            assert account is not None and account.person_id not in (gata.id, cora.id)
            sam = account.person_id
            members = session.exec(select(StaffMember).order_by(col(StaffMember.id))).all()
            assert [(m.id, m.person_id, m.role, m.department_id) for m in members] == [
                (1, gata.id, "staff", 1),
                (2, cora.id, "coordinator", None),
                (3, cora.id, "admin", None),
            ]
            invite = session.get(StaffInvite, 1)
            assert invite is not None and invite.used_by == gata.id
            token = session.get(DeskLoginToken, 1)
            assert token is not None and token.person_id == cora.id
            sessions = session.exec(select(DeskSession).order_by(col(DeskSession.id))).all()
            assert [(s.person_id, s.account_id) for s in sessions] == [(cora.id, None), (None, 1)]
            enquiries = session.exec(select(Enquiry).order_by(col(Enquiry.id))).all()
            assert [e.assigned_to for e in enquiries] == [gata.id, sam, None]
            escalations = session.exec(select(Escalation).order_by(col(Escalation.id))).all()
            assert [e.claimed_by for e in escalations] == [cora.id, operator.id, None]
            names = [queue_item(session=session, escalation=e, now=NOW) for e in escalations]
            assert [n.claimed_by_name for n in names] == ["Cora", "cli", None]
            row = session.get(OutboxMessage, 1)
            assert row is not None and row.recipient_id == gata.id
            assert resolve_chat(session, row, None) == BIG  # the 64-bit id, exactly
        with session_scope(engine) as session:  # the new model works on the carried rows
            member = staff_member(session, 77, "coordinator", name="New")
            assert member.id == 4 and member.person_id not in (gata.id, cora.id, sam)
            session.delete(member)
        before = {
            "staff_member": [
                (1, BIG, "Gata", "staff", 1),
                (2, 42, "Cora", "coordinator", None),  # the person's name, on each role
                (3, 42, "Cora", "admin", None),
            ],
            "staff_invite": [(1, BIG)],
            "desk_login_token": [(1, 42)],
            "desk_session": [(1, 42, None), (2, None, 1)],
            "enquiry": [(1, BIG), (2, -1), (3, None)],
            "escalation": [(1, 42), (2, 0), (3, None)],
            "outbox_message": [(1, BIG)],
        }
        downgrade(database_url, "0140")
        assert "staff_person" not in inspect(engine).get_table_names()
        assert _old_values(engine) == before
        upgrade(database_url)
        with Session(engine) as session:
            assert len(session.exec(select(StaffMember)).all()) == 3
            escalation = session.get(Escalation, 2)
            assert escalation is not None and escalation.claimed_by is not None
            assert is_local_operator(session=session, person_id=escalation.claimed_by)
    finally:
        engine.dispose()


def test_removing_the_last_role_erases_the_staff_persons_name_and_identities(
    engine: Engine,
) -> None:
    from db.people.staff import add_staff, remove_staff

    with session_scope(engine) as session:
        member = add_staff(
            session=session,
            channel="email",
            address="Clerk@Kommun.se",
            role="coordinator",
            name="Clerk",
            actor="admin",
            now=NOW,
        )
        person_id = member.person_id
        assert remove_staff(
            session=session, channel="email", address="clerk@kommun.se", actor="admin"
        )
    with session_scope(engine) as session:
        assert (
            find_staff_person(session=session, channel="email", address="clerk@kommun.se") is None
        )
        assert staff_identities(session=session, person_id=person_id) == []
        person = session.get(StaffPerson, person_id)
        assert person is not None and person.name is None and person.erased_at is not None
