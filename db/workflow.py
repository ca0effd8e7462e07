"""The enquiry's way through the municipality: forward, answer, not ours, feedback, deadlines.

Every step changes the enquiry, appends an EnquiryEvent and queues its Telegram messages in the
same transaction (the caller's session); nothing is sent from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.messages.cards import MAX_QUESTION_CHARS, render_card
from bot.messages.texts import t
from bot.messages.workflow import (
    answer_text,
    department_keyboard,
    feedback_keyboard,
    forward_text,
    reminder_text,
)
from db import crud
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
from db.queue_facts import association_language, association_name, department_name

SYSTEM_ACTOR = "lotsen"
STAFF_LANGUAGE = "sv"
MAX_ANSWER_CHARS = 3500
WAITING_STATUSES = (EnquiryStatus.ROUTED, EnquiryStatus.FORWARDED)


class WorkflowError(ValueError):
    """A step that does not fit the enquiry's state or input; nothing was changed."""


def _reference(enquiry: Enquiry) -> str:
    return enquiry.reference or f"#{enquiry.id}"


def _association_label(*, session: Session, enquiry: Enquiry, language: str) -> str:
    return association_name(session=session, enquiry=enquiry) or t(
        "q_unknown_association", language
    )


def _shortened(question: str) -> str:
    """Cut a question to what fits in one Telegram message with its header."""
    if len(question) <= MAX_QUESTION_CHARS:
        return question
    return question[:MAX_QUESTION_CHARS] + " …"


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


def _queue_for_department(
    *,
    session: Session,
    enquiry: Enquiry,
    chat_id: int,
    render: Callable[..., str],
    purpose: str,
) -> OutboxMessage:
    """Queue a forward or reminder with the Answer / Not ours buttons in a department chat."""
    assert enquiry.id is not None
    return crud.enqueue_message(
        session=session,
        chat_id=chat_id,
        text=render(
            reference=_reference(enquiry),
            association=_association_label(
                session=session, enquiry=enquiry, language=STAFF_LANGUAGE
            ),
            question=_shortened(enquiry.text),
            deadline=enquiry.sla_due_at,
            language=STAFF_LANGUAGE,
        ),
        purpose=purpose,
        reply_markup=department_keyboard(enquiry.id, STAFF_LANGUAGE),
        enquiry_id=enquiry.id,
    )


def forward_to_department(
    *, session: Session, enquiry: Enquiry, department: Department, now: datetime | None = None
) -> OutboxMessage | None:
    """Queue the enquiry to the department's chat and mark it FORWARDED; without a chat leave it."""
    assert enquiry.id is not None
    now = now or utcnow()
    if enquiry.status not in WAITING_STATUSES:
        raise WorkflowError(
            f"{_reference(enquiry)} is {enquiry.status}; only a routed enquiry can be forwarded"
        )
    if department.telegram_chat_id is None:
        return None
    message = _queue_for_department(
        session=session,
        enquiry=enquiry,
        chat_id=department.telegram_chat_id,
        render=forward_text,
        purpose="forward",
    )
    _touch(enquiry, EnquiryStatus.FORWARDED, now)
    enquiry.forwarded_at = now
    enquiry.forward_chat_id = department.telegram_chat_id
    enquiry.forward_message_id = None
    crud.add_event(
        session=session,
        enquiry=enquiry,
        kind=EventKind.FORWARDED,
        actor=SYSTEM_ACTOR,
        now=now,
        department=department.key,
        chat_id=department.telegram_chat_id,
        outbox_id=message.id,
    )
    return message


