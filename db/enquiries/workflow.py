"""The enquiry's way through the municipality: forward, answer, not ours, feedback, deadlines.

Every step changes the enquiry, appends an EnquiryEvent and records who must hear of it
(db/enquiries/notifications.py) in the same transaction (the caller's session); nothing is
rendered or sent from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from db.enquiries import answers, crud
from db.enquiries import notifications as notify
from db.models import (
    Department,
    Enquiry,
    EnquiryStatus,
    Escalation,
    EscalationReason,
    EventKind,
    OutboxMessage,
    StaffRole,
    utcnow,
)
from db.people.staff import department_colleagues
from db.plumbing.phrases import N_, DomainError

SYSTEM_ACTOR = "lotsen"
MAX_ANSWER_CHARS = 3500
MAX_NOTE_CHARS = 2000
"""The longest internal note, or reason for "not ours", a department may write."""
WAITING_STATUSES = (EnquiryStatus.ROUTED, EnquiryStatus.FORWARDED)
NO_COLLEAGUE = N_("Välj en kollega på förvaltningen.")


class WorkflowError(DomainError):
    """A step that does not fit the enquiry's state or input; nothing was changed."""


def reference_of(enquiry: Enquiry) -> str:
    """Return the enquiry's reference number (its row id before it has one)."""
    return enquiry.reference or f"#{enquiry.id}"


def iso_moment(moment: datetime | None) -> str | None:
    """Return a moment as ISO text for a notification's parameters."""
    return moment.isoformat() if moment is not None else None


def _touch(enquiry: Enquiry, status: EnquiryStatus, now: datetime) -> None:
    enquiry.status = status
    enquiry.updated_at = now


def _open_escalations(*, session: Session, enquiry: Enquiry) -> list[Escalation]:
    return list(
        session.exec(
            select(Escalation).where(
                Escalation.enquiry_id == enquiry.id, col(Escalation.resolved_at).is_(None)
            )
        ).all()
    )


def forward_to_department(
    *,
    session: Session,
    enquiry: Enquiry,
    department: Department,
    now: datetime | None = None,
    by_coordinator: bool = False,
    channels: Sequence[notify.Channel] | None = None,
) -> list[OutboxMessage]:
    """Send the enquiry to the department's channels and mark it FORWARDED (if it has any).

    The forward carries the deadline, the promised working hours and who routed it (the model
    or the coordinator), as they were when it was sent. `channels` overrides the department's
    choice (`reach.send_to_department` passes the channels that reach it).
    """
    assert enquiry.id is not None
    now = now or utcnow()
    if enquiry.status not in WAITING_STATUSES:
        raise WorkflowError(
            N_("{reference} är {status}; bara ett ärende som väntar kan skickas vidare."),
            reference=reference_of(enquiry),
            status=enquiry.status,
        )
    municipality = crud.get_municipality(session=session)
    messages = notify.to_department(
        session=session,
        department=department,
        kind=notify.Kind.FORWARD,
        enquiry=enquiry,
        deadline=iso_moment(enquiry.sla_due_at),
        sla_hours=department.sla_hours or municipality.default_sla_hours,
        routed_by="coordinator" if by_coordinator else "model",
        channels=channels,
    )
    if not messages:
        return []
    _touch(enquiry, EnquiryStatus.FORWARDED, now)
    enquiry.forwarded_at = now
    crud.add_event(
        session=session,
        enquiry=enquiry,
        kind=EventKind.FORWARDED,
        actor=SYSTEM_ACTOR,
        now=now,
        department=department.key,
        channels=[m.channel for m in messages],
        outbox_ids=[m.id for m in messages],
    )
    return messages


def notify_coordinator(
    *, session: Session, escalation: Escalation, again: bool = False
) -> OutboxMessage | None:
    """Queue the escalation's card for the coordinators (once, unless `again`)."""
    if not again and notify.card_sent(session=session, escalation=escalation):
        return None
    return notify.to_coordinators(session=session, kind=notify.Kind.CARD, escalation=escalation)


def escalate(
    *,
    session: Session,
    enquiry: Enquiry,
    reason: str,
    actor: str,
    now: datetime | None = None,
    note: str | None = None,
) -> Escalation:
    """Put an enquiry in the coordinator's queue and queue its card."""
    escalation = crud.escalate_enquiry(
        session=session, enquiry=enquiry, reason=reason, actor=actor, now=now, note=note
    )
    notify_coordinator(session=session, escalation=escalation)
    return escalation


