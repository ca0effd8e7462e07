"""Training candidates from coordinators' corrections: review, and export as Rasa NLU YAML."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from db.enquiries import crud
from db.models import Enquiry, TrainingCandidate, utcnow
from db.plumbing.phrases import N_, DomainError

_ENTITY_BRACKETS = str.maketrans({"[": "(", "]": ")"})
_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class TrainingError(DomainError):
    """A review or export that cannot be done; nothing was changed."""


def list_candidates(*, session: Session, only_pending: bool = False) -> Sequence[TrainingCandidate]:
    """Return training candidates, oldest first (only unreviewed ones if asked)."""
    query = select(TrainingCandidate)
    if only_pending:
        query = query.where(col(TrainingCandidate.reviewed_at).is_(None))
    return session.exec(query.order_by(col(TrainingCandidate.id))).all()


@dataclass(frozen=True)
class CandidateView:
    """A candidate as a reviewer sees it: the masked question, the guessed and the right topic."""

    candidate: TrainingCandidate
    text: str
    guessed: str | None
    reference: str | None


@dataclass(frozen=True)
class ReviewOverview:
    """The candidates waiting for review, and how many were accepted or rejected so far."""

    pending: list[CandidateView]
    accepted: int
    rejected: int


def review_overview(*, session: Session, limit: int = 200) -> ReviewOverview:
    """Return unreviewed candidates (oldest first, at most `limit`) and the review counts.

    The question is stored masked like every question (personal data replaced); `guessed` is
    the topic the model chose.
    """
    rows = session.exec(
        select(TrainingCandidate, Enquiry)
        .join(Enquiry, col(TrainingCandidate.enquiry_id) == Enquiry.id, isouter=True)
        .where(col(TrainingCandidate.reviewed_at).is_(None))
        .order_by(col(TrainingCandidate.id))
        .limit(limit)
    ).all()
    pending = [
        CandidateView(
            candidate=candidate,
            text=candidate.text,
            guessed=enquiry.intent if enquiry is not None else None,
            reference=enquiry.reference if enquiry is not None else None,
        )
        for candidate, enquiry in rows
    ]
    accepted = session.exec(
        select(func.count())
        .select_from(TrainingCandidate)
        .where(TrainingCandidate.accepted == True)  # noqa: E712
    ).one()
    rejected = session.exec(
        select(func.count())
        .select_from(TrainingCandidate)
        .where(TrainingCandidate.accepted == False)  # noqa: E712
    ).one()
    return ReviewOverview(pending=pending, accepted=int(accepted), rejected=int(rejected))


def review(
    *,
    session: Session,
    candidate_id: int,
    accept: bool,
    reviewer: str,
    intent: str | None = None,
    now: datetime | None = None,
) -> TrainingCandidate:
    """Accept or reject a candidate, optionally correcting its intent to a routed one."""
    candidate = session.get(TrainingCandidate, candidate_id)
    if candidate is None:
        raise TrainingError(N_("Det finns inget träningsförslag med id {id}."), id=candidate_id)
    if intent is not None:
        known = crud.routes_map(session=session)
        if intent not in known:
            raise TrainingError(
                N_("Okänt ämne {intent!r}. Kända ämnen: {known}."),
                intent=intent,
                known=", ".join(sorted(known)),
            )
        candidate.intent = intent
    candidate.accepted = accept
    candidate.reviewed_at = now or utcnow()
    candidate.reviewed_by = reviewer
    return candidate


def example_line(text: str) -> str:
    """Return a question as one safe NLU example: one line, printable, no entity markup."""
    printable = "".join(
        ch if unicodedata.category(ch)[0] != "C" else " " for ch in text.translate(_ENTITY_BRACKETS)
    )
    return re.sub(r"\s+", " ", printable).strip()


def export_nlu_yaml(*, session: Session) -> tuple[str, int]:
    """Return accepted candidates as Rasa 3 NLU YAML, and how many examples it holds."""
    accepted = session.exec(
        select(TrainingCandidate)
        .where(TrainingCandidate.accepted == True)  # noqa: E712
        .order_by(col(TrainingCandidate.intent), col(TrainingCandidate.id))
    ).all()
    by_intent: dict[str, list[str]] = {}
    for candidate in accepted:
        line = example_line(candidate.text)
        if line and line not in by_intent.setdefault(candidate.intent, []):
            by_intent[candidate.intent].append(line)
    lines = ['version: "3.1"']
    if not by_intent:
        lines.append("nlu: []")
    else:
        lines.append("nlu:")
        for intent, examples in by_intent.items():
            name = intent if _PLAIN_NAME.fullmatch(intent) else json.dumps(intent)
            lines.append(f"- intent: {name}")
            lines.append("  examples: |")
            lines.extend(f"    - {example}" for example in examples)
    return "\n".join(lines) + "\n", sum(len(v) for v in by_intent.values())
