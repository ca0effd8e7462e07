"""Referral: a question for another authority is answered with where to turn, and recorded.

`refer` gives the enquiry its own state (*referred*), the authority's key, an event, an audit
row and the association's answer (the authority's name, website and phone, with a button
"that is not right"), all in the caller's transaction. `dispute_referral` takes the
association's word that the authority is not the right one: the enquiry goes to the
coordinator with its own reason (*misreferred*).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from db.enquiries import crud
from db.enquiries import notifications as notify
from db.enquiries.workflow import WorkflowError, escalate, reference_of
from db.models import Enquiry, EnquiryStatus, Escalation, EscalationReason, EventKind, utcnow
from db.plumbing.audit import record
from db.plumbing.phrases import N_
from db.routing.authorities import authority_by_key

AUDIT_ENTITY = "enquiry"
REFERABLE = (EnquiryStatus.RECEIVED,)
"""Only a new enquiry is referred: one that reached a department or the coordinator stays."""


def state(enquiry: Enquiry) -> dict[str, Any]:
    """Return what the audit row of a referral or confirmation step records of the enquiry."""
    return {"status": enquiry.status, "referred_to": enquiry.referred_to}


def audit_step(
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


def escalate_and_tell(
    *,
    session: Session,
    enquiry: Enquiry,
    reason: EscalationReason,
    action: str,
    actor: str,
    now: datetime,
    dedupe_key: str | None = None,
) -> Escalation:
    """Send the enquiry to the coordinator with a reason, audit the step, tell the association."""
    before = state(enquiry)
    escalation = escalate(session=session, enquiry=enquiry, reason=reason, actor=actor, now=now)
    audit_step(session, enquiry, action, before, actor, now)
    notify.to_enquirer(
        session=session,
        enquiry=enquiry,
        kind=notify.Kind.ESCALATED,
        language=enquiry.language,
        dedupe_key=dedupe_key,
        reason=reason,
    )
    return escalation


def refer(
    *,
    session: Session,
    enquiry: Enquiry,
    authority_key: str,
    actor: str,
    now: datetime | None = None,
    dedupe_key: str | None = None,
    **reply: Any,
) -> None:
    """Record that the enquiry belongs to another authority and tell the association so.

    `reply` carries the answer's extra parameters (the languages line of the channel);
    `dedupe_key` makes the answer once-only for the inbound message.
    """
    now = now or utcnow()
    authority = authority_by_key(session=session, key=authority_key)
    if authority is None:
        raise WorkflowError(
            N_("Det finns ingen myndighet med nyckeln {value}."), value=authority_key
        )
    if enquiry.status not in REFERABLE:
        raise WorkflowError(N_("{reference} är redan hanterat."), reference=reference_of(enquiry))
    before = state(enquiry)
    enquiry.status = EnquiryStatus.REFERRED
    enquiry.referred_to = authority.key
    enquiry.updated_at = now
    enquiry.sla_due_at = None
    enquiry.reminder_due_at = None
    crud.add_event(
        session=session,
        enquiry=enquiry,
        kind=EventKind.REFERRED,
        actor=actor,
        now=now,
        authority=authority.key,
    )
    audit_step(session, enquiry, "refer", before, actor, now)
    notify.to_enquirer(
        session=session,
        enquiry=enquiry,
        kind=notify.Kind.REFERRED,
        language=enquiry.language,
        dedupe_key=dedupe_key,
        authority=authority.key,
        **reply,
    )


def dispute_referral(
    *,
    session: Session,
    enquiry: Enquiry,
    actor: str,
    now: datetime | None = None,
    dedupe_key: str | None = None,
) -> Escalation:
    """Send a referred enquiry to the coordinator: the association says it is not right."""
    now = now or utcnow()
    if enquiry.status != EnquiryStatus.REFERRED:
        raise WorkflowError(N_("{reference} är redan hanterat."), reference=reference_of(enquiry))
    return escalate_and_tell(
        session=session,
        enquiry=enquiry,
        reason=EscalationReason.MISREFERRED,
        action="dispute_referral",
        actor=actor,
        now=now,
        dedupe_key=dedupe_key,
    )
