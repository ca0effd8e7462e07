"""The outbox dispatcher: sends queued messages once, honouring Telegram's flood limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, or_, select
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.channels.telegram.common import markup_from_dict
from db.models import Enquiry, Escalation, OutboxMessage, utcnow
from db.session import session_scope

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


def due_messages(engine: Engine, limit: int = 50) -> list[OutboxMessage]:
    """Return unsent messages whose time has come, oldest first."""
    now = utcnow()
    with Session(engine) as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(
                    col(OutboxMessage.sent_at).is_(None),
                    OutboxMessage.attempts < MAX_ATTEMPTS,
                    or_(
                        col(OutboxMessage.not_before).is_(None),
                        col(OutboxMessage.not_before) <= now,
                    ),
                )
                .order_by(col(OutboxMessage.id))
                .limit(limit)
            ).all()
        )


def mark_sent(engine: Engine, message_id: int, telegram_message_id: int) -> None:
    """Record a successful send and link the Telegram message to its enquiry or card."""
    with session_scope(engine) as session:
        row = session.get(OutboxMessage, message_id)
        if row is None:
            return
        row.sent_at = utcnow()
        row.telegram_message_id = telegram_message_id
        if row.purpose == "forward" and row.enquiry_id is not None:
            enquiry = session.get(Enquiry, row.enquiry_id)
            if enquiry is not None:
                enquiry.forward_chat_id = row.chat_id
                enquiry.forward_message_id = telegram_message_id
        if row.purpose == "card" and row.escalation_id is not None:
            escalation = session.get(Escalation, row.escalation_id)
            if escalation is not None:
                escalation.card_chat_id = row.chat_id
                escalation.card_message_id = telegram_message_id


def mark_failed(
    engine: Engine, message_id: int, error: str, retry_in: float, *, count: bool
) -> None:
    """Record a failed attempt and when to try again."""
    with session_scope(engine) as session:
        row = session.get(OutboxMessage, message_id)
        if row is None:
            return
        if count:
            row.attempts += 1
        row.error = error[:500]
        row.not_before = utcnow() + timedelta(seconds=retry_in)


async def dispatch_once(bot: Bot, engine: Engine) -> int:
    """Send what is due; stop early when Telegram asks us to slow down. Return messages sent."""
    sent = 0
    for row in await asyncio.to_thread(due_messages, engine):
        assert row.id is not None
        try:
            message = await bot.send_message(
                row.chat_id, row.text, reply_markup=markup_from_dict(row.reply_markup)
            )
        except RetryAfter as exc:
            delay = exc.retry_after
            seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
            await asyncio.to_thread(mark_failed, engine, row.id, str(exc), seconds, count=False)
            break
        except (Forbidden, BadRequest) as exc:
            log.warning("Outbox message %s refused by Telegram: %s", row.id, exc)
            await asyncio.to_thread(mark_failed, engine, row.id, str(exc), 60.0, count=True)
        except (TimedOut, NetworkError) as exc:
            backoff = min(300.0, 2.0 ** (row.attempts + 1))
            await asyncio.to_thread(mark_failed, engine, row.id, str(exc), backoff, count=True)
        else:
            await asyncio.to_thread(mark_sent, engine, row.id, message.message_id)
            sent += 1
    return sent


async def run_dispatcher(
    bot: Bot, engine: Engine, kick: asyncio.Event, interval: float = 1.0
) -> None:
    """Send queued messages whenever kicked, and at least every `interval` seconds."""
    while True:
        try:
            await dispatch_once(bot, engine)
        except OperationalError as exc:
            log.warning("Database unavailable (%s); outbox dispatch will retry", exc)
        except Exception:
            log.exception("Outbox dispatch failed; retrying")
        kick.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(kick.wait(), timeout=interval)
