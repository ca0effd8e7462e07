"""The department's and the association's steps on an enquiry: answer, not ours, assign, note,
feedback. Each checks its input and the enquiry's state, then calls the one step of the
lifecycle (db/enquiries/lifecycle/) that writes status, event, audit row and notifications
in the caller's transaction; nothing is rendered or sent from here.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from db.enquiries import crud, lifecycle
from db.enquiries.lifecycle import (
    SYSTEM_ACTOR,
    WAITING_STATUSES,
    WorkflowError,
    iso_moment,
    reference_of,
)
from db.enquiries.lifecycle.handling import MAX_ANSWER_CHARS
from db.models import (
    Department,
    Enquiry,
    EnquiryStatus,
    Escalation,
    OutboxMessage,
    StaffRole,
    utcnow,
)
from db.people.staff import department_colleagues
from db.plumbing.phrases import N_

__all__ = [
    "MAX_ANSWER_CHARS",
    "SYSTEM_ACTOR",
    "WAITING_STATUSES",
    "WorkflowError",
    "add_note",
    "answer_enquiry",
    "assign_enquiry",
    "ensure_with_department",
    "find_by_message",
    "iso_moment",
    "may_answer_for_department",
    "not_ours",
    "record_feedback",
    "reference_of",
]

answer_enquiry = lifecycle.answered
MAX_NOTE_CHARS = 2000
"""The longest internal note, or reason for "not ours", a department may write."""
NO_COLLEAGUE = N_("Välj en kollega på förvaltningen.")


def _cleaned_note(text: str | None, *, required: bool) -> str | None:
    """Return a department's note or reason stripped, refusing an empty or too long one."""
    cleaned = (text or "").strip()
    if not cleaned:
        if required:
            raise WorkflowError(N_("Anteckningen är tom: skriv några ord."))
        return None
    if len(cleaned) > MAX_NOTE_CHARS:
        raise WorkflowError(
            N_("Texten har {length} tecken; gränsen är {limit}."),
            length=len(cleaned),
            limit=MAX_NOTE_CHARS,
        )
    return cleaned


def ensure_with_department(enquiry: Enquiry) -> None:
    """Refuse a department's step on an enquiry that no longer waits for the department."""
    if enquiry.status == EnquiryStatus.ANSWERED:
        raise WorkflowError(N_("{reference} är redan besvarat."), reference=reference_of(enquiry))
    if enquiry.status == EnquiryStatus.CLOSED:
        raise WorkflowError(
            N_("{reference} är avslutat och kan inte besvaras."), reference=reference_of(enquiry)
        )
    if enquiry.status not in WAITING_STATUSES:
        raise WorkflowError(
            N_("{reference} ligger hos samordnaren; förvaltningen kan inte ändra det nu."),
            reference=reference_of(enquiry),
        )


def _department_of(session: Session, enquiry: Enquiry) -> Department | None:
    return session.get(Department, enquiry.department_id) if enquiry.department_id else None


def not_ours(
    *,
    session: Session,
    enquiry: Enquiry,
    actor: str,
    now: datetime | None = None,
    reason: str | None = None,
) -> Escalation:
    """Take the department's word that the enquiry is not theirs: escalate it with a card.

    An optional reason (the desk asks for one) goes to the coordinator with the card; the
    department's mailbox hears that the enquiry went back.
    """
    now = now or utcnow()
    if enquiry.status not in WAITING_STATUSES:
        raise WorkflowError(N_("{reference} är redan hanterat."), reference=reference_of(enquiry))
    note = _cleaned_note(reason, required=False)
    return lifecycle.returned(session=session, enquiry=enquiry, actor=actor, note=note, now=now)


def assign_enquiry(
    *,
    session: Session,
    enquiry: Enquiry,
    staff_id: int,
    actor: str,
    now: datetime | None = None,
) -> None:
    """Give a waiting enquiry to one colleague of its department; tell them and the mailbox."""
    now = now or utcnow()
    ensure_with_department(enquiry)
    department = _department_of(session, enquiry)
    assert department is not None and department.id is not None
    colleague = next(
        (
            c
            for c in department_colleagues(session=session, department_id=department.id)
            if c.staff_id == staff_id
        ),
        None,
    )
    if colleague is None:
        raise WorkflowError(NO_COLLEAGUE)
    if enquiry.assigned_to == staff_id:
        return
    lifecycle.assigned(
        session=session,
        enquiry=enquiry,
        department=department,
        staff_id=staff_id,
        name=colleague.name,
        actor=actor,
        now=now,
    )


def add_note(
    *, session: Session, enquiry: Enquiry, text: str, actor: str, now: datetime | None = None
) -> None:
    """Add an internal note to the enquiry's history; it is never sent to the association."""
    note = _cleaned_note(text, required=True)
    assert note is not None
    lifecycle.noted(session=session, enquiry=enquiry, text=note, actor=actor, now=now)


def record_feedback(
    *, session: Session, enquiry: Enquiry, helpful: bool, actor: str, now: datetime | None = None
) -> Escalation | None:
    """Close a helpful answer, or reopen an unhelpful one to the coordinator (its escalation)."""
    return lifecycle.feedback(
        session=session, enquiry=enquiry, helpful=helpful, actor=actor, now=now
    )


def find_by_message(
    *, session: Session, channel: str, address: str, external_id: str
) -> tuple[Enquiry | None, Escalation | None]:
    """Return the enquiry (and escalation) behind a sent message, e.g. the one staff replied to."""
    sent = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.channel == channel,
            OutboxMessage.address == address,
            OutboxMessage.external_id == external_id,
        )
    ).first()
    if sent is None:
        return None, None
    enquiry = session.get(Enquiry, sent.enquiry_id) if sent.enquiry_id else None
    escalation = session.get(Escalation, sent.escalation_id) if sent.escalation_id else None
    if enquiry is None and escalation is not None:
        enquiry = session.get(Enquiry, escalation.enquiry_id)
    return enquiry, escalation


def may_answer_for_department(*, session: Session, enquiry: Enquiry, person_id: int | None) -> bool:
    """Tell whether a staff person may answer or decline for the enquiry's department."""
    return crud.has_role(
        session=session,
        person_id=person_id,
        roles={StaffRole.STAFF, StaffRole.COORDINATOR},
        department_id=enquiry.department_id,
    )
