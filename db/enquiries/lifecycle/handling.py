"""People handle an enquiry: answered, returned, rerouted, claimed, closed, reopened.

Also the steps that change no status but belong to its history: reminded and overdue (the
deadline sweep), assigned to a colleague, an internal note, the association's feedback.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from db.enquiries import answers
from db.enquiries import notifications as notify
from db.enquiries.lifecycle.arrival import Sent, escalated, sent_to
from db.enquiries.lifecycle.base import (
    ANSWER,
    CLOSE,
    REROUTE,
    SYSTEM_ACTOR,
    WAITING_STATUSES,
    WorkflowError,
    audit,
    clear_deadlines,
    event,
    iso_moment,
    open_escalations,
    reference_of,
    resolve,
    state,
    step,
    take,
    tell,
)
from db.enquiries.notifications import Kind
from db.models import (
    Department,
    Enquiry,
    EnquiryStatus,
    Escalation,
    EscalationReason,
    EventKind,
    OutboxMessage,
    utcnow,
)
from db.plumbing.phrases import N_

MAX_ANSWER_CHARS = 3500


def _mail_department(
    session: Session, department: Department, enquiry: Enquiry, kind: Kind, **params: Any
) -> None:
    """Tell a department's mailbox something about one of its enquiries (e-mail only)."""
    notify.to_department(
        session=session,
        department=department,
        kind=kind,
        enquiry=enquiry,
        only=notify.Channel.EMAIL,
        **params,
    )


def answered(
    *,
    session: Session,
    enquiry: Enquiry,
    text: str,
    actor: str,
    now: datetime | None = None,
    by_coordinator: bool = False,
) -> OutboxMessage | None:
    """Relay an answer to the association with Yes/No feedback buttons; mark it ANSWERED.

    Status ANSWERED, no deadline, open escalations resolved, the event, the audit row and the
    answer to the association. An empty or too long answer, or an enquiry answered or closed
    already, is refused.
    """
    now = now or utcnow()
    text = (text or "").strip()
    if not text:
        raise WorkflowError(N_("Svaret är tomt: skriv texten som ska skickas till föreningen."))
    if len(text) > MAX_ANSWER_CHARS:
        raise WorkflowError(
            N_("Svaret har {length} tecken; gränsen är {limit}."),
            length=len(text),
            limit=MAX_ANSWER_CHARS,
        )
    if enquiry.status == EnquiryStatus.CLOSED:
        raise WorkflowError(
            N_("{reference} är avslutat och kan inte besvaras."), reference=reference_of(enquiry)
        )
    if enquiry.status == EnquiryStatus.ANSWERED:
        raise WorkflowError(N_("{reference} är redan besvarat."), reference=reference_of(enquiry))
    department = session.get(Department, enquiry.department_id) if enquiry.department_id else None
    by_department = department.key if department is not None and not by_coordinator else None
    enquiry.answer_text = text
    enquiry.answered_by = actor
    enquiry.answered_at = now
    enquiry.helpful = None
    clear_deadlines(enquiry)
    resolve(open_escalations(session=session, enquiry=enquiry), "answered", now)
    by = by_department or "coordinator"
    step(session, enquiry, ANSWER, actor, now, by=by, chars=len(text))
    kept = answers.keep(session=session, enquiry=enquiry, text=text, by=by, actor=actor, now=now)
    # The answer record: the channel's feedback link names it.
    return tell(session, enquiry, Kind.ANSWER, department=by_department, answer=kept.id)


def returned(
    *, session: Session, enquiry: Enquiry, actor: str, note: str | None, now: datetime | None = None
) -> Escalation:
    """The department says the enquiry is not theirs: escalate it, tell the department's mailbox.

    The `note` (the department's reason, if any) goes to the coordinator with the card.
    """
    now = now or utcnow()
    escalation = escalated(
        session=session,
        enquiry=enquiry,
        reason=EscalationReason.NOT_OURS,
        actor=actor,
        now=now,
        note=note,
        action="not_ours",
    )
    department = session.get(Department, enquiry.department_id) if enquiry.department_id else None
    if department is not None:
        _mail_department(session, department, enquiry, Kind.RETURNED, escalation=escalation)
    return escalation


def rerouted(
    *,
    session: Session,
    enquiry: Enquiry,
    escalation: Escalation,
    department: Department,
    actor: str,
    email_enabled: bool,
    now: datetime | None = None,
    **note: object,
) -> Sent:
    """The coordinator sends an escalated enquiry to a department: resolve, route, forward, tell.

    The REROUTED event carries `note` (what the correction teaches); the department that had
    the enquiry before hears by e-mail where it went. The forward follows the one rule of
    `sent_to`: when nothing can reach the department, the enquiry is back with the coordinator
    at once (a new escalation, reason unreachable) and the association, which knows the
    coordinator has its question, is not told it was sent; otherwise it hears which
    department has it now.
    """
    now = now or utcnow()
    resolve([escalation], "rerouted", now)
    previous = session.get(Department, enquiry.department_id) if enquiry.department_id else None
    sent = sent_to(
        session,
        enquiry,
        department,
        REROUTE,
        actor=actor,
        email_enabled=email_enabled,
        by_coordinator=True,
        now=now,
        **note,
    )
    if previous is not None and previous.id != department.id:
        _mail_department(session, previous, enquiry, Kind.REASSIGNED, to=department.key)
    if sent.forwarded:
        tell(session, enquiry, Kind.REROUTED, department=department.key)
    return sent


