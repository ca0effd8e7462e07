"""Departments and who answers for them: lookups, today's contact, the mailbox."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from db.models import (
    Contact,
    Department,
    utcnow,
)


def department_by_key(*, session: Session, key: str) -> Department | None:
    """Return the department with this key, or None."""
    return session.exec(select(Department).where(Department.key == key)).first()


def active_contact(
    *, session: Session, department: Department, now: datetime | None = None
) -> Contact | None:
    """Return the department's contact, or its deputy while the contact is marked absent."""
    now = now or utcnow()
    contacts = {
        c.kind: c
        for c in session.exec(select(Contact).where(Contact.department_id == department.id))
    }
    main = contacts.get("contact")
    deputy = contacts.get("deputy")
    if main is not None and is_absent(main, now) and deputy is not None:
        return deputy
    return main or deputy


def department_mailbox(
    *, session: Session, department: Department, now: datetime | None = None
) -> str | None:
    """Return where a department's e-mail goes: its functional mailbox, else today's contact."""
    if department.mailbox:
        return department.mailbox
    contact = active_contact(session=session, department=department, now=now)
    return contact.email if contact is not None and contact.email else None


def is_absent(contact: Contact, now: datetime) -> bool:
    """Tell whether a contact is marked absent at this moment."""
    if contact.absent_from is None and contact.absent_until is None:
        return False
    starts = contact.absent_from is None or contact.absent_from <= now
    ends = contact.absent_until is None or now < contact.absent_until
    return starts and ends
