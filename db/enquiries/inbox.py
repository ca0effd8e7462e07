"""The Telegram inbox seen from the domain: what a stored update says, and its dead letters.

An update that keeps failing is not dropped: it becomes a *dead letter*, kept with its error
and out of the processing, until an operator puts it back (`retry`) or ends it (`drop`,
audited). Payloads are read defensively here: a dead letter may be an update nobody can parse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from db.enquiries import crud
from db.models import InboxUpdate, utcnow
from db.plumbing.audit import record
from db.plumbing.keys import message_key
from db.plumbing.phrases import N_, DomainError

UNREADABLE_TEXT = N_("[Ett meddelande utan text som inte kunde hanteras]")
"""The text of an enquiry recorded for a failed update that carried no text (Swedish)."""

TELEGRAM = "telegram"

MESSAGE_PARTS = ("message", "edited_message", "channel_post", "edited_channel_post")


class NotADeadLetter(DomainError, LookupError):
    """The inbox holds no dead letter with this update id."""


@dataclass(frozen=True)
class UpdateFacts:
    """What a raw Telegram update says, as far as it can be read (None where it cannot)."""

    kind: str
    chat_id: int | None
    chat_type: str | None
    sender_id: int | None
    text: str | None
    message_key: str | None


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def read_update(payload: Any) -> UpdateFacts:
    """Read an update's kind, chat, sender, text and message key without trusting its shape.

    The message key is the one the handlers use (`bot.channels.telegram.common.message_key`):
    `telegram:<chat>:<message id>`, `telegram:<chat>:cb:<callback id>` for a button press
    (the first build wrote `tg:…`; `db.plumbing.keys.older_keys` still finds those).
    """
    data = _mapping(payload)
    kind = next((key for key in data if key != "update_id"), "")
    part = _mapping(data.get(kind))
    message = _mapping(part.get("message")) if kind == "callback_query" else part
    chat = _mapping(message.get("chat"))
    chat_id = _number(chat.get("id"))
    chat_type = chat.get("type") if isinstance(chat.get("type"), str) else None
    text = None
    if kind in MESSAGE_PARTS:
        found = message.get("text") or message.get("caption")
        text = found if isinstance(found, str) else None
    key = None
    if chat_id is not None:
        if kind == "callback_query":
            callback = part.get("id")
            key = (
                message_key(TELEGRAM, str(chat_id), f"cb:{callback}")
                if isinstance(callback, str)
                else None
            )
        elif kind in MESSAGE_PARTS and _number(message.get("message_id")) is not None:
            key = message_key(TELEGRAM, str(chat_id), str(message["message_id"]))
        elif _number(data.get("update_id")) is not None:
            key = message_key(TELEGRAM, str(chat_id), str(data["update_id"]))
    return UpdateFacts(
        kind=kind,
        chat_id=chat_id,
        chat_type=chat_type,
        sender_id=_number(_mapping(part.get("from")).get("id")),
        text=text,
        message_key=key,
    )


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


@dataclass(frozen=True)
class DeadLetter:
    """A dead letter as an operator sees it: the update, what it was, and its enquiry."""

    update: InboxUpdate
    facts: UpdateFacts
    reference: str | None


def dead_letters(*, session: Session) -> list[DeadLetter]:
    """Return the dead letters, oldest first, each with the enquiry recorded for it."""
    rows = session.exec(
        select(InboxUpdate)
        .where(col(InboxUpdate.dead_at).is_not(None), col(InboxUpdate.processed_at).is_(None))
        .order_by(col(InboxUpdate.update_id))
    ).all()
    letters = []
    for row in rows:
        facts = read_update(row.payload)
        enquiry = (
            crud.enquiry_by_message_key(session=session, message_key=facts.message_key)
            if facts.message_key
            else None
        )
        letters.append(DeadLetter(row, facts, enquiry.reference if enquiry else None))
    return letters


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
        "kind": read_update(row.payload).kind,
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
