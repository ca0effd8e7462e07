"""Training candidates from coordinators' corrections: review, and export as Rasa NLU YAML."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from db.enquiries import crud
from db.models import TrainingCandidate, utcnow
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
