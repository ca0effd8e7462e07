"""Keyword-only data operations. Each receives the session; callers own the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, func, select

from db.models import (
    OPEN_STATUSES,
    Association,
    AssociationUser,
    Department,
    Enquiry,
    EnquiryStatus,
    Escalation,
    Municipality,
    Route,
    StaffMember,
)
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


def staff_roles(*, session: Session, person_id: int | None) -> Sequence[StaffMember]:
    """Return every role held by a staff person (none for None: someone unknown)."""
    if person_id is None:
        return []
    return session.exec(select(StaffMember).where(StaffMember.person_id == person_id)).all()


def has_role(
    *, session: Session, person_id: int | None, roles: set[str], department_id: int | None = None
) -> bool:
    """Tell whether the staff person holds one of the roles (admins hold them all)."""
    for member in staff_roles(session=session, person_id=person_id):
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
