"""An enquiry arrives and finds its way: received, routed (and forwarded), escalated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from db.enquiries import crud
from db.enquiries import notifications as notify
from db.enquiries.lifecycle.base import (
    ESCALATE,
    FORWARD,
    ROUTE,
    SYSTEM_ACTOR,
    WAITING_STATUSES,
    Change,
    WorkflowError,
    audit,
    clear_deadlines,
    event,
    iso_moment,
    open_escalations,
    reference_of,
    state,
    step,
    tell,
)
from db.enquiries.notifications import Kind
from db.enquiries.reach import Reach, department_reach
from db.enquiries.sla import add_working_hours
from db.models import (
    AssociationUser,
    Department,
    Enquiry,
    Escalation,
    EscalationReason,
    EventKind,
    OutboxMessage,
    utcnow,
)
from db.people.identities import identity_for
from db.plumbing.phrases import N_


def received(
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
    """Record an enquiry with a reference number and its RECEIVED event; return (it, created).

    `language` is the language the association is answered in, `detected_language` the one
    the text is written in (None when too short to tell). `message_key` identifies the inbound
    message; the same key never makes two enquiries. `conversation` is where replies go (by
    default the writer's identity on the channel it last wrote from). The enquiry row is its
    own record (no audit row).
    """
    if message_key is not None:
        found = crud.enquiry_by_message_key(session=session, message_key=message_key)
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
        chat_id=crud.conversation_number(conversation),
        created_at=now,
        updated_at=now,
    )
    if message_key is None:
        session.add(enquiry)
        session.flush()
    else:
        inserted = crud.insert_once(session=session, enquiry=enquiry)
        if inserted is None:  # recorded meanwhile by another process (the action server)
            found = crud.enquiry_by_message_key(session=session, message_key=message_key)
            assert found is not None
            return found, False
        enquiry = inserted
    assert enquiry.id is not None
    enquiry.reference = crud.format_reference(enquiry.id, now)
    event(session, enquiry, EventKind.RECEIVED, "association", now)
    return enquiry, True


@dataclass(frozen=True)
class Sent:
    """What routing did: forwarded (its outbox rows) or escalated (nobody can be reached).

    `reach` says which channels reach the department and, when none can, why.
    """

    messages: Sequence[OutboxMessage] = ()
    escalation: Escalation | None = None
    reach: Reach | None = None

    @property
    def forwarded(self) -> bool:
        """Tell whether a notification to the department was queued."""
        return bool(self.messages)


def _route_to(
    session: Session,
    enquiry: Enquiry,
    department: Department,
    change: Change,
    actor: str,
    now: datetime,
    **detail: object,
) -> None:
    """Give the enquiry to a department with a fresh deadline in working hours (no forward).

    Only `sent_to` (and `recorded_as_routed`, history without a forward) call this: every
    route is followed by its forward or by the escalation that nobody can be reached.
    """
    municipality = crud.get_municipality(session=session)
    hours = department.sla_hours or municipality.default_sla_hours
    window = {
        "day_start": municipality.workday_start_hour,
        "day_end": municipality.workday_end_hour,
    }
    if enquiry.department_id != department.id:
        enquiry.assigned_to = None  # a colleague of the old department no longer has it
    enquiry.department_id = department.id
    enquiry.routed_at = now
    enquiry.sla_due_at = add_working_hours(now, hours, **window)
    enquiry.reminder_due_at = add_working_hours(now, hours * 0.75, **window)
    enquiry.reminded_at = None
    step(
        session,
        enquiry,
        change,
        actor,
        now,
        department=department.key,
        sla_due_at=enquiry.sla_due_at.isoformat(),
        **detail,
    )


def sent_to(
    session: Session,
    enquiry: Enquiry,
    department: Department,
    change: Change,
    *,
    actor: str,
    email_enabled: bool,
    by_coordinator: bool,
    now: datetime,
    **detail: object,
) -> Sent:
    """Route the enquiry to a department and forward it on every channel that reaches it.

    The one rule of every path that routes (the intake, the coordinator's reroute, the
    association's choice): the forward goes on the department's channels that can carry it,
    else by e-mail to its functional mailbox or contact when `email_enabled`
    (`db/enquiries/reach.py`); when nothing can reach the department the enquiry goes to the
    coordinator at once (`EscalationReason.UNREACHABLE`, with its card). The result says
    which happened: the association may be told "sent" only when `Sent.forwarded`.
    """
    _route_to(session, enquiry, department, change, actor, now, **detail)
    reach = department_reach(
        session=session, department=department, email_enabled=email_enabled, now=now
    )
    if reach.reachable:
        messages = forwarded(
            session=session,
            enquiry=enquiry,
            department=department,
            now=now,
            by_coordinator=by_coordinator,
            channels=reach.channels,
        )
        if messages:
            return Sent(messages=messages, reach=reach)
    escalation = escalated(
        session=session,
        enquiry=enquiry,
        reason=EscalationReason.UNREACHABLE,
        actor=SYSTEM_ACTOR,
        now=now,
    )
    return Sent(escalation=escalation, reach=reach)


def routed(
    *,
    session: Session,
    enquiry: Enquiry,
    department: Department,
    actor: str,
    email_enabled: bool,
    now: datetime | None = None,
    by_coordinator: bool = False,
) -> Sent:
    """Route the enquiry to a department and forward it there, or escalate it (unreachable).

    Status ROUTED (then FORWARDED), a fresh deadline, the ROUTED event and audit row, and the
    forward on every channel that reaches the department (`db/enquiries/reach.py`); when no
    channel can, the coordinator gets it at once (`EscalationReason.UNREACHABLE`).
    """
    return sent_to(
        session,
        enquiry,
        department,
        ROUTE,
        actor=actor,
        email_enabled=email_enabled,
        by_coordinator=by_coordinator,
        now=now or utcnow(),
    )


def recorded_as_routed(
    *, session: Session, enquiry: Enquiry, department: Department, actor: str, now: datetime
) -> None:
    """Record that an enquiry was routed without forwarding it (history carried over, tests)."""
    _route_to(session, enquiry, department, ROUTE, actor, now)


def forwarded(
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
    choice (`sent_to` passes the channels that reach it).
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
    enquiry.forwarded_at = now
    step(
        session,
        enquiry,
        FORWARD,
        SYSTEM_ACTOR,
        now,
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


def escalated(
    *,
    session: Session,
    enquiry: Enquiry,
    reason: EscalationReason,
    actor: str,
    now: datetime | None = None,
    note: str | None = None,
    told: bool = False,
    dedupe_key: str | None = None,
    action: str = "escalate",
    card: bool = True,
) -> Escalation:
    """Put an enquiry in the coordinator's queue (once: an open escalation is reused).

    Status ESCALATED, no deadline, the escalation row with its ESCALATED event (the `note`,
    why in the words of whoever sent it, as its text), the audit row and the coordinators'
    card; `told`: the association hears that the coordinator has its question.
    `card` False records the escalation without its card (history carried over, tests).
    """
    now = now or utcnow()
    before = state(enquiry)
    open_one = next(iter(open_escalations(session=session, enquiry=enquiry)), None)
    enquiry.escalated_at = now
    clear_deadlines(enquiry)
    step(session, enquiry, ESCALATE, actor, now)
    escalation = open_one
    if escalation is None:
        assert enquiry.id is not None
        escalation = Escalation(enquiry_id=enquiry.id, reason=reason, created_at=now)
        session.add(escalation)
        session.flush()
        detail = {"text": note} if note else {}
        event(session, enquiry, EventKind.ESCALATED, actor, now, reason=reason, **detail)
    audit(session, enquiry, action, before, actor, now)
    if card:
        notify_coordinator(session=session, escalation=escalation)
    if told:
        tell(session, enquiry, Kind.ESCALATED, dedupe_key=dedupe_key, reason=reason)
    return escalation
