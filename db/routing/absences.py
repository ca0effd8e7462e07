"""A contact's absence: set and cleared through the audited contact edit."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

from db.models import Contact, utcnow
from db.plumbing.validation import (
    ABSENCE_ORDER_PROBLEM,
    NO_CONTACT_PROBLEM,
    ValidationProblem,
)
from db.routing.dates import absence_end, absence_start
from db.routing.edits import apply_contact, contact_of_kind, department_named


def set_absence(
    *,
    session: Session,
    department_key: str,
    absent_from: date | datetime | None,
    absent_until: date | datetime | None,
    actor: str,
    kind: str = "contact",
    now: datetime | None = None,
) -> Contact:
    """Mark a contact absent (dates are inclusive local days; None and None clears it)."""
    department = department_named(session, department_key)
    contact = contact_of_kind(session, department, kind)
    if contact is None:
        raise ValidationProblem(
            "department",
            NO_CONTACT_PROBLEM,
            value=department_key,
        )
    start, end = absence_start(absent_from), absence_end(absent_until)
    if start is not None and end is not None and end <= start:
        raise ValidationProblem("absent_until", ABSENCE_ORDER_PROBLEM)
    values = {"absent_from": start, "absent_until": end}
    return apply_contact(session, department, kind, contact, values, actor, now or utcnow())


def clear_absence(
    *,
    session: Session,
    department_key: str,
    actor: str,
    kind: str = "contact",
    now: datetime | None = None,
) -> Contact:
    """Mark a contact present again."""
    return set_absence(
        session=session,
        department_key=department_key,
        absent_from=None,
        absent_until=None,
        actor=actor,
        kind=kind,
        now=now,
    )