def notify_coordinator(
    *,
    session: Session,
    escalation: Escalation,
    coordinator_chat_id: int | None,
    now: datetime | None = None,
    again: bool = False,
) -> OutboxMessage | None:
    """Queue the escalation's card in the coordinator chat (once, unless `again`)."""
    if coordinator_chat_id is None:
        return None
    assert escalation.id is not None
    if not again:
        already = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.escalation_id == escalation.id, OutboxMessage.purpose == "card"
            )
        ).first()
        if already is not None:
            return None
    text, markup = render_card(session=session, escalation=escalation, now=now or utcnow())
    message = crud.enqueue_message(
        session=session,
        chat_id=coordinator_chat_id,
        text=text,
        purpose="card",
        reply_markup=markup,
        enquiry_id=escalation.enquiry_id,
        escalation_id=escalation.id,
    )
    escalation.card_chat_id = coordinator_chat_id
    escalation.card_message_id = None
    return message


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
        raise WorkflowError("The answer is empty: write the text to send to the association.")
    if len(cleaned) > MAX_ANSWER_CHARS:
        raise WorkflowError(
            f"The answer is {len(cleaned)} characters; the limit is {MAX_ANSWER_CHARS}."
        )
    if enquiry.status == EnquiryStatus.CLOSED:
        raise WorkflowError(f"{_reference(enquiry)} is closed and cannot be answered.")
    if enquiry.status == EnquiryStatus.ANSWERED:
        raise WorkflowError(f"{_reference(enquiry)} has already been answered.")
    language = association_language(session=session, enquiry=enquiry)
    department = session.get(Department, enquiry.department_id) if enquiry.department_id else None
    who = (
        t("no_department", language)
        if by_coordinator or department is None
        else department_name(department, language) or t("no_department", language)
    )
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
    crud.add_event(
        session=session,
        enquiry=enquiry,
        kind=EventKind.ANSWERED,
        actor=actor,
        now=now,
        by="coordinator" if by_coordinator or department is None else department.key,
        chars=len(cleaned),
    )
    if enquiry.chat_id is None:
        return None
    return crud.enqueue_message(
        session=session,
        chat_id=enquiry.chat_id,
        text=answer_text(reference=_reference(enquiry), who=who, text=cleaned, language=language),
        purpose="answer",
        reply_markup=feedback_keyboard(enquiry.id, language),
        enquiry_id=enquiry.id,
    )


def not_ours(
    *,
    session: Session,
    enquiry: Enquiry,
    actor: str,
    coordinator_chat_id: int | None,
    now: datetime | None = None,
) -> Escalation:
    """Take the department's word that the enquiry is not theirs: escalate it with a card."""
    now = now or utcnow()
    if enquiry.status not in WAITING_STATUSES:
        raise WorkflowError(f"{_reference(enquiry)} has already been handled.")
    escalation = crud.escalate_enquiry(
        session=session, enquiry=enquiry, reason=EscalationReason.NOT_OURS, actor=actor, now=now
    )
    notify_coordinator(
        session=session, escalation=escalation, coordinator_chat_id=coordinator_chat_id, now=now
    )
    return escalation


def record_feedback(
    *,
    session: Session,
    enquiry: Enquiry,
    helpful: bool,
    actor: str,
    coordinator_chat_id: int | None,
    now: datetime | None = None,
) -> Escalation | None:
    """Close a helpful answer, or reopen an unhelpful one to the coordinator (its escalation)."""
    now = now or utcnow()
    if enquiry.status != EnquiryStatus.ANSWERED:
        raise WorkflowError(f"{_reference(enquiry)} has already been handled.")
    language = association_language(session=session, enquiry=enquiry)
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
        notice = "wf_feedback_closed"
    else:
        crud.add_event(
            session=session, enquiry=enquiry, kind=EventKind.REOPENED, actor=actor, now=now
        )
        escalation = crud.escalate_enquiry(
            session=session,
            enquiry=enquiry,
            reason=EscalationReason.NOT_HELPED,
            actor=actor,
            now=now,
        )
        notify_coordinator(
            session=session,
            escalation=escalation,
            coordinator_chat_id=coordinator_chat_id,
            now=now,
        )
        notice = "wf_feedback_reopened"
    if enquiry.chat_id is not None:
        crud.enqueue_message(
            session=session,
            chat_id=enquiry.chat_id,
            text=t(notice, language, reference=_reference(enquiry)),
            purpose="notice",
            enquiry_id=enquiry.id,
        )
    return escalation


