"""The coordinator's escalation queue: list, claim, answer, route to a department, close."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from sqlmodel import Session, col, select

from db.enquiries import crud, lifecycle
from db.enquiries import notifications as notify
from db.enquiries.lifecycle import WorkflowError, reference_of
from db.enquiries.queue_facts import QueueItem, queue_item, staff_actor, staff_name
from db.enquiries.reach import why_unreachable
from db.enquiries.workflow import answer_enquiry
from db.models import (
    Department,
    Enquiry,
    EnquiryEvent,
    EnquiryStatus,
    Escalation,
    OutboxMessage,
    Route,
    TrainingCandidate,
    utcnow,
)
from db.people import departments
from db.plumbing.phrases import N_, Phrase

__all__ = [
    "CLOSE_REASONS",
    "ClaimResult",
    "QueueError",
    "QueueItem",
    "RouteResult",
    "answer",
    "claim",
    "close",
    "list_queue",
    "open_escalation",
    "record_digest",
    "route",
]

QueueFilter = Literal["all", "unclaimed", "mine"]
CLOSE_REASONS = ("answered_elsewhere", "duplicate", "spam", "not_municipal", "other")
"""Why the coordinator may close an enquiry (the association is told, except for spam)."""


class QueueError(WorkflowError):
    """A queue operation on something unknown, or not allowed now; nothing was changed."""


@dataclass
class ClaimResult:
    """The outcome of a claim: ok, or refused because someone else holds it."""

    ok: bool
    escalation: Escalation
    holder: int | None
    holder_name: str | None
    already_mine: bool = False

    def message(self) -> Phrase:
        """Return one line describing the outcome (for the CLI, the desk and the log)."""
        if self.ok:
            return Phrase(N_("Redan ditt.") if self.already_mine else N_("Taget."))
        if self.escalation.resolved_at is not None:
            return Phrase(N_("Eskalering {id} är redan löst."), {"id": self.escalation.id})
        return Phrase(
            N_("Eskalering {id} är tagen av {holder}."),
            {"id": self.escalation.id, "holder": self.holder_name},
        )


UNREACHABLE_ON_ROUTE = N_(
    "{reference} kunde inte skickas till {department}: förvaltningen kan inte nås ({why}). "
    "Ärendet ligger kvar i kön hos samordnaren."
)


@dataclass
class RouteResult:
    """What routing an escalation did: forwarded, or back in the queue (nobody reached).

    `escalation` is the new escalation (reason unreachable) when no channel reaches the
    department; `why` then says why.
    """

    enquiry: Enquiry
    department: Department
    forwarded: list[OutboxMessage]
    candidate: TrainingCandidate | None
    escalation: Escalation | None = None
    why: Phrase | None = None

    def unreachable(self) -> Phrase | None:
        """Return what the coordinator is told when nobody could be reached (else None)."""
        if self.escalation is None:
            return None
        return Phrase(
            UNREACHABLE_ON_ROUTE,
            {
                "reference": reference_of(self.enquiry),
                "department": self.department.key,
                "why": self.why or "",
            },
        )


def list_queue(
    *,
    session: Session,
    now: datetime | None = None,
    filter: QueueFilter | str = "all",
    staff_user_id: int | None = None,
    department_key: str | None = None,
) -> list[QueueItem]:
    """Return open escalations, oldest first, optionally unclaimed, mine, or one department's."""
    now = now or utcnow()
    query = (
        select(Escalation)
        .join(Enquiry, col(Enquiry.id) == Escalation.enquiry_id)
        .where(col(Escalation.resolved_at).is_(None))
    )
    if filter == "unclaimed":
        query = query.where(col(Escalation.claimed_by).is_(None))
    elif filter == "mine":
        if staff_user_id is None:
            raise QueueError(N_("Filtret 'mine' behöver personalens id."))
        query = query.where(Escalation.claimed_by == staff_user_id)
    elif filter != "all":
        raise QueueError(
            N_("Okänt filter {filter!r}: använd all, unclaimed eller mine."), filter=filter
        )
    if department_key is not None:
        department = _department(session=session, key=department_key)
        query = query.where(Enquiry.department_id == department.id)
    query = query.order_by(col(Escalation.created_at), col(Escalation.id))
    return [
        queue_item(session=session, escalation=escalation, now=now)
        for escalation in session.exec(query).all()
    ]


