"""Keyword-only data operations. Each receives the session; callers own the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, func, select

from db.enquiries.sla import add_working_hours
from db.models import (
    OPEN_STATUSES,
    Association,
    AssociationUser,
    Department,
    Enquiry,
    EnquiryEvent,
    EnquiryStatus,
    Escalation,
    EventKind,
    Municipality,
    Route,
    StaffMember,
    utcnow,
)
from db.people.identities import identity_for
from db.plumbing.keys import older_keys

REFERENCE_PREFIX = "LOT"


def format_reference(enquiry_id: int, created_at: datetime) -> str:
    """Return the human reference number for an enquiry, e.g. LOT-2026-00042."""
    return f"{REFERENCE_PREFIX}-{created_at.year}-{enquiry_id:05d}"


def get_municipality(*, session: Session) -> Municipality:
    """Return the municipality row (the database must be seeded)."""
    row = session.exec(select(Municipality)).first()
    if row is None:
        raise LookupError("the database is not seeded: run `lotsen db seed`")
    return row


def set_user_association(
    *, session: Session, user: AssociationUser, name: str, org_number: str | None
) -> Association:
    """Tie a user to an association, reusing an existing one with the same org number or name."""
    query = select(Association)
    if org_number:
        query = query.where(Association.org_number == org_number)
    else:
        query = query.where(func.lower(Association.name) == name.lower())
    association = session.exec(query).first()
    if association is None:
        association = Association(name=name, org_number=org_number)
        session.add(association)
        session.flush()
    user.association_id = association.id
    return association


def add_event(
    *,
    session: Session,
    enquiry: Enquiry,
    kind: EventKind,
    actor: str,
    now: datetime | None = None,
    **detail: Any,
) -> EnquiryEvent:
    """Append one step to an enquiry's history."""
    assert enquiry.id is not None
    event = EnquiryEvent(
        enquiry_id=enquiry.id, kind=kind, actor=actor, at=now or utcnow(), detail=detail
    )
    session.add(event)
    return event


def create_enquiry(
    *,
    session: Session,
    text: str,
    language: str,
    user: AssociationUser | None,
    message_key: str | None = None,
    detected_language: str | None = None,
    conversation: str | None = None,
    now: datetime | None = None,
) -> tuple[Enquiry, bool]:
    """Record an enquiry with a reference number; return (enquiry, created).

    `language` is the language the association is answered in, `detected_language` the one
    the text is written in (None when too short to tell). `message_key` identifies the inbound
    message; the same key never makes two enquiries.
    """
    if message_key is not None:
        found = enquiry_by_message_key(session=session, message_key=message_key)
        if found is not None:
            return found, False
    now = now or utcnow()
    if conversation is None and user is not None and user.id is not None:
        identity = identity_for(session=session, person_id=user.id, channel=user.channel)
        conversation = identity.conversation if identity is not None else None
    enquiry = Enquiry(
        text=text,
        language=language,
        detected_language=detected_language,
        message_key=message_key,
        user_id=user.id if user else None,
        association_id=user.association_id if user else None,
        chat_id=conversation_number(conversation),
        created_at=now,
        updated_at=now,
    )
    if message_key is None:
        session.add(enquiry)
        session.flush()
    else:
        inserted = insert_once(session=session, enquiry=enquiry)
        if inserted is None:  # recorded meanwhile by another process (the action server)
            found = enquiry_by_message_key(session=session, message_key=message_key)
            assert found is not None
            return found, False
        enquiry = inserted
    assert enquiry.id is not None
    enquiry.reference = format_reference(enquiry.id, now)
    add_event(
        session=session, enquiry=enquiry, kind=EventKind.RECEIVED, actor="association", now=now
    )
    return enquiry, True


def enquiry_by_message_key(*, session: Session, message_key: str) -> Enquiry | None:
    """Return the enquiry made from this inbound message (under its key or an older form)."""
    return session.exec(
        select(Enquiry).where(col(Enquiry.message_key).in_(older_keys(message_key)))
    ).first()


def conversation_number(conversation: str | None) -> int | None:
    """Return a conversation that is a number (a chat id) as the number, else None."""
    if conversation is None or not conversation.lstrip("-").isdigit():
        return None
    number = int(conversation)
    return number if -(2**63) <= number < 2**63 else None


def insert_once(*, session: Session, enquiry: Enquiry) -> Enquiry | None:
    """Insert an enquiry unless one with its message key exists (None then), in one statement.

    Checking first and inserting after leaves a moment in which the bot and the action server
    can both find nothing for the same message; `ON CONFLICT DO NOTHING` (SQLite and
    PostgreSQL) makes the second one see the first one's row instead of failing.
    """
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = enquiry.model_dump(exclude={"id"})
    statement = (
        insert(Enquiry)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["message_key"])
        .returning(col(Enquiry.id))
    )
    new_id = session.execute(statement).scalar()
    return session.get(Enquiry, new_id) if new_id is not None else None


