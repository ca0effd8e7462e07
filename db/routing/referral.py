"""Referral: a question for another authority is answered with where to turn, and recorded.

`refer` checks the authority and gives the enquiry its own state, *referred*: the
lifecycle's `referred` writes the authority's key, an event, an audit row and the
association's answer (the authority's name, website and phone, with a button "that is not
right"), all in the caller's transaction. `dispute_referral` takes the association's word
that the authority is not the right one: the enquiry goes to the coordinator with its own
reason (*misreferred*).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from db.enquiries import lifecycle
from db.enquiries.lifecycle import WorkflowError, reference_of
from db.models import Enquiry, EnquiryStatus, Escalation, utcnow
from db.plumbing.phrases import N_
from db.routing.authorities import authority_by_key

REFERABLE = (EnquiryStatus.RECEIVED,)
"""Only a new enquiry is referred: one that reached a department or the coordinator stays."""


def refer(
    *, session: Session, enquiry: Enquiry, authority_key: str, actor: str, **step: Any
) -> None:
    """Record that the enquiry belongs to another authority and tell the association so.

    `step` is passed on to the lifecycle's `referred`: `now`, `dedupe_key` (the answer is
    once-only for the inbound message) and the answer's extra parameters (the languages line).
    """
    authority = authority_by_key(session=session, key=authority_key)
    if authority is None:
        raise WorkflowError(
            N_("Det finns ingen myndighet med nyckeln {value}."), value=authority_key
        )
    if enquiry.status not in REFERABLE:
        raise WorkflowError(N_("{reference} är redan hanterat."), reference=reference_of(enquiry))
    lifecycle.referred(
        session=session, enquiry=enquiry, authority_key=authority.key, actor=actor, **step
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
    if enquiry.status != EnquiryStatus.REFERRED:
        raise WorkflowError(N_("{reference} är redan hanterat."), reference=reference_of(enquiry))
    return lifecycle.disputed(
        session=session, enquiry=enquiry, actor=actor, now=now or utcnow(), dedupe_key=dedupe_key
    )