def _department(*, session: Session, key: str) -> Department:
    department = departments.department_by_key(session=session, key=key)
    if department is None:
        known = ", ".join(sorted(d.key for d in session.exec(select(Department)).all()))
        raise QueueError(
            N_("Okänd förvaltning {key!r}. Kända förvaltningar: {known}."), key=key, known=known
        )
    return department


def open_escalation(*, session: Session, escalation_id: int) -> Escalation:
    """Return an open escalation, or raise QueueError saying why not."""
    escalation = session.get(Escalation, escalation_id)
    if escalation is None:
        raise QueueError(N_("Ingen eskalering med id {id}."), id=escalation_id)
    if escalation.resolved_at is not None:
        raise QueueError(
            N_("Eskalering {id} är redan löst ({resolution})."),
            id=escalation_id,
            resolution=escalation.resolution,
        )
    return escalation


def _enquiry(*, session: Session, escalation: Escalation) -> Enquiry:
    enquiry = session.get(Enquiry, escalation.enquiry_id)
    if enquiry is None:
        raise QueueError(N_("Eskalering {id} har inget ärende."), id=escalation.id)
    return enquiry


def claim(
    *, session: Session, escalation_id: int, staff_user_id: int, now: datetime | None = None
) -> ClaimResult:
    """Claim an escalation atomically: of two coordinators claiming at once, exactly one wins."""
    now = now or utcnow()
    escalation, won = lifecycle.claimed(
        session=session,
        escalation_id=escalation_id,
        staff_user_id=staff_user_id,
        actor=staff_actor(session=session, person_id=staff_user_id),
        now=now,
    )
    if escalation is None:
        raise QueueError(N_("Ingen eskalering med id {id}."), id=escalation_id)
    holder = escalation.claimed_by
    ok = won or (holder == staff_user_id and escalation.resolved_at is None)
    return ClaimResult(
        ok=ok,
        escalation=escalation,
        holder=holder,
        holder_name=staff_name(session=session, person_id=holder),
        already_mine=ok and not won,
    )


def _claimed_for(
    *, session: Session, escalation_id: int, staff_user_id: int, now: datetime
) -> Escalation:
    """Return the open escalation held by (or now claimed for) the staff member, else refuse."""
    open_escalation(session=session, escalation_id=escalation_id)
    result = claim(
        session=session, escalation_id=escalation_id, staff_user_id=staff_user_id, now=now
    )
    if not result.ok:
        phrase = result.message()
        raise QueueError(phrase.message, **phrase.values)
    return result.escalation


def answer(
    *,
    session: Session,
    escalation_id: int,
    text: str,
    staff_user_id: int,
    now: datetime | None = None,
) -> OutboxMessage | None:
    """Answer the association as the coordinator (claiming the escalation if nobody holds it)."""
    now = now or utcnow()
    if not (text or "").strip():
        raise QueueError(N_("Svaret är tomt: skriv texten som ska skickas till föreningen."))
    escalation = open_escalation(session=session, escalation_id=escalation_id)
    enquiry = _enquiry(session=session, escalation=escalation)
    if enquiry.status in (EnquiryStatus.CLOSED, EnquiryStatus.ANSWERED):
        raise QueueError(
            N_("{reference} är {status} och kan inte besvaras."),
            reference=reference_of(enquiry),
            status=enquiry.status,
        )
    _claimed_for(session=session, escalation_id=escalation_id, staff_user_id=staff_user_id, now=now)
    return answer_enquiry(
        session=session,
        enquiry=enquiry,
        text=text,
        actor=staff_actor(session=session, person_id=staff_user_id),
        now=now,
        by_coordinator=True,
    )


def _training_intent(*, session: Session, department: Department) -> tuple[str | None, int]:
    """Return the intent a correction to this department teaches (first by name) and the count."""
    intents = sorted(
        session.exec(select(Route.intent).where(Route.department_id == department.id)).all()
    )
    return (intents[0] if intents else None), len(intents)


