"""The Telegram outbox dispatcher: renders queued notifications and sends each once.

Rows for the Telegram channel are taken oldest first. Each is resolved to a chat (the
association's private chat, the department's group, the coordinators' group, a staff member's
private chat), rendered in its language and sent outside any transaction; the row is marked
sent with the chat and Telegram's message id, so a reply to it finds its enquiry. Telegram's
flood limits are honoured (`retry_after`); a recipient with an unsent earlier message waits, so
one chat's messages keep their order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.channels.telegram.common import keyboard
from bot.messages import Choice, render
from db.models import AssociationUser, Department, OutboxMessage, utcnow
from db.notifications import Channel, Recipient
from db.session import session_scope

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
BATCH = 50


@dataclass(frozen=True)
class Ready:
    """A rendered message and the chat it goes to."""

    row_id: int
    chat_id: int
    text: str
    choices: list[list[Choice]]
    attempts: int


def resolve_chat(
    session: Session, row: OutboxMessage, coordinator_chat_id: int | None
) -> int | None:
    """Return the chat a row goes to, or None when the recipient has no Telegram chat."""
    if row.address is not None:
        return int(row.address) if row.address.lstrip("-").isdigit() else None
    if row.recipient == Recipient.ASSOCIATION:
        user = session.get(AssociationUser, row.recipient_id) if row.recipient_id else None
        if user is None or user.telegram_user_id < 0:
            return None
        return user.chat_id
    if row.recipient == Recipient.DEPARTMENT:
        department = session.get(Department, row.recipient_id) if row.recipient_id else None
        return department.telegram_chat_id if department else None
    if row.recipient == Recipient.COORDINATORS:
        return coordinator_chat_id
    if row.recipient == Recipient.STAFF:
        return row.recipient_id
    return None


def _give_up(row: OutboxMessage, error: str) -> None:
    row.attempts = MAX_ATTEMPTS
    row.error = error[:500]


def prepare(engine: Engine, coordinator_chat_id: int | None, limit: int = BATCH) -> list[Ready]:
    """Render the due Telegram messages, oldest first; give up on those nobody can receive."""
    now = utcnow()
    ready: list[Ready] = []
    waiting: set[tuple[str, int | None]] = set()
    with session_scope(engine) as session:
        rows = session.exec(
            select(OutboxMessage)
            .where(
                OutboxMessage.channel == Channel.TELEGRAM,
                col(OutboxMessage.sent_at).is_(None),
                OutboxMessage.attempts < MAX_ATTEMPTS,
            )
            .order_by(col(OutboxMessage.id))
            .limit(limit * 4)
        ).all()
        for row in rows:
            assert row.id is not None
            recipient = (row.recipient, row.recipient_id)
            if recipient in waiting:
                continue
            if row.not_before is not None and row.not_before > now:
                waiting.add(recipient)  # keep this chat's order: later rows wait for this one
                continue
            chat_id = resolve_chat(session, row, coordinator_chat_id)
            if chat_id is None:
                _give_up(row, f"no Telegram chat for the {row.recipient}")
                continue
            try:
                message = render(session, row)
            except (KeyError, LookupError) as exc:
                log.error("Outbox message %s cannot be rendered: %r", row.id, exc)
                _give_up(row, f"cannot be rendered: {exc!r}")
                continue
            ready.append(Ready(row.id, chat_id, message.text, message.choices, row.attempts))
            waiting.add(recipient)  # one message per chat and pass: the next waits for this one
            if len(ready) >= limit:
                break
    return ready


def mark_sent(engine: Engine, row_id: int, chat_id: int, telegram_message_id: int) -> None:
    """Record a successful send: where it went and Telegram's id of the message."""
    with session_scope(engine) as session:
        row = session.get(OutboxMessage, row_id)
        if row is None:
            return
        row.sent_at = utcnow()
        row.address = str(chat_id)
        row.external_id = str(telegram_message_id)
        row.error = None


def mark_failed(engine: Engine, row_id: int, error: str, retry_in: float, *, count: bool) -> None:
    """Record a failed attempt and when to try again."""
    with session_scope(engine) as session:
        row = session.get(OutboxMessage, row_id)
        if row is None:
            return
        if count:
            row.attempts += 1
        row.error = error[:500]
        row.not_before = utcnow() + timedelta(seconds=retry_in)


async def dispatch_once(bot: Bot, engine: Engine, coordinator_chat_id: int | None) -> int:
    """Send what is due; stop early when Telegram asks us to slow down. Return messages sent."""
    sent = 0
    while True:
        batch = await asyncio.to_thread(prepare, engine, coordinator_chat_id)
        if not batch:
            return sent
        for item in batch:
            try:
                message = await bot.send_message(
                    item.chat_id, item.text, reply_markup=keyboard(item.choices)
                )
            except RetryAfter as exc:
                delay = exc.retry_after
                seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
                await asyncio.to_thread(
                    mark_failed, engine, item.row_id, str(exc), seconds, count=False
                )
                return sent
            except (Forbidden, BadRequest) as exc:
                log.warning("Outbox message %s refused by Telegram: %s", item.row_id, exc)
                await asyncio.to_thread(
                    mark_failed, engine, item.row_id, str(exc), 60.0, count=True
                )
            except (TimedOut, NetworkError) as exc:
                backoff = min(300.0, 2.0 ** (item.attempts + 1))
                await asyncio.to_thread(
                    mark_failed, engine, item.row_id, str(exc), backoff, count=True
                )
            else:
                await asyncio.to_thread(
                    mark_sent, engine, item.row_id, item.chat_id, message.message_id
                )
                sent += 1


async def run_dispatcher(
    bot: Bot,
    engine: Engine,
    coordinator_chat_id: int | None,
    kick: asyncio.Event,
    interval: float = 1.0,
) -> None:
    """Send queued messages whenever kicked, and at least every `interval` seconds."""
    while True:
        kick.clear()
        try:
            await dispatch_once(bot, engine, coordinator_chat_id)
        except OperationalError as exc:
            log.warning("Database unavailable (%s); outbox dispatch will retry", exc)
        except Exception:
            log.exception("Outbox dispatch failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(kick.wait(), timeout=interval)
