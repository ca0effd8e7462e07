"""Sends in doubt: find out whether Telegram has a message before sending it again.

Telegram has no idempotent send. Between Telegram accepting a message and the outbox recording
it, a crash (kill -9, a power cut) or a lost answer (a timeout) leaves the row unsent but the
message perhaps delivered; sending it again would say it twice. So such a row is first looked
for in its chat, newer than the bot's newest message there that the outbox knows:

- message ids in a chat count up, so the lost message has a higher id than that one (and than
  the message it replies to);
- each higher id is asked to become the message's current rendering (`editMessageText`, or
  `editMessageCaption` for a document): "message is not modified" or a successful edit means
  it is the bot's message, the lost one; "can't be edited" is someone else's (go on); "not
  found" is past the newest message of the chat (the lost one never arrived).

That is safe only where the outbox knows every other message of the bot above that floor, so
that no other message can be changed by mistake. In an association's private chat every
message of the bot comes from the outbox. In a group, or a staff member's chat, handlers also
answer directly, but only while they handle an update from that chat: such a chat is checked
only when no update from it has been handled since the floor message was sent. Otherwise the
row is sent again (at least once).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest

from bot.channels.telegram.updates import read_update
from db.enquiries import crud
from db.enquiries.notifications import Channel, Recipient
from db.models import InboxUpdate, OutboxMessage
from db.people.identities import identity_for
from db.people.staff_identities import find_staff_person

log = logging.getLogger(__name__)

MAX_PROBES = 100
"""How many newer message ids are looked at, at most (the search stops at the newest)."""


def _replied_to(dedupe_key: str | None, chat_id: int) -> int | None:
    """Return the id of the inbound message a reply answers (its key is telegram:<chat>:<id>:
    <tag>, or tg:… as the first build wrote it)."""
    parts = (dedupe_key or "").split(":")
    if (
        len(parts) >= 3
        and parts[0] in ("telegram", "tg")
        and parts[1] == str(chat_id)
        and parts[2].isdigit()
    ):
        return int(parts[2])
    return None


def _handled_since(session: Session, chat_id: int, moment: datetime) -> bool:
    """Tell whether an update from this chat was handled (or is waiting) since a moment."""
    rows = session.exec(
        select(InboxUpdate.payload).where(
            col(InboxUpdate.processed_at).is_(None) | (col(InboxUpdate.processed_at) >= moment)
        )
    )
    return any(read_update(payload).chat_id == chat_id for payload in rows)


def _outbox_only(session: Session, row: OutboxMessage, chat_id: int) -> bool:
    """Tell whether every message of the bot in this chat comes from the outbox."""
    if row.recipient != Recipient.ASSOCIATION or chat_id <= 0 or row.recipient_id is None:
        return False
    identity = identity_for(session=session, person_id=row.recipient_id, channel=Channel.TELEGRAM)
    if identity is None or not identity.address.isdigit():
        return False
    staff = find_staff_person(session=session, channel=Channel.TELEGRAM, address=identity.address)
    return not (staff is not None and crud.staff_roles(session=session, person_id=staff.id))


def candidate_ids(engine: Engine, row_id: int, chat_id: int) -> list[int]:
    """Return the message ids an in-doubt row may have got, [] when its chat cannot be checked."""
    with Session(engine) as session:
        row = session.get(OutboxMessage, row_id)
        if row is None:
            return []
        sent = {
            int(external_id): started
            for external_id, started in session.exec(
                select(OutboxMessage.external_id, OutboxMessage.sending_at).where(
                    OutboxMessage.address == str(chat_id),
                    col(OutboxMessage.external_id).is_not(None),
                )
            )
            if external_id is not None and external_id.isdigit()
        }
        if _outbox_only(session, row, chat_id):
            replied = _replied_to(row.dedupe_key, chat_id)
            floor = max(set(sent) | ({replied} if replied is not None else set()), default=None)
        else:
            floor = max(sent, default=None)
            started = sent.get(floor) if floor is not None else None
            if started is None or _handled_since(session, chat_id, started):
                return []  # the bot may have answered there directly since
    if floor is None:
        return []
    return [n for n in range(floor + 1, floor + 1 + MAX_PROBES) if n not in sent]


async def _is_there(
    bot: Bot,
    chat_id: int,
    message_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None,
    caption: bool,
) -> bool | None:
    """Tell whether a message id holds this message (True), another's (False), or none (None)."""
    try:
        if caption:
            await bot.edit_message_caption(
                chat_id=chat_id, message_id=message_id, caption=text, reply_markup=markup
            )
        else:
            await bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, reply_markup=markup
            )
    except BadRequest as exc:
        problem = str(exc).lower()
        if "not modified" in problem:
            return True
        if "not found" in problem:
            return None
        return False  # the association's own message (it "can't be edited")
    return True  # the bot's lost message, now showing its current rendering


async def find_delivered(
    bot: Bot,
    engine: Engine,
    *,
    row_id: int,
    chat_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None,
    caption: bool,
) -> int | None:
    """Return Telegram's id of an in-doubt message if an earlier send delivered it, else None."""
    for message_id in await asyncio.to_thread(candidate_ids, engine, row_id, chat_id):
        found = await _is_there(bot, chat_id, message_id, text, markup, caption)
        if found is None:
            break
        if found:
            log.info("Outbox message %s had arrived (message %s)", row_id, message_id)
            return message_id
    return None