def routes_map(*, session: Session) -> dict[str, str]:
    """Return the routing table as {intent: department key}."""
    rows = session.exec(
        select(Route.intent, Department.key).join(
            Department, col(Route.department_id) == Department.id
        )
    ).all()
    return {intent: key for intent, key in rows}


def route_enquiry(
    *,
    session: Session,
    enquiry: Enquiry,
    department: Department,
    actor: str,
    now: datetime | None = None,
    kind: EventKind = EventKind.ROUTED,
) -> None:
    """Hand an enquiry to a department with a fresh deadline in working hours."""
    now = now or utcnow()
    municipality = get_municipality(session=session)
    hours = department.sla_hours or municipality.default_sla_hours
    window = {
        "day_start": municipality.workday_start_hour,
        "day_end": municipality.workday_end_hour,
    }
    if enquiry.department_id != department.id:
        enquiry.assigned_to = None  # a colleague of the old department no longer has it
    enquiry.department_id = department.id
    enquiry.status = EnquiryStatus.ROUTED
    enquiry.routed_at = now
    enquiry.updated_at = now
    enquiry.sla_due_at = add_working_hours(now, hours, **window)
    enquiry.reminder_due_at = add_working_hours(now, hours * 0.75, **window)
    enquiry.reminded_at = None
    add_event(
        session=session,
        enquiry=enquiry,
        kind=kind,
        actor=actor,
        now=now,
        department=department.key,
        sla_due_at=enquiry.sla_due_at.isoformat(),
    )


def escalate_enquiry(
    *,
    session: Session,
    enquiry: Enquiry,
    reason: str,
    actor: str,
    now: datetime | None = None,
    note: str | None = None,
) -> Escalation:
    """Put an enquiry in the coordinator's queue (once: an open escalation is reused).

    A `note` (why, in the words of whoever sent it) is kept as the history's free text.
    """
    now = now or utcnow()
    open_one = session.exec(
        select(Escalation).where(
            Escalation.enquiry_id == enquiry.id, col(Escalation.resolved_at).is_(None)
        )
    ).first()
    enquiry.status = EnquiryStatus.ESCALATED
    enquiry.escalated_at = now
    enquiry.updated_at = now
    enquiry.sla_due_at = None
    enquiry.reminder_due_at = None
    if open_one is not None:
        return open_one
    assert enquiry.id is not None
    escalation = Escalation(enquiry_id=enquiry.id, reason=reason, created_at=now)
    session.add(escalation)
    session.flush()
    add_event(
        session=session,
        enquiry=enquiry,
        kind=EventKind.ESCALATED,
        actor=actor,
        now=now,
        reason=reason,
        **({"text": note} if note else {}),
    )
    return escalation


def enquiry_by_reference(*, session: Session, reference: str) -> Enquiry | None:
    """Return the enquiry with this reference number (case-insensitive), or None."""
    return session.exec(
        select(Enquiry).where(Enquiry.reference == reference.strip().upper())
    ).first()


def open_enquiries_for_user(*, session: Session, user: AssociationUser) -> Sequence[Enquiry]:
    """Return the user's enquiries that are not closed, newest first."""
    return session.exec(
        select(Enquiry)
        .where(
            Enquiry.user_id == user.id,
            col(Enquiry.status).in_([*OPEN_STATUSES, EnquiryStatus.ANSWERED]),
        )
        .order_by(col(Enquiry.created_at).desc())
    ).all()


def staff_roles(*, session: Session, telegram_user_id: int) -> Sequence[StaffMember]:
    """Return every role held by a Telegram user (checked on the numeric id)."""
    return session.exec(
        select(StaffMember).where(StaffMember.telegram_user_id == telegram_user_id)
    ).all()


def has_role(
    *, session: Session, telegram_user_id: int, roles: set[str], department_id: int | None = None
) -> bool:
    """Tell whether the user holds one of the roles (admins hold them all)."""
    for member in staff_roles(session=session, telegram_user_id=telegram_user_id):
        if member.role == "admin":
            return True
        if member.role in roles and (
            department_id is None or member.role != "staff" or member.department_id == department_id
        ):
            return True
    return False


def enquiry_reference_for(*, session: Session, escalation: Escalation) -> str:
    """Return the reference number of the enquiry behind an escalation."""
    enquiry = session.get(Enquiry, escalation.enquiry_id)
    return (enquiry.reference if enquiry else None) or f"#{escalation.id}"


def close_enquiry(
    *, session: Session, enquiry: Enquiry, actor: str, reason: str, now: datetime | None = None
) -> None:
    """Close an enquiry for good: no more deadlines, a CLOSED event with the reason."""
    now = now or utcnow()
    enquiry.status = EnquiryStatus.CLOSED
    enquiry.closed_at = now
    enquiry.updated_at = now
    enquiry.sla_due_at = None
    enquiry.reminder_due_at = None
    add_event(
        session=session, enquiry=enquiry, kind=EventKind.CLOSED, actor=actor, now=now, reason=reason
    )
