"""What a stored Telegram update says: read only here, in the Telegram channel.

Payloads are read defensively: a dead letter may be an update nobody can parse. The message
key is the one the handlers use (`common.message_key`): `telegram:<chat>:<message id>`,
`telegram:<chat>:cb:<callback id>` for a button press (the first build wrote `tg:…`;
`db.plumbing.keys.older_keys` still finds those).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from db.enquiries import crud
from db.enquiries.inbox import dead_rows
from db.enquiries.notifications import Channel
from db.models import InboxUpdate
from db.plumbing.keys import message_key

TELEGRAM = Channel.TELEGRAM.value

MESSAGE_PARTS = ("message", "edited_message", "channel_post", "edited_channel_post")


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


@dataclass(frozen=True)
class DeadLetter:
    """A dead letter as an operator sees it: the update, what it was, and its enquiry."""

    update: InboxUpdate
    facts: UpdateFacts
    reference: str | None


def dead_letters(*, session: Session) -> list[DeadLetter]:
    """Return the dead letters, oldest first, each with the enquiry recorded for it."""
    letters = []
    for row in dead_rows(session=session):
        facts = read_update(row.payload)
        enquiry = (
            crud.enquiry_by_message_key(session=session, message_key=facts.message_key)
            if facts.message_key
            else None
        )
        letters.append(DeadLetter(row, facts, enquiry.reference if enquiry else None))
    return letters
