"""Small helpers shared by the Telegram handlers."""

from __future__ import annotations

from typing import Any, cast

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import ContextTypes

from bot.conversation import Conversation, Reply
from bot.services import Services

Context = ContextTypes.DEFAULT_TYPE


def services(context: Context) -> Services:
    """Return the services stored in bot_data by post_init."""
    return cast(Services, context.bot_data["services"])


def conversation(context: Context) -> Conversation:
    """Return the shared association conversation."""
    return cast(Conversation, context.bot_data["conversation"])


def keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup | None:
    """Turn rows of (label, callback data) into an inline keyboard."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def markup_from_dict(data: dict[str, Any] | None) -> InlineKeyboardMarkup | None:
    """Turn a stored Telegram reply_markup dict back into an inline keyboard."""
    if not data:
        return None
    return InlineKeyboardMarkup.de_json(data, None)


async def send_replies(context: Context, chat_id: int, replies: list[Reply]) -> None:
    """Send replies to a chat in order, with their buttons."""
    for reply in replies:
        await context.bot.send_message(chat_id, reply.text, reply_markup=keyboard(reply.buttons))


def kick_outbox(context: Context) -> None:
    """Wake the outbox dispatcher so queued messages go out now."""
    event = context.bot_data.get("outbox_kick")
    if event is not None:
        event.set()
