"""Disposal only by decision (gallring enligt beslut, JO 1758-2012).

Nothing is disposed of because a setting says so: a recorded disposal decision (its reference,
e.g. "KS 2026/123 § 45", its date, and the kinds of data it covers with the period each is
kept) must cover the kind of data. `lotsen purge` (db/retention.py) asks `coverage` which kinds
it may dispose of, keeps each at least as long as the decision says, and logs every disposal
(kind, count, decision) here without keeping anything of what was disposed of.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.models import CHAT_APP, DisposalDecision, DisposalLog, utcnow
from db.plumbing.audit import record
from db.plumbing.phrases import N_, DomainError, Phrase

KINDS = {
    "enquiry_texts": N_("frågornas och svarens texter i avslutade ärenden"),
    # Translators: {channel} is the chat app's name.
    "inbox": N_("behandlade {channel}-uppdateringar"),
    "outbox": N_("skickade meddelanden i utkorgen"),
    "audit": N_("ändringsloggen"),
    "tracker": N_("Rasas samtalshistorik"),
    "desk_sign_ins": N_("inloggningar i skrivbordet"),
    "feedback_comments": N_("föreningarnas kommentarer till svar"),
    "inbound_mail": N_("inkomna e-postmeddelanden som behandlats"),
    "web_chats": N_("webbchattar och deras utskrifter"),
}
"""The kinds of data a decision can cover, with what they are called in reports (`kind_phrase`)."""

INBOX_CHANNEL = CHAT_APP
"""The channel whose updates the inbox (`inbox_update`) holds: only the chat app's channel
writes them (web chats and inbound mail are kinds of their own)."""


def kind_phrase(kind: str) -> Phrase:
    """Return what a kind of data (or a purge count, db/privacy/retention.py) is called in
    reports; a name nobody labelled is shown as it is."""
    return Phrase(KINDS.get(kind, kind), {"channel": INBOX_CHANNEL})


COUNT_KINDS = {
    "enquiries_anonymised": "enquiry_texts",
    "training_candidates_redacted": "enquiry_texts",
    "erasure_requests_closed": "enquiry_texts",
    "inbox_updates_deleted": "inbox",
    "outbox_messages_redacted": "outbox",
    "outbox_messages_deleted": "outbox",
    "audit_entries_deleted": "audit",
    "tracker_events_deleted": "tracker",
    "desk_sign_ins_deleted": "desk_sign_ins",
    "rate_limit_refusals_deleted": "inbox",
    "feedback_comments_deleted": "feedback_comments",
    "inbound_mails_redacted": "inbound_mail",
    "web_chats_deleted": "web_chats",
}
"""Which kind of data each count of a purge report disposes of."""

MAX_REFERENCE = 64


def parse_covers(text: str) -> dict[str, int]:
    """Read "kind=days,kind=days" (e.g. "enquiry_texts=730,audit=3650") into a mapping."""
    covers: dict[str, int] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        kind, _, days = part.partition("=")
        kind = kind.strip()
        if kind not in KINDS:
            raise DomainError(
                N_("Okänt slag av uppgifter: {kind}. Kända: {known}"),
                kind=kind,
                known=", ".join(KINDS),
            )
        try:
            value = int(days.strip())
        except ValueError:
            value = 0
        if value < 1:
            # Translators: a disposal decision names, per kind of data, how many days it is kept.
            raise DomainError(N_("Ange antal dagar (minst 1) för {kind}"), kind=kind)
        covers[kind] = value
    if not covers:
        raise DomainError(N_("Beslutet måste omfatta minst ett slag av uppgifter"))
    return covers


def record_decision(
    *,
    session: Session,
    reference: str,
    decided_on: date,
    covers: Mapping[str, int],
    note: str = "",
    actor: str,
    now: datetime | None = None,
) -> DisposalDecision:
    """Record a disposal decision; refuse an empty or known reference and unknown kinds."""
    reference = " ".join(reference.split())
    if not reference or len(reference) > MAX_REFERENCE:
        raise DomainError(
            N_("Beslutets diarienummer måste ha 1–{limit} tecken"), limit=MAX_REFERENCE
        )
    for kind, days in covers.items():
        if kind not in KINDS or days < 1:
            raise DomainError(
                N_("Okänt slag av uppgifter: {kind}. Kända: {known}"),
                kind=kind,
                known=", ".join(KINDS),
            )
    found = session.exec(
        select(DisposalDecision).where(DisposalDecision.reference == reference)
    ).first()
    if found is not None:
        raise DomainError(N_("Beslutet {reference} finns redan"), reference=reference)
    now = now or utcnow()
    decision = DisposalDecision(
        reference=reference,
        decided_on=decided_on,
        covers=dict(covers),
        note=note.strip()[:500],
        recorded_by=actor[:64],
        recorded_at=now,
    )
    try:
        with session.begin_nested():
            session.add(decision)
            session.flush()
    except IntegrityError:
        raise DomainError(N_("Beslutet {reference} finns redan"), reference=reference) from None
    record(
        session=session,
        actor=actor,
        entity="disposal_decision",
        key=reference,
        action="create",
        before=None,
        after={"decided_on": decided_on.isoformat(), "covers": dict(covers), "note": note},
        now=now,
    )
    return decision


def decisions(*, session: Session) -> Sequence[DisposalDecision]:
    """Return every recorded decision, the newest first."""
    return session.exec(
        select(DisposalDecision).order_by(
            col(DisposalDecision.decided_on).desc(), col(DisposalDecision.id).desc()
        )
    ).all()


@dataclass(frozen=True)
class Cover:
    """The decision that allows one kind of data to be disposed of, and its period in days."""

    decision: DisposalDecision
    days: int


def coverage(*, session: Session, on: date) -> dict[str, Cover]:
    """Return, per kind of data, the newest decision in force on that day that covers it."""
    covered: dict[str, Cover] = {}
    for decision in decisions(session=session):
        if decision.decided_on > on:
            continue
        for kind, days in (decision.covers or {}).items():
            if kind in KINDS and kind not in covered:
                covered[kind] = Cover(decision=decision, days=int(days))
    return covered


def log_disposal(
    *, session: Session, kind: str, count: int, decision: DisposalDecision, now: datetime
) -> DisposalLog:
    """Log one disposal: the kind of data, how many, and the decision it was made under."""
    assert decision.id is not None
    entry = DisposalLog(at=now, kind=kind, count=count, decision_id=decision.id)
    session.add(entry)
    return entry


def disposals(*, session: Session, limit: int = 100) -> Sequence[tuple[DisposalLog, str]]:
    """Return the latest disposals with their decision's reference, the newest first."""
    rows = session.exec(
        select(DisposalLog, DisposalDecision.reference)
        .join(DisposalDecision, col(DisposalDecision.id) == col(DisposalLog.decision_id))
        .order_by(col(DisposalLog.at).desc(), col(DisposalLog.id).desc())
        .limit(limit)
    ).all()
    return [(entry, reference) for entry, reference in rows]