@dataclass
class SweepReport:
    """What one deadline sweep did (references of reminded and escalated enquiries)."""

    reminded: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Return a one-line summary."""
        return f"{len(self.reminded)} reminded, {len(self.escalated)} escalated"


def _claim_enquiry_row(
    *, session: Session, enquiry: Enquiry, set_values: dict[str, object], extra: object
) -> bool:
    """Update an enquiry only if it is still waiting (and `extra` holds); tell whether it did."""
    result = session.execute(
        update(Enquiry)
        .where(
            col(Enquiry.id) == enquiry.id,
            col(Enquiry.status).in_(list(WAITING_STATUSES)),
            extra,  # type: ignore[arg-type]
        )
        .values(**set_values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def _remind(*, session: Session, enquiry: Enquiry, now: datetime) -> bool:
    if not _claim_enquiry_row(
        session=session,
        enquiry=enquiry,
        set_values={"reminded_at": now},
        extra=col(Enquiry.reminded_at).is_(None),
    ):
        return False
    enquiry.reminded_at = now
    department = session.get(Department, enquiry.department_id) if enquiry.department_id else None
    message = None
    if department is not None and department.telegram_chat_id is not None:
        assert enquiry.id is not None
        message = _queue_for_department(
            session=session,
            enquiry=enquiry,
            chat_id=department.telegram_chat_id,
            render=reminder_text,
            purpose="reminder",
        )
    crud.add_event(
        session=session,
        enquiry=enquiry,
        kind=EventKind.REMINDED,
        actor=SYSTEM_ACTOR,
        now=now,
        department=department.key if department else None,
        delivered=message is not None,
    )
    return True


def _escalate_late(
    *, session: Session, enquiry: Enquiry, now: datetime, coordinator_chat_id: int | None
) -> bool:
    if not _claim_enquiry_row(
        session=session,
        enquiry=enquiry,
        set_values={"status": EnquiryStatus.ESCALATED.value},
        extra=col(Enquiry.sla_due_at) <= now,
    ):
        return False
    escalation = crud.escalate_enquiry(
        session=session, enquiry=enquiry, reason=EscalationReason.SLA, actor=SYSTEM_ACTOR, now=now
    )
    notify_coordinator(
        session=session, escalation=escalation, coordinator_chat_id=coordinator_chat_id, now=now
    )
    return True


SWEEP_BATCH = 200


def sweep_deadlines(
    *,
    session: Session,
    now: datetime,
    coordinator_chat_id: int | None,
    limit: int = SWEEP_BATCH,
) -> SweepReport:
    """Send due reminders and escalate enquiries past their deadline; running twice adds nothing.

    At most `limit` enquiries are handled per call, oldest first, so a backlog after downtime is
    worked off over several sweeps instead of one long transaction that blocks the bot.
    """
    report = SweepReport()
    due = session.exec(
        select(Enquiry)
        .where(
            col(Enquiry.status).in_(list(WAITING_STATUSES)),
            (col(Enquiry.sla_due_at) <= now)
            | ((col(Enquiry.reminder_due_at) <= now) & col(Enquiry.reminded_at).is_(None)),
        )
        .order_by(col(Enquiry.id))
        .limit(limit)
    ).all()
    for enquiry in due:
        if enquiry.sla_due_at is not None and enquiry.sla_due_at <= now:
            # Past the deadline: escalate (a reminder would come too late to help).
            if _escalate_late(
                session=session,
                enquiry=enquiry,
                now=now,
                coordinator_chat_id=coordinator_chat_id,
            ):
                report.escalated.append(_reference(enquiry))
        elif _remind(session=session, enquiry=enquiry, now=now):
            report.reminded.append(_reference(enquiry))
    return report


def find_by_message(
    *, session: Session, chat_id: int, message_id: int
) -> tuple[Enquiry | None, Escalation | None]:
    """Return the enquiry (and escalation) behind a sent message, e.g. the one staff replied to."""
    sent = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.chat_id == chat_id, OutboxMessage.telegram_message_id == message_id
        )
    ).first()
    if sent is not None:
        enquiry = session.get(Enquiry, sent.enquiry_id) if sent.enquiry_id else None
        escalation = session.get(Escalation, sent.escalation_id) if sent.escalation_id else None
        if enquiry is None and escalation is not None:
            enquiry = session.get(Enquiry, escalation.enquiry_id)
        return enquiry, escalation
    enquiry = session.exec(
        select(Enquiry).where(
            Enquiry.forward_chat_id == chat_id, Enquiry.forward_message_id == message_id
        )
    ).first()
    return enquiry, None


def may_answer_for_department(*, session: Session, enquiry: Enquiry, telegram_user_id: int) -> bool:
    """Tell whether a staff member may answer or decline for the enquiry's department."""
    return crud.has_role(
        session=session,
        telegram_user_id=telegram_user_id,
        roles={StaffRole.STAFF, StaffRole.COORDINATOR},
        department_id=enquiry.department_id,
    )
