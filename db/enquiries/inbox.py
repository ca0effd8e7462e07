"""The inbox seen from the domain: its dead letters.

An update that keeps failing is not dropped: it becomes a *dead letter*, kept with its error
and out of the processing, until an operator puts it back (`retry`) or ends it (`drop`,
audited). What an update says is read by its channel (its `updates` module in `bot/channels/`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from db.models import InboxUpdate, utcnow
from db.plumbing.audit import record
from db.plumbing.phrases import N_, DomainError

UNREADABLE_TEXT = N_("[Ett meddelande utan text som inte kunde hanteras]")
"""The text of an enquiry recorded for a failed update that carried no text (Swedish)."""


class NotADeadLetter(DomainError, LookupError):
    """The inbox holds no dead letter with this update id."""


def bury(
    *, session: Session, update_id: int, error: str, now: datetime | None = None
) -> InboxUpdate | None:
    """Make an update that failed once more a dead letter, kept with its error."""
    row = session.get(InboxUpdate, update_id)
    if row is None:
        return None
    row.attempts += 1
    row.error = error[:500]
    row.dead_at = now or utcnow()
    row.claimed_until = None  # nobody works on it any more
    return row


def dead_rows(*, session: Session) -> list[InboxUpdate]:
    """Return the dead letters, oldest first (the channel reads what each one was)."""
    return list(
        session.exec(
            select(InboxUpdate)
            .where(col(InboxUpdate.dead_at).is_not(None), col(InboxUpdate.processed_at).is_(None))
            .order_by(col(InboxUpdate.update_id))
        ).all()
    )


def _kind(payload: Any) -> str:
    """Return what an update is: the name of its part beside its id (the audit keeps that)."""
    data = payload if isinstance(payload, dict) else {}
    return next((str(key) for key in data if key != "update_id"), "")


def _dead_letter(*, session: Session, update_id: int) -> InboxUpdate:
    row = session.get(InboxUpdate, update_id)
    if row is None or row.dead_at is None or row.processed_at is not None:
        raise NotADeadLetter(
            N_("Det finns ingen död post med uppdaterings-id {update_id} i inkorgen."),
            update_id=update_id,
        )
    return row


def _state(row: InboxUpdate) -> dict[str, Any]:
    """Return what the audit keeps of a dead letter: what it was, never its text."""
    return {
        "kind": _kind(row.payload),
        "attempts": row.attempts,
        "dead_at": row.dead_at,
        "processed_at": row.processed_at,
    }


def _decide(
    *, session: Session, update_id: int, actor: str, action: str, now: datetime | None
) -> InboxUpdate:
    """Apply an operator's decision on a dead letter and audit it (audit rows stay for years)."""
    now = now or utcnow()
    row = _dead_letter(session=session, update_id=update_id)
    before = _state(row)
    if action == "retry":
        row.attempts, row.dead_at, row.claimed_until = 0, None, None
    else:
        row.processed_at = now
    record(
        session=session,
        actor=actor,
        entity="inbox_update",
        key=str(update_id),
        action=action,
        before=before,
        after=_state(row),
        now=now,
    )
    return row


def retry_dead_letter(
    *, session: Session, update_id: int, actor: str, now: datetime | None = None
) -> InboxUpdate:
    """Put a dead letter back for processing, with a fresh count of attempts."""
    return _decide(session=session, update_id=update_id, actor=actor, action="retry", now=now)


def drop_dead_letter(
    *, session: Session, update_id: int, actor: str, now: datetime | None = None
) -> InboxUpdate:
    """End a dead letter without processing it; the audit trail records who did it."""
    return _decide(session=session, update_id=update_id, actor=actor, action="drop", now=now)
