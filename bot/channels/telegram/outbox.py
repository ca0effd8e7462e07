"""The Telegram outbox dispatcher: renders queued notifications and sends each once.

Rows for the Telegram channel are taken per recipient, oldest first: each recipient (an
association user, a department, the coordinators, a staff member) is a lane whose messages go
out one after another, in order, while different lanes are sent concurrently, so a slow chat
(Telegram allows a group 20 messages a minute) never holds up the others. A row is resolved to
a chat, rendered in its language and sent outside any transaction; it is then marked sent with
the chat and Telegram's message id, so a reply to it finds its enquiry. Telegram's flood
limits are honoured (`retry_after` pauses everything); failures are retried with backoff.

A send is recorded as started (`sending_at`) in the transaction that renders it. If the bot dies
before Telegram's answer is recorded, or the answer never comes (a timeout), the message may
have arrived: such a row is *in doubt*, and before it is sent again the chat is checked for it
(bot/channels/telegram/in_doubt.py), so that a crash does not answer an association twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select
from telegram import Bot, InputFile, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.channels.telegram.common import keyboard
from bot.channels.telegram.in_doubt import find_delivered
from bot.messages import Choice, Document, render
from db.models import AssociationUser, Department, OutboxMessage, utcnow
from db.notifications import Channel, Recipient
from db.session import session_scope

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
LANES = 32
"""How many recipients are sent to at once."""

Lane = tuple[str, int | None]


@dataclass(frozen=True)
class Ready:
    """A rendered message, the chat it goes to and the lane (recipient) it belongs to."""

    row_id: int
    chat_id: int
    text: str
    choices: list[list[Choice]]
    attempts: int
    lane: Lane
    document: Document | None = None
    in_doubt: bool = False
    """An earlier send of this row may have arrived (its outcome was never recorded)."""


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


def _heads(session: Session, limit: int) -> list[OutboxMessage]:
    """Return the oldest unsent row of every lane (the only one that may go next)."""
    pending = (
        col(OutboxMessage.channel) == Channel.TELEGRAM,
        col(OutboxMessage.sent_at).is_(None),
        col(OutboxMessage.attempts) < MAX_ATTEMPTS,
    )
    first = (
        select(func.min(OutboxMessage.id))
        .where(*pending)
        .group_by(col(OutboxMessage.recipient), col(OutboxMessage.recipient_id))
    )
    return list(
        session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.id).in_(first))
            .order_by(col(OutboxMessage.id))
            .limit(limit)
        ).all()
    )


def prepare(
    engine: Engine,
    coordinator_chat_id: int | None,
    *,
    busy: frozenset[Lane] = frozenset(),
    limit: int = LANES,
    tracker_url: str | None = None,
) -> list[Ready]:
    """Render the next due message of every free lane and record that its send starts."""
    now = utcnow()
    ready: list[Ready] = []
    with session_scope(engine) as session:
        for row in _heads(session, limit + len(busy)):
            assert row.id is not None
            lane = (row.recipient, row.recipient_id)
            if lane in busy or (row.not_before is not None and row.not_before > now):
                continue  # in flight, or waiting for a retry: the lane's later rows wait too
            chat_id = resolve_chat(session, row, coordinator_chat_id)
            if chat_id is None:
                _give_up(row, f"no Telegram chat for the {row.recipient}")
                continue
            try:
                message = render(session, row, tracker_url=tracker_url)
            except (KeyError, LookupError) as exc:
                log.error("Outbox message %s cannot be rendered: %r", row.id, exc)
                _give_up(row, f"cannot be rendered: {exc!r}")
                continue
            ready.append(
                Ready(
                    row.id,
                    chat_id,
                    message.text,
                    message.choices,
                    row.attempts,
                    lane,
                    document=message.document,
                    in_doubt=row.sending_at is not None,
                )
            )
            row.sending_at = now
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


def mark_failed(
    engine: Engine, row_id: int, error: str, retry_in: float, *, count: bool, in_doubt: bool
) -> None:
    """Record a failed attempt, when to try again, and whether the message may have arrived."""
    with session_scope(engine) as session:
        row = session.get(OutboxMessage, row_id)
        if row is None:
            return
        if count:
            row.attempts += 1
        row.error = error[:500]
        row.not_before = utcnow() + timedelta(seconds=retry_in)
        if not in_doubt:
            row.sending_at = None


async def _post(bot: Bot, item: Ready) -> Message:
    """Send the message (a document with its caption, or a text) to its chat."""
    markup = keyboard(item.choices)
    if item.document is not None:
        upload = InputFile(item.document.content, filename=item.document.file_name)
        return await bot.send_document(item.chat_id, upload, caption=item.text, reply_markup=markup)
    return await bot.send_message(item.chat_id, item.text, reply_markup=markup)


async def send(bot: Bot, engine: Engine, item: Ready) -> bool | float:
    """Send one message and record the outcome: True if sent, Telegram's wait if it says so.

    A row in doubt is first looked for in its chat; found there, it is only recorded as sent.
    """
    in_doubt = item.in_doubt
    try:
        if in_doubt:
            found = await find_delivered(
                bot,
                engine,
                row_id=item.row_id,
                chat_id=item.chat_id,
                text=item.text,
                markup=keyboard(item.choices),
                caption=item.document is not None,
            )
            if found is not None:
                await asyncio.to_thread(mark_sent, engine, item.row_id, item.chat_id, found)
                return True
            in_doubt = False
        message = await _post(bot, item)
    except RetryAfter as exc:
        delay = exc.retry_after
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
        await asyncio.to_thread(
            mark_failed, engine, item.row_id, str(exc), seconds, count=False, in_doubt=in_doubt
        )
        return max(seconds, 0.001)
    except (Forbidden, BadRequest) as exc:
        log.warning("Outbox message %s refused by Telegram: %s", item.row_id, exc)
        await asyncio.to_thread(
            mark_failed, engine, item.row_id, str(exc), 60.0, count=True, in_doubt=in_doubt
        )
    except (TimedOut, NetworkError) as exc:
        # The request may have reached Telegram: the next try looks for the message first.
        backoff = min(300.0, 2.0 ** (item.attempts + 1))
        await asyncio.to_thread(
            mark_failed, engine, item.row_id, str(exc), backoff, count=True, in_doubt=True
        )
    else:
        await asyncio.to_thread(mark_sent, engine, item.row_id, item.chat_id, message.message_id)
        return True
    return False


async def dispatch_once(bot: Bot, engine: Engine, coordinator_chat_id: int | None) -> int:
    """Send everything that is due now, lane by lane; return how many messages were sent."""
    sent = 0
    while batch := await asyncio.to_thread(prepare, engine, coordinator_chat_id):
        outcomes = await asyncio.gather(*(send(bot, engine, item) for item in batch))
        sent += sum(1 for outcome in outcomes if outcome is True)
        if any(not isinstance(outcome, bool) for outcome in outcomes):
            break  # Telegram asked us to wait
    return sent


class Dispatcher:
    """Keep every lane moving: start a lane's next message as soon as its last one is done."""

    def __init__(
        self,
        bot: Bot,
        engine: Engine,
        coordinator_chat_id: int | None,
        kick: asyncio.Event,
        tracker_url: str | None = None,
    ) -> None:
        self.bot = bot
        self.engine = engine
        self.coordinator_chat_id = coordinator_chat_id
        self.kick = kick
        self.tracker_url = tracker_url
        self.busy: set[Lane] = set()
        self.paused_until = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, interval: float = 1.0) -> None:
        """Send queued messages whenever kicked, and at least every `interval` seconds."""
        try:
            while True:
                self.kick.clear()
                pause = self.paused_until - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
                try:
                    self._start(await self._next())
                except OperationalError as exc:
                    log.warning("Database unavailable (%s); outbox dispatch will retry", exc)
                except Exception:
                    log.exception("Outbox dispatch failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.kick.wait(), timeout=interval)
        finally:
            for task in self._tasks:
                task.cancel()

    async def _next(self) -> list[Ready]:
        free = LANES - len(self.busy)
        if free <= 0:
            return []
        return await asyncio.to_thread(
            prepare,
            self.engine,
            self.coordinator_chat_id,
            busy=frozenset(self.busy),
            limit=free,
            tracker_url=self.tracker_url,
        )

    def _start(self, batch: list[Ready]) -> None:
        for item in batch:
            self.busy.add(item.lane)
            task = asyncio.get_running_loop().create_task(self._deliver(item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, item: Ready) -> None:
        try:
            outcome = await send(self.bot, self.engine, item)
            if not isinstance(outcome, bool):
                self.paused_until = max(self.paused_until, time.monotonic() + outcome)
        except OperationalError as exc:
            log.warning("Database unavailable (%s); outbox message %s waits", exc, item.row_id)
        except Exception as exc:
            log.exception("Outbox message %s could not be sent; it will be retried", item.row_id)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    mark_failed,
                    self.engine,
                    item.row_id,
                    repr(exc),
                    30.0,
                    count=True,
                    in_doubt=True,
                )
        finally:
            self.busy.discard(item.lane)
            self.kick.set()


async def run_dispatcher(
    bot: Bot,
    engine: Engine,
    coordinator_chat_id: int | None,
    kick: asyncio.Event,
    tracker_url: str | None = None,
) -> None:
    """Run the dispatcher until cancelled."""
    await Dispatcher(bot, engine, coordinator_chat_id, kick, tracker_url).run()