def answer_enquiry(
    *,
    session: Session,
    enquiry: Enquiry,
    text: str,
    actor: str,
    now: datetime | None = None,
    by_coordinator: bool = False,
) -> OutboxMessage | None:
    """Relay an answer to the association with Yes/No feedback buttons; mark it ANSWERED."""
    assert enquiry.id is not None
    now = now or utcnow()
    cleaned = (text or "").strip()
    if not cleaned:
        raise WorkflowError(N_("Svaret är tomt: skriv texten som ska skickas till föreningen."))
    if len(cleaned) > MAX_ANSWER_CHARS:
        raise WorkflowError(
            N_("Svaret har {length} tecken; gränsen är {limit}."),
            length=len(cleaned),
            limit=MAX_ANSWER_CHARS,
        )
    if enquiry.status == EnquiryStatus.CLOSED:
        raise WorkflowError(
            N_("{reference} är avslutat och kan inte besvaras."), reference=reference_of(enquiry)
        )
    if enquiry.status == EnquiryStatus.ANSWERED:
        raise WorkflowError(N_("{reference} är redan besvarat."), reference=reference_of(enquiry))
    department = session.get(Department, enquiry.department_id) if enquiry.department_id else None
    by_department = not by_coordinator and department is not None
    _touch(enquiry, EnquiryStatus.ANSWERED, now)
    enquiry.answer_text = cleaned
    enquiry.answered_by = actor
    enquiry.answered_at = now
    enquiry.helpful = None
    enquiry.sla_due_at = None
    enquiry.reminder_due_at = None
    for escalation in _open_escalations(session=session, enquiry=enquiry):
        escalation.resolved_at = now
        escalation.resolution = "answered"
    by = department.key if by_department and department else "coordinator"
    crud.add_event(
        session=session,
        enquiry=enquiry,
        kind=EventKind.ANSWERED,
        actor=actor,
        now=now,
        by=by,
        chars=len(cleaned),
    )
    kept = answers.keep(session=session, enquiry=enquiry, text=cleaned, by=by, actor=actor, now=now)
    return notify.to_enquirer(
        session=session,
        enquiry=enquiry,
        kind=notify.Kind.ANSWER,
        language=enquiry.language,  # the language its question was answered in
        department=department.key if by_department and department else None,
        answer=kept.id,  # the answer record: the channel's feedback link names it
    )


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
    escalation = escalate(
        session=session,
        enquiry=enquiry,
        reason=EscalationReason.NOT_OURS,
        actor=actor,
        now=now,
        note=note,
    )
    department = _department_of(session, enquiry)
    if department is not None:
        notify.to_department(
            session=session,
            department=department,
            kind=notify.Kind.RETURNED,
            enquiry=enquiry,
            only=notify.Channel.EMAIL,
            escalation=escalation,
        )
    return escalation


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
    enquiry.assigned_to = staff_id
    enquiry.updated_at = now
    crud.add_event(
        session=session,
        enquiry=enquiry,
        kind=EventKind.ASSIGNED,
        actor=actor,
        now=now,
        to=colleague.name,
        staff_id=staff_id,
    )
    notify.to_department(
        session=session,
        department=department,
        kind=notify.Kind.ASSIGNED,
        enquiry=enquiry,
        only=notify.Channel.EMAIL,
        assignee=colleague.name,
    )
    if staff_id > 0:  # a Telegram user (desk accounts have no chat to be told in)
        notify.to_staff(
            session=session,
            telegram_user_id=staff_id,
            kind=notify.Kind.ASSIGNED_TO_YOU,
            enquiry=enquiry,
        )


def add_note(
    *, session: Session, enquiry: Enquiry, text: str, actor: str, now: datetime | None = None
) -> None:
    """Add an internal note to the enquiry's history; it is never sent to the association."""
    note = _cleaned_note(text, required=True)
    crud.add_event(
        session=session, enquiry=enquiry, kind=EventKind.NOTE, actor=actor, now=now, text=note
    )


def record_feedback(
    *, session: Session, enquiry: Enquiry, helpful: bool, actor: str, now: datetime | None = None
) -> Escalation | None:
    """Close a helpful answer, or reopen an unhelpful one to the coordinator (its escalation)."""
    now = now or utcnow()
    if enquiry.status != EnquiryStatus.ANSWERED:
        raise WorkflowError(N_("{reference} är redan hanterat."), reference=reference_of(enquiry))
    enquiry.helpful = helpful
    crud.add_event(
        session=session,
        enquiry=enquiry,
        kind=EventKind.FEEDBACK,
        actor=actor,
        now=now,
        helpful=helpful,
    )
    escalation: Escalation | None = None
    if helpful:
        crud.close_enquiry(session=session, enquiry=enquiry, actor=actor, reason="helpful", now=now)
        kind = notify.Kind.FEEDBACK_CLOSED
    else:
        crud.add_event(
            session=session, enquiry=enquiry, kind=EventKind.REOPENED, actor=actor, now=now
        )
        escalation = escalate(
            session=session,
            enquiry=enquiry,
            reason=EscalationReason.NOT_HELPED,
            actor=actor,
            now=now,
        )
        kind = notify.Kind.FEEDBACK_REOPENED
    notify.to_enquirer(
        session=session,
        enquiry=enquiry,
        kind=kind,
        language=enquiry.language,  # the language its question was answered in
    )
    return escalation


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


def may_answer_for_department(*, session: Session, enquiry: Enquiry, telegram_user_id: int) -> bool:
    """Tell whether a staff member may answer or decline for the enquiry's department."""
    return crud.has_role(
        session=session,
        telegram_user_id=telegram_user_id,
        roles={StaffRole.STAFF, StaffRole.COORDINATOR},
        department_id=enquiry.department_id,
    )
