"""Every answer kept for the record: each answer (and each revised answer) with its text and time.

An answer to an association is an outgoing public record (allmän handling) of its own. The
enquiry row holds only the latest answer; `keep` writes each one as an `AnswerRecord` in the
same transaction as the answer, numbered in order. Their texts go with the enquiry's texts
under a disposal decision (db/privacy/retention.py); the register and the archive export read
them (db/records/).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, func, select

from db.models import AnswerRecord, Enquiry, utcnow


def keep(
    *, session: Session, enquiry: Enquiry, text: str, by: str, actor: str, now: datetime | None
) -> AnswerRecord:
    """Record one answer to an enquiry as its next answer record."""
    assert enquiry.id is not None
    last = session.exec(
        select(func.max(AnswerRecord.number)).where(AnswerRecord.enquiry_id == enquiry.id)
    ).one()
    record = AnswerRecord(
        enquiry_id=enquiry.id,
        number=(last or 0) + 1,
        text=text,
        by=by[:64],
        actor=actor[:64],
        at=now or utcnow(),
    )
    session.add(record)
    session.flush()
    return record


def answers_of(*, session: Session, enquiry_ids: list[int]) -> dict[int, list[AnswerRecord]]:
    """Return each enquiry's answer records, in order."""
    found: dict[int, list[AnswerRecord]] = {}
    if not enquiry_ids:
        return found
    for record in session.exec(
        select(AnswerRecord)
        .where(col(AnswerRecord.enquiry_id).in_(enquiry_ids))
        .order_by(col(AnswerRecord.enquiry_id), col(AnswerRecord.number))
    ).all():
        found.setdefault(record.enquiry_id, []).append(record)
    return found


def latest_answer(*, session: Session, enquiry_id: int) -> AnswerRecord | None:
    """Return an enquiry's latest answer record (None before its first answer)."""
    return session.exec(
        select(AnswerRecord)
        .where(AnswerRecord.enquiry_id == enquiry_id)
        .order_by(col(AnswerRecord.number).desc())
    ).first()
