"""The routing-trust states: referred to another authority, asked to confirm, chosen.

The routing table's steps (`db/routing/referral.py`, `db/routing/confirmation.py`) check
their input against the table and call these; each writes status, event, audit row and the
association's message together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from db.enquiries.lifecycle.arrival import Sent, escalated, sent_to
from db.enquiries.lifecycle.base import (
    ASK_TO_CONFIRM,
    REFER,
    ROUTE_QUIETLY,
    audit,
    clear_deadlines,
    event,
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
    TrainingCandidate,
    utcnow,
)


def referred(
    *,
    session: Session,
    enquiry: Enquiry,
    authority_key: str,
    actor: str,
    now: datetime | None = None,
    dedupe_key: str | None = None,
    **reply: Any,
) -> None:
    """The enquiry belongs to another authority: status REFERRED and the association told.

    `reply` carries the answer's extra parameters (the languages line of the channel);
    `dedupe_key` makes the answer once-only for the inbound message.
    """
    now = now or utcnow()
    enquiry.referred_to = authority_key
    clear_deadlines(enquiry)
    step(session, enquiry, REFER, actor, now, authority=authority_key)
    tell(session, enquiry, Kind.REFERRED, dedupe_key=dedupe_key, authority=authority_key, **reply)


def confirmation_asked(
    *,
    session: Session,
    enquiry: Enquiry,
    options: Sequence[str],
    intents: Mapping[str, str],
    actor: str,
    until: timedelta,
    now: datetime | None = None,
    dedupe_key: str | None = None,
    **reply: Any,
) -> None:
    """Ask the association to choose between two departments: status CONFIRMING until `until`."""
    now = now or utcnow()
    enquiry.sla_due_at = now + until
    enquiry.reminder_due_at = None
    step(session, enquiry, ASK_TO_CONFIRM, actor, now, options=list(options), intents=dict(intents))
    tell(session, enquiry, Kind.CONFIRM, dedupe_key=dedupe_key, options=list(options), **reply)


def take_confirming(*, session: Session, enquiry: Enquiry, now: datetime) -> bool:
    """Take the enquiry out of CONFIRMING with one conditional UPDATE; tell whether it did.

    Of the association's choice and the deadline sweep at the same moment, exactly one wins
    (the other finds the row changed); the winner sets the final state in its transaction.
    """
    return take(
        session,
        enquiry,
        among=(EnquiryStatus.CONFIRMING,),
        values={"updated_at": now, "status": EnquiryStatus.RECEIVED.value},
    )


def chosen(
    *,
    session: Session,
    enquiry: Enquiry,
    department: Department | None,
    offered: Sequence[str],
    candidate: TrainingCandidate | None,
    actor: str,
    email_enabled: bool,
    now: datetime,
    dedupe_key: str | None = None,
) -> Sent | None:
    """Record the association's choice (taken with `take_confirming` first).

    A department: the CHOSEN event, routed and forwarded there (`sent_to`), the association
    told it was sent — or, when nothing can reach the department, the coordinator has it at
    once (reason unreachable) and the association is told so; returns what routing did.
    None ("something else"): the CHOSEN event and the coordinator has it (`NOT_LISTED`).
    """
    before = state(enquiry)
    if department is None:
        event(
            session, enquiry, EventKind.CHOSEN, actor, now, department=None, offered=list(offered)
        )
        _coordinator_has_it(
            session, enquiry, EscalationReason.NOT_LISTED, "choose", actor, now, dedupe_key
        )
        return None
    event(
        session,
        enquiry,
        EventKind.CHOSEN,
        actor,
        now,
        department=department.key,
        offered=list(offered),
        training_candidate=candidate.id if candidate is not None else None,
        training_intent=candidate.intent if candidate is not None else None,
    )
    sent = sent_to(
        session,
        enquiry,
        department,
        ROUTE_QUIETLY,
        actor=actor,
        email_enabled=email_enabled,
        by_coordinator=False,
        now=now,
    )
    audit(session, enquiry, "choose", before, actor, now)
    if sent.forwarded:
        tell(session, enquiry, Kind.ROUTED, dedupe_key=dedupe_key, department=department.key)
    else:  # nobody at the department can be reached: the coordinator has it
        reason = EscalationReason.UNREACHABLE
        tell(session, enquiry, Kind.ESCALATED, dedupe_key=dedupe_key, reason=reason)
    return sent


def _coordinator_has_it(
    session: Session,
    enquiry: Enquiry,
    reason: EscalationReason,
    action: str,
    actor: str,
    now: datetime,
    dedupe_key: str | None = None,
) -> Escalation:
    """Escalate for a reason of the association's (or its silence), and tell it so."""
    return escalated(
        session=session,
        enquiry=enquiry,
        reason=reason,
        actor=actor,
        now=now,
        told=True,
        dedupe_key=dedupe_key,
        action=action,
    )


def unconfirmed(*, session: Session, enquiry: Enquiry, actor: str, now: datetime) -> None:
    """Nobody chose in time (taken with `take_confirming`): the coordinator has it, told."""
    _coordinator_has_it(session, enquiry, EscalationReason.UNCONFIRMED, "unconfirmed", actor, now)


def disputed(
    *, session: Session, enquiry: Enquiry, actor: str, now: datetime, dedupe_key: str | None
) -> Escalation:
    """The association says the authority named is not right: the coordinator has it, told."""
    reason = EscalationReason.MISREFERRED
    return _coordinator_has_it(session, enquiry, reason, "dispute_referral", actor, now, dedupe_key)
