"""Facts about an enquiry shown to staff: who asked, in which language, how long it has waited."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlmodel import Session, col, func, select

from db.enquiries.sla import LOCAL
from db.models import (
    Association,
    AssociationUser,
    Department,
    Enquiry,
    EnquiryEvent,
    Escalation,
    EventKind,
    Municipality,
)
from db.people.staff_identities import is_local_operator, person_name

# Fairness: an association with at most this many enquiries in the window (this one included)
# is marked "rarely in contact" so the coordinator does not let it drown among regulars.
RARE_CONTACT_MAX_ENQUIRIES = 2
RARE_CONTACT_WINDOW_DAYS = 365


def association_of(*, session: Session, enquiry: Enquiry) -> Association | None:
    """Return the association behind the enquiry (its own, else its user's), or None."""
    association_id = enquiry.association_id
    if association_id is None and enquiry.user_id is not None:
        user = session.get(AssociationUser, enquiry.user_id)
        association_id = user.association_id if user else None
    if association_id is None:
        return None
    return session.get(Association, association_id)


def association_name(*, session: Session, enquiry: Enquiry) -> str | None:
    """Return the name of the association behind the enquiry, or None when unknown."""
    association = association_of(session=session, enquiry=enquiry)
    return association.name if association else None


def rarely_in_contact(*, session: Session, enquiry: Enquiry, now: datetime) -> bool:
    """Tell whether the association (or the lone user) has written at most a few times this year."""
    since = now - timedelta(days=RARE_CONTACT_WINDOW_DAYS)
    query = select(func.count()).select_from(Enquiry).where(col(Enquiry.created_at) >= since)
    if enquiry.association_id is not None:
        query = query.where(Enquiry.association_id == enquiry.association_id)
    elif enquiry.user_id is not None:
        query = query.where(Enquiry.user_id == enquiry.user_id)
    else:
        return True
    count = session.exec(query).one()
    # The enquiry itself counts even if it is older than the window.
    if enquiry.created_at < since:
        count += 1
    return int(count) <= RARE_CONTACT_MAX_ENQUIRIES


def working_hours_between(
    start: datetime, end: datetime, *, day_start: int = 8, day_end: int = 16
) -> float:
    """Return the working hours (Mon–Fri, day_start–day_end local) between two moments."""
    if end <= start:
        return 0.0
    first, last = start.astimezone(LOCAL), end.astimezone(LOCAL)
    seconds = 0.0
    day = first.date()
    while day <= last.date():
        if day.weekday() < 5:
            opening = datetime.combine(day, time(day_start), LOCAL)
            closing = datetime.combine(day, time(day_end), LOCAL)
            low, high = max(opening, first), min(closing, last)
            if high > low:
                seconds += (high - low).total_seconds()
        day += timedelta(days=1)
    return seconds / 3600


def department_name(department: Department | None, language: str) -> str | None:
    """Return a department's name in the language (English name when there is one)."""
    if department is None:
        return None
    if language == "en" and department.name_en:
        return department.name_en
    return department.name


def staff_name(*, session: Session, person_id: int | None) -> str | None:
    """Return how to call a staff person: their name, else an identity of theirs."""
    return person_name(session=session, person_id=person_id)


def staff_actor(*, session: Session, person_id: int) -> str:
    """Return the actor string recorded in the history for a staff person."""
    if is_local_operator(session=session, person_id=person_id):
        return "cli"
    return f"staff:{person_id}"


@dataclass
class QueueItem:
    """One open escalation as the coordinator sees it."""

    escalation: Escalation
    enquiry: Enquiry
    association: str | None
    department: Department | None
    waited: timedelta
    waited_working_hours: float
    rarely_in_contact: bool
    guesses: list[tuple[str, float]] = field(default_factory=list)
    claimed_by_name: str | None = None
    note: str | None = None  # why, in the words of whoever sent it (a department's "not ours")


def escalation_note(*, session: Session, escalation: Escalation) -> str | None:
    """Return the free text given with an escalation (a department's reason), if any."""
    event = session.exec(
        select(EnquiryEvent)
        .where(
            EnquiryEvent.enquiry_id == escalation.enquiry_id,
            EnquiryEvent.kind == EventKind.ESCALATED,
            col(EnquiryEvent.at) >= escalation.created_at,
        )
        .order_by(col(EnquiryEvent.id).desc())
    ).first()
    text = (event.detail or {}).get("text") if event is not None else None
    return text if isinstance(text, str) and text else None


def queue_item(*, session: Session, escalation: Escalation, now: datetime) -> QueueItem:
    """Gather what the coordinator needs to know about one escalation."""
    enquiry = session.get(Enquiry, escalation.enquiry_id)
    if enquiry is None:
        raise LookupError(f"escalation {escalation.id} has no enquiry")
    department = session.get(Department, enquiry.department_id) if enquiry.department_id else None
    municipality = session.exec(select(Municipality)).first()
    hours = (
        {"day_start": municipality.workday_start_hour, "day_end": municipality.workday_end_hour}
        if municipality
        else {}
    )
    guesses: list[tuple[str, float]] = []
    for guess in enquiry.guesses or []:
        if isinstance(guess, list | tuple) and len(guess) == 2:
            key, score = guess
            if isinstance(key, str) and isinstance(score, int | float):
                guesses.append((key, float(score)))
    return QueueItem(
        escalation=escalation,
        enquiry=enquiry,
        association=association_name(session=session, enquiry=enquiry),
        department=department,
        waited=max(now - escalation.created_at, timedelta(0)),
        waited_working_hours=working_hours_between(escalation.created_at, now, **hours),
        rarely_in_contact=rarely_in_contact(session=session, enquiry=enquiry, now=now),
        guesses=guesses,
        claimed_by_name=staff_name(session=session, person_id=escalation.claimed_by),
        note=escalation_note(session=session, escalation=escalation),
    )