def claimed(
    *, session: Session, escalation_id: int, staff_user_id: int, actor: str, now: datetime
) -> tuple[Escalation | None, bool]:
    """Claim an escalation atomically; return it (None: unknown) and whether this call won.

    Of two coordinators claiming at once exactly one wins; the winner's CLAIMED event and
    audit row are written.
    """
    result = session.execute(
        update(Escalation)
        .where(
            col(Escalation.id) == escalation_id,
            col(Escalation.claimed_by).is_(None),
            col(Escalation.resolved_at).is_(None),
        )
        .values(claimed_by=staff_user_id, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    won = getattr(result, "rowcount", 0) == 1
    escalation = session.exec(
        select(Escalation)
        .where(Escalation.id == escalation_id)
        .execution_options(populate_existing=True)
    ).first()
    if escalation is None or not won:
        return escalation, False
    enquiry = session.get(Enquiry, escalation.enquiry_id)
    if enquiry is None:
        raise WorkflowError(N_("Eskalering {id} har inget ärende."), id=escalation.id)
    event(session, enquiry, EventKind.CLAIMED, actor, now, escalation_id=escalation_id)
    audit(session, enquiry, "claim", state(enquiry), actor, now)
    return escalation, True


def closed(
    *,
    session: Session,
    enquiry: Enquiry,
    actor: str,
    reason: str,
    now: datetime | None = None,
    resolution: str | None = None,
    message: Kind | None = None,
) -> OutboxMessage | None:
    """Close an enquiry for good: status CLOSED, no deadlines, the event and the audit row.

    `resolution` resolves its open escalations so; `message` queues that message kind for the
    association (with the reason) and returns it.
    """
    now = now or utcnow()
    if resolution is not None:
        resolve(open_escalations(session=session, enquiry=enquiry), resolution, now)
    enquiry.closed_at = now
    clear_deadlines(enquiry)
    step(session, enquiry, CLOSE, actor, now, reason=reason)
    if message is None:
        return None
    return tell(session, enquiry, message, reason=reason)


def reopened(*, session: Session, enquiry: Enquiry, actor: str, now: datetime) -> Escalation:
    """The association says an answer did not help: REOPENED, escalated to the coordinator."""
    event(session, enquiry, EventKind.REOPENED, actor, now)
    return escalated(
        session=session,
        enquiry=enquiry,
        reason=EscalationReason.NOT_HELPED,
        actor=actor,
        now=now,
        action="reopen",
    )


def feedback(
    *, session: Session, enquiry: Enquiry, helpful: bool, actor: str, now: datetime | None = None
) -> Escalation | None:
    """Record the association's feedback: close a helpful answer, reopen an unhelpful one."""
    now = now or utcnow()
    if enquiry.status != EnquiryStatus.ANSWERED:
        raise WorkflowError(N_("{reference} är redan hanterat."), reference=reference_of(enquiry))
    enquiry.helpful = helpful
    event(session, enquiry, EventKind.FEEDBACK, actor, now, helpful=helpful)
    escalation: Escalation | None = None
    if helpful:
        closed(session=session, enquiry=enquiry, actor=actor, reason="helpful", now=now)
        kind = notify.Kind.FEEDBACK_CLOSED
    else:
        escalation = reopened(session=session, enquiry=enquiry, actor=actor, now=now)
        kind = notify.Kind.FEEDBACK_REOPENED
    tell(session, enquiry, kind)
    return escalation


def assigned(
    *,
    session: Session,
    enquiry: Enquiry,
    department: Department,
    staff_id: int,
    name: str,
    actor: str,
    now: datetime | None = None,
) -> None:
    """Give a waiting enquiry to one colleague of its department; tell them and the mailbox."""
    now = now or utcnow()
    enquiry.assigned_to = staff_id
    enquiry.updated_at = now
    event(session, enquiry, EventKind.ASSIGNED, actor, now, to=name, staff_id=staff_id)
    _mail_department(session, department, enquiry, Kind.ASSIGNED, assignee=name)
    notify.to_staff(  # if they have a chat to be told in
        session=session, person_id=staff_id, kind=notify.Kind.ASSIGNED_TO_YOU, enquiry=enquiry
    )


def noted(
    *, session: Session, enquiry: Enquiry, text: str, actor: str, now: datetime | None = None
) -> None:
    """Add an internal note (checked by the caller); it is never sent to the association."""
    event(session, enquiry, EventKind.NOTE, actor, now, text=text)


def reminded(*, session: Session, enquiry: Enquiry, now: datetime) -> bool:
    """Remind the department once that the deadline nears; tell whether this call did."""
    if not take(
        session,
        enquiry,
        among=WAITING_STATUSES,
        values={"reminded_at": now},
        extra=col(Enquiry.reminded_at).is_(None),
    ):
        return False
    enquiry.reminded_at = now
    department = session.get(Department, enquiry.department_id) if enquiry.department_id else None
    messages = (
        notify.to_department(
            session=session,
            department=department,
            kind=notify.Kind.REMINDER,
            enquiry=enquiry,
            deadline=iso_moment(enquiry.sla_due_at),
        )
        if department is not None
        else []
    )
    event(
        session,
        enquiry,
        EventKind.REMINDED,
        SYSTEM_ACTOR,
        now,
        department=department.key if department else None,
        delivered=bool(messages),
    )
    return True


def overdue(*, session: Session, enquiry: Enquiry, now: datetime) -> bool:
    """Escalate a waiting enquiry whose deadline passed (once); tell whether this call did."""
    if not take(
        session,
        enquiry,
        among=WAITING_STATUSES,
        values={"status": EnquiryStatus.ESCALATED.value},
        extra=col(Enquiry.sla_due_at) <= now,
    ):
        return False
    escalated(
        session=session, enquiry=enquiry, reason=EscalationReason.SLA, actor=SYSTEM_ACTOR, now=now
    )
    return True
