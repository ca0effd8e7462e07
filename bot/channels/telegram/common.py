"""What the Telegram handlers share: typed bot data, database calls off the loop, small helpers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlmodel import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackContext, ExtBot, JobQueue

from bot.channels.telegram.updates import read_update
from bot.conversation import Conversation
from bot.messages import Choice
from bot.ratelimit import RateLimiter
from bot.services import Services
from bot.settings import Settings
from db.enquiries.notifications import Channel
from db.intake import Writer
from db.people.staff_identities import find_staff_person

log = logging.getLogger(__name__)
T = TypeVar("T")

STAFF_LANGUAGE = "sv"
"""Staff and coordinators read Swedish in Telegram."""


@dataclass
class BotData:
    """Everything the handlers share, created in post_init and closed in post_shutdown."""

    settings: Settings | None = None
    services: Services | None = None
    conversation: Conversation | None = None
    rate_limiter: RateLimiter | None = None
    outbox_kick: asyncio.Event = field(default_factory=asyncio.Event)
    outbox_task: asyncio.Task[None] | None = None
    failed_updates: dict[int, str] = field(default_factory=dict)
    """Updates a handler failed on, with the error (PTB hands it to the error handler)."""

    def ready(self) -> tuple[Services, Conversation]:
        """Return the services and the conversation (post_init has run)."""
        assert self.services is not None and self.conversation is not None
        return self.services, self.conversation


Context = CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], BotData]
Jobs = JobQueue[Context]


def services(context: Context) -> Services:
    """Return the running services."""
    return context.bot_data.ready()[0]


def conversation(context: Context) -> Conversation:
    """Return the association conversation."""
    return context.bot_data.ready()[1]


async def run_db(context: Context, work: Callable[[Session], T]) -> T:
    """Run database work in one transaction on a worker thread, never on the event loop."""
    return await services(context).db(work)


def keyboard(rows: list[list[Choice]]) -> InlineKeyboardMarkup | None:
    """Turn rows of choices into an inline keyboard (None without any)."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(c.label, callback_data=c.action) for c in row] for row in rows]
    )


def kick_outbox(context: Context) -> None:
    """Wake the outbox dispatcher so queued messages go out now."""
    context.bot_data.outbox_kick.set()


def ids(update: Update) -> tuple[int, int]:
    """Return the sender's user id and the chat id of an update."""
    assert update.effective_user is not None and update.effective_chat is not None
    return update.effective_user.id, update.effective_chat.id


def telegram_writer(user_id: int, chat_id: int | None) -> Writer:
    """Return the writer of a Telegram user in a chat: the user id and chat id as decimals."""
    return Writer(
        Channel.TELEGRAM.value, str(user_id), str(chat_id) if chat_id is not None else None
    )


def staff_person_id(session: Session, user_id: int) -> int | None:
    """Return the staff person behind a Telegram user, or None (not staff)."""
    person = find_staff_person(session=session, channel=Channel.TELEGRAM, address=str(user_id))
    return person.id if person is not None else None


def writer(update: Update) -> Writer:
    """Return who wrote an update: the Telegram user, in the update's chat."""
    user_id, chat_id = ids(update)
    return telegram_writer(user_id, chat_id)


def message_key(update: Update) -> str:
    """Return the key that identifies an inbound message or button press (for deduplication)."""
    key = read_update(update.to_dict()).message_key
    assert key is not None, "an update without a chat has no message key"
    return key


def refused(update: Update, action: str) -> None:
    """Log a refused staff action with the numeric user id."""
    user = update.effective_user
    chat = update.effective_chat
    log.warning(
        "Refused %s for Telegram user %s in chat %s (missing role)",
        action,
        user.id if user else None,
        chat.id if chat else None,
    )


def invite_link(bot_username: str, code: str) -> str:
    """Return the Telegram deep link that starts the bot with the invitation code."""
    return f"https://t.me/{bot_username.lstrip('@')}?start={code}"
