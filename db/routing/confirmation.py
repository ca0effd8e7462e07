"""Confirmation: when the model is unsure between two departments, the association chooses.

`ask_to_confirm` puts a new enquiry in the state *confirming* and asks the association with
buttons: the two likeliest departments and "something else". `choose` records the choice:
a department routes the enquiry there (and the choice becomes a training candidate, reviewed
with `lotsen training review` like a coordinator's re-routing); "something else" sends it to
the coordinator. An enquiry nobody chooses for within `CONFIRM_HOURS` goes to the coordinator
(`sweep_unconfirmed`), so none is lost. Each step writes status, event, audit row and
notifications in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from db.enquiries import lifecycle
from db.enquiries.lifecycle import SYSTEM_ACTOR, WorkflowError, reference_of
from db.models import (
    Department,
    Enquiry,
    EnquiryEvent,
    EnquiryStatus,
    EventKind,
    Route,
    TrainingCandidate,
    utcnow,
)
from db.people.departments import department_by_key
from db.plumbing.phrases import N_

CONFIRM_HOURS = 24
"""How long a question waits for the association's choice before the coordinator gets it."""
SWEEP_BATCH = 200


def ask_to_confirm(
    *,
    session: Session,
    enquiry: Enquiry,
    options: Sequence[str],
    actor: str,
    intents: Mapping[str, str] | None = None,
    now: datetime | None = None,
    dedupe_key: str | None = None,
    **reply: Any,
) -> None:
    """Ask the association to choose between two departments (best guess first).

    `intents` names, per department, the model's likeliest intent for it (what a choice
    teaches); `reply` carries the question's extra parameters (the languages line).
    """
    now = now or utcnow()
    keys = list(dict.fromkeys(options))
    departments = [department_by_key(session=session, key=key) for key in keys]
    if len(keys) != 2 or any(d is None for d in departments):
        raise WorkflowError(
            N_("Välj två olika förvaltningar som finns, inte {value}."), value=", ".join(options)
        )
    if enquiry.status != EnquiryStatus.RECEIVED:
        raise WorkflowError(N_("{reference} är redan hanterat."), reference=reference_of(enquiry))
    lifecycle.confirmation_asked(
        session=session,
        enquiry=enquiry,
        options=keys,
        intents={k: v for k, v in (intents or {}).items() if k in keys},
        actor=actor,
        until=timedelta(hours=CONFIRM_HOURS),
        now=now,
        dedupe_key=dedupe_key,
        **reply,
    )


def asked(*, session: Session, enquiry: Enquiry) -> EnquiryEvent | None:
    """Return the event that asked the association to choose (the latest), or None."""
    return session.exec(
        select(EnquiryEvent)
        .where(EnquiryEvent.enquiry_id == enquiry.id, EnquiryEvent.kind == EventKind.CONFIRM_ASKED)
        .order_by(col(EnquiryEvent.id).desc())
    ).first()


def _teach(
    session: Session, enquiry: Enquiry, department: Department, intent: str | None, now: datetime
) -> TrainingCandidate | None:
    """Keep the question as an unreviewed example of the chosen department's intent."""
    routed = set(
        session.exec(select(Route.intent).where(Route.department_id == department.id)).all()
    )
    if intent not in routed:
        intent = min(routed) if routed else None
    if intent is None:
        return None
    found = session.exec(
        select(TrainingCandidate).where(
            TrainingCandidate.enquiry_id == enquiry.id, TrainingCandidate.intent == intent
        )
    ).first()
    if found is not None:
        return found
    candidate = TrainingCandidate(
        text=enquiry.text, intent=intent, enquiry_id=enquiry.id, created_at=now
    )
    session.add(candidate)
    session.flush()
    return candidate


def choose(
    *,
    session: Session,
    enquiry: Enquiry,
    department_key: str | None,
    actor: str,
    email_enabled: bool,
    now: datetime | None = None,
    dedupe_key: str | None = None,
) -> TrainingCandidate | None:
    """Record the association's choice: route to the department, or (None) to the coordinator.

    The forward follows `lifecycle.sent_to`'s rule (`email_enabled`: the settings' SMTP
    server): a department nobody can reach sends the enquiry to the coordinator at once.

    Returns the training candidate the choice made (None for "something else"). A department
    that was not offered, or an enquiry no longer waiting for a choice, is refused.
    """
    now = now or utcnow()
    if enquiry.status != EnquiryStatus.CONFIRMING:
        raise WorkflowError(N_("{reference} är redan hanterat."), reference=reference_of(enquiry))
    event = asked(session=session, enquiry=enquiry)
    offered = list(event.detail.get("options") or []) if event is not None else []
    if department_key is not None and department_key not in offered:
        raise WorkflowError(
            N_("Välj en av förvaltningarna i frågan, inte {value}."), value=department_key
        )
    if not lifecycle.take_confirming(session=session, enquiry=enquiry, now=now):
        raise WorkflowError(N_("{reference} är redan hanterat."), reference=reference_of(enquiry))
    department = department_by_key(session=session, key=department_key) if department_key else None
    candidate: TrainingCandidate | None = None
    if department is not None:
        intents = event.detail.get("intents") if event is not None else None
        intent = intents.get(department.key) if isinstance(intents, dict) else None
        candidate = _teach(session, enquiry, department, intent, now)
    lifecycle.chosen(
        session=session,
        enquiry=enquiry,
        department=department,
        offered=offered,
        candidate=candidate,
        actor=actor,
        email_enabled=email_enabled,
        now=now,
        dedupe_key=dedupe_key,
    )
    return candidate


def sweep_unconfirmed(*, session: Session, now: datetime, limit: int = SWEEP_BATCH) -> list[str]:
    """Send questions nobody chose a department for in time to the coordinator; return them."""
    due = session.exec(
        select(Enquiry)
        .where(Enquiry.status == EnquiryStatus.CONFIRMING, col(Enquiry.sla_due_at) <= now)
        .order_by(col(Enquiry.id))
        .limit(limit)
    ).all()
    swept = []
    for enquiry in due:
        if not lifecycle.take_confirming(session=session, enquiry=enquiry, now=now):
            continue  # the association chose meanwhile
        lifecycle.unconfirmed(session=session, enquiry=enquiry, actor=SYSTEM_ACTOR, now=now)
        swept.append(reference_of(enquiry))
    return swept
