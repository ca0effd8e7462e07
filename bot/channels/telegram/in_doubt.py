"""Sends in doubt: find out whether Telegram has a message before sending it again.

Telegram has no idempotent send. Between Telegram accepting a message and the outbox recording
it, a crash (kill -9, a power cut) or a lost answer (a timeout) leaves the row unsent but the
message perhaps delivered; sending it again would answer the association twice. So such a row
is looked for first, in the association's private chat, where every message of the bot comes
from the outbox (so the ids of all its other messages there are known):

- message ids in a chat count up; the lost message is newer than the bot's newest known message
  in the chat and than the message it replies to;
- each newer id is asked to become the message's current rendering (`editMessageText`, or
  `editMessageCaption` for a document): "message is not modified" or a successful edit means
  it is the bot's message, the lost one; "can't be edited" is the association's own message
  (go on); "not found" is past the newest message of the chat (it never arrived).

Chats where the bot may have sent messages the outbox does not know (groups, staff members'
private chats) are not checked: there the message is sent again (at least once).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest

from db import crud
from db.models import AssociationUser, OutboxMessage
from db.notifications import Recipient

log = logging.getLogger(__name__)

MAX_PROBES = 100
"""How many newer message ids are looked at, at most (the search stops at the newest)."""


def _replied_to(dedupe_key: str | None, chat_id: int) -> int | None:
    """Return the id of the inbound message a reply answers (its key is tg:<chat>:<id>:<tag>)."""
    parts = (dedupe_key or "").split(":")
    if len(parts) >= 3 and parts[0] == "tg" and parts[1] == str(chat_id) and parts[2].isdigit():
        return int(parts[2])
    return None


def candidate_ids(engine: Engine, row_id: int, chat_id: int) -> list[int]:
    """Return the message ids an in-doubt row may have got, [] when its chat cannot be checked."""
    with Session(engine) as session:
        row = session.get(OutboxMessage, row_id)
        if row is None or row.recipient != Recipient.ASSOCIATION or chat_id <= 0:
            return []
        user = session.get(AssociationUser, row.recipient_id) if row.recipient_id else None
        if user is None or crud.staff_roles(
            session=session, telegram_user_id=user.telegram_user_id
        ):
            return []  # a staff member's chat also holds replies the outbox never saw
        known = {
            int(found)
            for found in session.exec(
                select(OutboxMessage.external_id).where(
                    OutboxMessage.address == str(chat_id),
                    col(OutboxMessage.external_id).is_not(None),
                )
            )
            if found is not None and found.isdigit()
        }
    replied = _replied_to(row.dedupe_key, chat_id)
    floor = max(known | ({replied} if replied is not None else set()), default=None)
    if floor is None:
        return []
    return [n for n in range(floor + 1, floor + 1 + MAX_PROBES) if n not in known]


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