def _learn_from_correction(
    *, session: Session, enquiry: Enquiry, department: Department, now: datetime
) -> tuple[TrainingCandidate | None, dict[str, object]]:
    """Store the enquiry as an unreviewed training example for the department's intent."""
    intent, count = _training_intent(session=session, department=department)
    note: dict[str, object] = {"previous_intent": enquiry.intent, "department_intents": count}
    if intent is None:
        note["training"] = "skipped: the department has no routes"
        return None, note
    model_routes = crud.routes_map(session=session)
    if enquiry.intent is not None and model_routes.get(enquiry.intent) == department.key:
        note["training"] = "skipped: the model's intent already leads to this department"
        return None, note
    existing = session.exec(
        select(TrainingCandidate).where(
            TrainingCandidate.enquiry_id == enquiry.id, TrainingCandidate.intent == intent
        )
    ).first()
    if existing is not None:
        note.update(training="already a candidate", training_candidate=existing.id)
        return existing, note
    candidate = TrainingCandidate(
        text=enquiry.text, intent=intent, enquiry_id=enquiry.id, created_at=now
    )
    session.add(candidate)
    session.flush()
    note.update(
        training_candidate=candidate.id,
        training_intent=intent,
        training_choice="only route" if count == 1 else f"first of {count} routes by intent name",
    )
    return candidate, note


def route(
    *,
    session: Session,
    escalation_id: int,
    department_key: str,
    staff_user_id: int,
    email_enabled: bool,
    now: datetime | None = None,
) -> RouteResult:
    """Send the enquiry to a department with a fresh deadline, and learn from the correction.

    `email_enabled` (the settings' SMTP server) lets the forward fall back to the department's
    mailbox; when nothing reaches the department the result carries the new escalation
    (`RouteResult.unreachable`).
    """
    now = now or utcnow()
    escalation = open_escalation(session=session, escalation_id=escalation_id)
    department = _department(session=session, key=department_key)
    enquiry = _enquiry(session=session, escalation=escalation)
    if enquiry.status == EnquiryStatus.CLOSED:
        raise QueueError(N_("{reference} är avslutat."), reference=reference_of(enquiry))
    _claimed_for(session=session, escalation_id=escalation_id, staff_user_id=staff_user_id, now=now)
    candidate, note = _learn_from_correction(
        session=session, enquiry=enquiry, department=department, now=now
    )
    sent = lifecycle.rerouted(
        session=session,
        enquiry=enquiry,
        escalation=escalation,
        department=department,
        actor=staff_actor(session=session, person_id=staff_user_id),
        email_enabled=email_enabled,
        now=now,
        **note,
    )
    return RouteResult(
        enquiry=enquiry,
        department=department,
        forwarded=list(sent.messages),
        candidate=candidate,
        escalation=sent.escalation,
        why=why_unreachable(sent.reach) if sent.escalation and sent.reach else None,
    )


def close(
    *,
    session: Session,
    escalation_id: int,
    reason_code: str,
    staff_user_id: int,
    now: datetime | None = None,
) -> OutboxMessage | None:
    """Close the enquiry with a reason and tell the association in its language."""
    now = now or utcnow()
    if reason_code not in CLOSE_REASONS:
        raise QueueError(
            N_("Okänd orsak {reason!r}. Använd en av: {reasons}."),
            reason=reason_code,
            reasons=", ".join(CLOSE_REASONS),
        )
    escalation = open_escalation(session=session, escalation_id=escalation_id)
    enquiry = _enquiry(session=session, escalation=escalation)
    _claimed_for(session=session, escalation_id=escalation_id, staff_user_id=staff_user_id, now=now)
    return lifecycle.closed(
        session=session,
        enquiry=enquiry,
        actor=staff_actor(session=session, person_id=staff_user_id),
        reason=reason_code,
        now=now,
        resolution=f"closed:{reason_code}",
        message=notify.Kind.CLOSED,
    )


def history(*, session: Session, enquiry: Enquiry) -> Sequence[EnquiryEvent]:
    """Return the enquiry's events in order."""
    return session.exec(
        select(EnquiryEvent)
        .where(EnquiryEvent.enquiry_id == enquiry.id)
        .order_by(col(EnquiryEvent.at), col(EnquiryEvent.id))
    ).all()


def record_digest(*, session: Session, day: date) -> OutboxMessage | None:
    """Queue the coordinator's e-mail digest of open escalations for a day (once per day)."""
    return notify.to_coordinators(
        session=session,
        kind=notify.Kind.DIGEST,
        channel=notify.Channel.EMAIL,
        dedupe_key=f"digest:{day.isoformat()}",
        day=day.isoformat(),
    )
