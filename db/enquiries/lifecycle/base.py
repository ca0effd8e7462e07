"""What every step of the lifecycle shares: its error, the event, the audit row, the status.

`step` is the one place that changes an enquiry's status: it sets the status, appends the
`EnquiryEvent` and writes the audit row, in the caller's transaction. `event` appends an event
that changes no status (a reminder, a note, a claim). Nothing outside the lifecycle assigns
`Enquiry.status` or adds an `EnquiryEvent` (tests/test_layers.py checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from db.models import Enquiry, EnquiryEvent, EnquiryStatus, Escalation, EventKind, utcnow
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


def step(
    session: Session,
    enquiry: Enquiry,
    *,
    status: EnquiryStatus,
    kind: EventKind | None,
    action: str | None,
    actor: str,
    now: datetime,
    **detail: Any,
) -> None:
    """Change the enquiry's status; append its event (`kind`) and its audit row (`action`).

    `kind` None: the event was appended by the step already (a step of two events);
    `action` None: a step of a larger one that writes the audit row itself.
    """
    before = state(enquiry)
    enquiry.status = status
    enquiry.updated_at = now
    if kind is not None:
        event(session, enquiry, kind, actor, now, **detail)
    if action is not None:
        audit(session, enquiry, action, before, actor, now)


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
