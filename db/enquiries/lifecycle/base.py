"""What every step of the lifecycle shares: its error, the event, the audit row, the status.

`step` is the one place that changes an enquiry's status: it sets the status, appends the
`EnquiryEvent` and writes the audit row, in the caller's transaction. `event` appends an event
that changes no status (a reminder, a note, a claim). Nothing outside the lifecycle assigns
`Enquiry.status` or adds an `EnquiryEvent` (tests/test_layers.py checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from db.enquiries import notifications as notify
from db.models import (
    Enquiry,
    EnquiryEvent,
    EnquiryStatus,
    Escalation,
    EventKind,
    OutboxMessage,
    utcnow,
)
from db.plumbing.audit import record
from db.plumbing.phrases import DomainError

SYSTEM_ACTOR = "lotsen"
AUDIT_ENTITY = "enquiry"
WAITING_STATUSES = (EnquiryStatus.ROUTED, EnquiryStatus.FORWARDED)
"""An enquiry in these states waits for its department."""


class WorkflowError(DomainError):
    """A step that does not fit the enquiry's state or input; nothing was changed."""


def reference_of(enquiry: Enquiry) -> str:
    """Return the enquiry's reference number (its row id before it has one)."""
    return enquiry.reference or f"#{enquiry.id}"


def iso_moment(moment: datetime | None) -> str | None:
    """Return a moment as ISO text for a notification's parameters."""
    return moment.isoformat() if moment is not None else None


def state(enquiry: Enquiry) -> dict[str, Any]:
    """Return what an audit row records of the enquiry before and after a step."""
    return {"status": enquiry.status, "referred_to": enquiry.referred_to}


def event(
    session: Session,
    enquiry: Enquiry,
    kind: EventKind,
    actor: str,
    now: datetime | None = None,
    **detail: Any,
) -> EnquiryEvent:
    """Append one step to an enquiry's history (the only constructor of `EnquiryEvent`)."""
    assert enquiry.id is not None
    row = EnquiryEvent(
        enquiry_id=enquiry.id, kind=kind, actor=actor, at=now or utcnow(), detail=detail
    )
    session.add(row)
    return row


def audit(
    session: Session,
    enquiry: Enquiry,
    action: str,
    before: dict[str, Any],
    actor: str,
    now: datetime,
) -> None:
    """Audit one step of an enquiry (entity "enquiry", keyed by its reference)."""
    record(
        session=session,
        actor=actor,
        entity=AUDIT_ENTITY,
        key=reference_of(enquiry),
        action=action,
        before=before,
        after=state(enquiry),
        now=now,
    )


@dataclass(frozen=True)
class Change:
    """A state change: the status it sets, the event it appends, the audit row's action.

    `kind` None: the step appends its event itself (only when it happens: an escalation is
    reused); `action` None: the step writes its audit row itself (its own action name).
    """

    status: EnquiryStatus
    kind: EventKind | None
    action: str | None


ROUTE = Change(EnquiryStatus.ROUTED, EventKind.ROUTED, "route")
ROUTE_QUIETLY = Change(EnquiryStatus.ROUTED, EventKind.ROUTED, None)
"""Routed as part of a larger step that writes its own audit row (the association's choice)."""
REROUTE = Change(EnquiryStatus.ROUTED, EventKind.REROUTED, "reroute")
FORWARD = Change(EnquiryStatus.FORWARDED, EventKind.FORWARDED, "forward")
ESCALATE = Change(EnquiryStatus.ESCALATED, None, None)
ANSWER = Change(EnquiryStatus.ANSWERED, EventKind.ANSWERED, "answer")
CLOSE = Change(EnquiryStatus.CLOSED, EventKind.CLOSED, "close")
REFER = Change(EnquiryStatus.REFERRED, EventKind.REFERRED, "refer")
ASK_TO_CONFIRM = Change(EnquiryStatus.CONFIRMING, EventKind.CONFIRM_ASKED, "ask_to_confirm")


def step(
    session: Session, enquiry: Enquiry, change: Change, actor: str, now: datetime, **detail: Any
) -> None:
    """Set the change's status; append its event and its audit row (when it names them)."""
    before = state(enquiry)
    enquiry.status = change.status
    enquiry.updated_at = now
    if change.kind is not None:
        event(session, enquiry, change.kind, actor, now, **detail)
    if change.action is not None:
        audit(session, enquiry, change.action, before, actor, now)


def tell(
    session: Session,
    enquiry: Enquiry,
    kind: notify.Kind,
    dedupe_key: str | None = None,
    **params: Any,
) -> OutboxMessage | None:
    """Tell the association about its enquiry, in the language its question is answered in."""
    return notify.to_enquirer(
        session=session,
        enquiry=enquiry,
        kind=kind,
        language=enquiry.language,
        dedupe_key=dedupe_key,
        **params,
    )


def clear_deadlines(enquiry: Enquiry) -> None:
    """Stop the enquiry's deadline and reminder (nobody waits for a department any more)."""
    enquiry.sla_due_at = None
    enquiry.reminder_due_at = None


def open_escalations(*, session: Session, enquiry: Enquiry) -> list[Escalation]:
    """Return the enquiry's escalations nobody resolved yet."""
    return list(
        session.exec(
            select(Escalation).where(
                Escalation.enquiry_id == enquiry.id, col(Escalation.resolved_at).is_(None)
            )
        ).all()
    )


def resolve(escalations: Sequence[Escalation], resolution: str, now: datetime) -> None:
    """Mark escalations resolved, with how."""
    for escalation in escalations:
        escalation.resolved_at = now
        escalation.resolution = resolution


def take(
    session: Session,
    enquiry: Enquiry,
    *,
    among: Sequence[EnquiryStatus],
    values: dict[str, Any],
    extra: Any = None,
) -> bool:
    """Update the enquiry's row only while its status is one of `among`; tell whether it did.

    One conditional UPDATE: of two workers (a sweep and a person) taking the same enquiry at
    once, exactly one wins; the other finds the row changed.
    """
    conditions = [col(Enquiry.id) == enquiry.id, col(Enquiry.status).in_(list(among))]
    if extra is not None:
        conditions.append(extra)
    result = session.execute(
        update(Enquiry)
        .where(*conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def resolve_open(*, session: Session, enquiry: Enquiry, resolution: str, now: datetime) -> None:
    """Resolve the enquiry's open escalations (a closed enquiry's request carried out)."""
    resolve(open_escalations(session=session, enquiry=enquiry), resolution, now)
