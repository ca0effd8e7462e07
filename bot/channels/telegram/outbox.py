"""The Telegram outbox dispatcher: renders queued notifications and sends each once.

Rows for the Telegram channel are taken per recipient, oldest first: each recipient (an
association user, a department, the coordinators, a staff member) is a lane whose messages go
out one after another, in order, while different lanes are sent concurrently, so a slow chat
(Telegram allows a group 20 messages a minute) never holds up the others. A row is resolved to
a chat, rendered in its language and sent outside any transaction; it is then marked sent with
the chat and Telegram's message id, so a reply to it finds its enquiry. Telegram's flood
limits are honoured (`retry_after` pauses everything); failures are retried with backoff.
Several bot processes share the outbox: each claims a lane's head before sending it
(db/plumbing/claims.py), so a message goes out once and a lane stays in order.

A send is recorded as started (`sending_at`) in the transaction that renders it. If the bot dies
before Telegram's answer is recorded, or the answer never comes (a timeout), the message may
have arrived: such a row is *in doubt*, and before it is sent again the chat is checked for it
(bot/channels/telegram/in_doubt.py), so that a crash does not answer an association twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select
from telegram import Bot, InputFile, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.channels.telegram.common import keyboard
from bot.channels.telegram.in_doubt import find_delivered
from bot.messages import Choice, Document, render
from db.enquiries.crud import conversation_number
from db.enquiries.notifications import Channel, Recipient
from db.models import Department, OutboxMessage, utcnow
from db.people.identities import identity_for
from db.people.staff_identities import staff_address
from db.plumbing import claims
from db.plumbing.session import session_scope

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
LANES = 32
"""How many recipients are sent to at once."""
LEASE = timedelta(seconds=60)
"""How long a claimed message is this process's to send; a process that died holding it
leaves it to the others after this."""
SEND_LIMIT = 45.0
"""Seconds one send may take, the rate limiter's retries included (well within the lease)."""

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
        if row.recipient_id is None:
            return None
        identity = identity_for(
            session=session, person_id=row.recipient_id, channel=Channel.TELEGRAM
        )
        if identity is None or identity.conversation is None:
            return None  # erased, or never wrote from Telegram
        return conversation_number(identity.conversation)
    if row.recipient == Recipient.DEPARTMENT:
        department = session.get(Department, row.recipient_id) if row.recipient_id else None
        return conversation_number(department.group_chat) if department else None  # its group
    if row.recipient == Recipient.COORDINATORS:
        return coordinator_chat_id
    if row.recipient == Recipient.STAFF and row.recipient_id is not None:
        address = staff_address(
            session=session, person_id=row.recipient_id, channel=Channel.TELEGRAM
        )
        return int(address) if address is not None and address.isdigit() else None
    return None


def _give_up(row: OutboxMessage, error: str) -> None:
    row.attempts = MAX_ATTEMPTS
    row.error = error[:500]


def _claim_heads(session: Session, limit: int, now: datetime) -> list[OutboxMessage]:
    """Claim the oldest unsent row of every lane nobody sends to, if it is due.

    (db/plumbing/claims.py)
    """
    return claims.claim_heads(
        session,
        OutboxMessage,
        order=col(OutboxMessage.id),
        lanes=[col(OutboxMessage.recipient), col(OutboxMessage.recipient_id)],
        pending=[
            col(OutboxMessage.channel) == Channel.TELEGRAM,
            col(OutboxMessage.sent_at).is_(None),
            col(OutboxMessage.attempts) < MAX_ATTEMPTS,
        ],
        # waiting for a retry: the lane's later rows wait too
        due=[col(OutboxMessage.not_before).is_(None) | (col(OutboxMessage.not_before) <= now)],
        lease=LEASE,
        now=now,
        limit=limit,
    )


def release_claims(engine: Engine) -> int:
    """Give up every claim on the Telegram outbox (the only bot process is starting)."""
    with session_scope(engine) as session:
        return claims.release_all(
            session, OutboxMessage, col(OutboxMessage.channel) == Channel.TELEGRAM
        )


def prepare(
    engine: Engine,
    coordinator_chat_id: int | None,
    *,
    limit: int = LANES,
    tracker_url: str | None = None,
) -> list[Ready]:
    """Claim and render the next due message of every free lane and record that its send starts.

    Undeliverable messages are given up on.
    """
    now = utcnow()
    ready: list[Ready] = []
    with session_scope(engine) as session:
        for row in _claim_heads(session, limit, now):
            assert row.id is not None
            lane = (row.recipient, row.recipient_id)
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
    return ready


def mark_sent(engine: Engine, row_id: int, chat_id: int, telegram_message_id: int) -> bool:
    """Record a successful send (where it went, Telegram's id); tell whether its lane has more."""
    with session_scope(engine) as session:
        row = session.get(OutboxMessage, row_id)
        if row is None:
            return False
        row.sent_at = utcnow()
        row.claimed_until = None
        row.address = str(chat_id)
        row.external_id = str(telegram_message_id)
        row.error = None
        session.flush()
        more = session.exec(
            select(OutboxMessage.id)
            .where(
                col(OutboxMessage.recipient) == row.recipient,
                col(OutboxMessage.recipient_id) == row.recipient_id,
                col(OutboxMessage.channel) == row.channel,
                col(OutboxMessage.sent_at).is_(None),
                col(OutboxMessage.attempts) < MAX_ATTEMPTS,
            )
            .limit(1)
        ).first()
        return more is not None


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
        row.claimed_until = None
        if not in_doubt:
            row.sending_at = None


class Outcome(enum.Enum):
    """What became of one message."""

    SENT = "sent"  # and its lane has more waiting
    SENT_LAST = "sent last"  # nothing more waits in its lane
    FAILED = "failed"  # tried again later


async def _post(bot: Bot, item: Ready) -> Message:
    """Send the message (a document with its caption, or a text) to its chat."""
    markup = keyboard(item.choices)
    if item.document is not None:
        upload = InputFile(item.document.content, filename=item.document.file_name)
        return await bot.send_document(item.chat_id, upload, caption=item.text, reply_markup=markup)
    return await bot.send_message(item.chat_id, item.text, reply_markup=markup)


async def send(bot: Bot, engine: Engine, item: Ready) -> Outcome | float:
    """Send one message and record the outcome, or the seconds Telegram asks us to wait.

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
                more = await asyncio.to_thread(mark_sent, engine, item.row_id, item.chat_id, found)
                return Outcome.SENT if more else Outcome.SENT_LAST
            in_doubt = False
        message = await asyncio.wait_for(_post(bot, item), SEND_LIMIT)
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
    except (TimedOut, NetworkError, TimeoutError) as exc:
        # The request may have reached Telegram: the next try looks for the message first.
        backoff = min(300.0, 2.0 ** (item.attempts + 1))
        problem = str(exc) or type(exc).__name__
        await asyncio.to_thread(
            mark_failed, engine, item.row_id, problem, backoff, count=True, in_doubt=True
        )
    else:
        more = await asyncio.to_thread(
            mark_sent, engine, item.row_id, item.chat_id, message.message_id
        )
        return Outcome.SENT if more else Outcome.SENT_LAST
    return Outcome.FAILED


async def dispatch_once(bot: Bot, engine: Engine, coordinator_chat_id: int | None) -> int:
    """Send everything that is due now, lane by lane; return how many messages were sent."""
    sent = 0
    while batch := await asyncio.to_thread(prepare, engine, coordinator_chat_id):
        outcomes = await asyncio.gather(*(send(bot, engine, item) for item in batch))
        sent += sum(1 for outcome in outcomes if outcome in (Outcome.SENT, Outcome.SENT_LAST))
        if any(not isinstance(outcome, Outcome) for outcome in outcomes):
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
        self.full = False  # the last look found as many lanes due as were free: maybe more
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
        batch = await asyncio.to_thread(
            prepare,
            self.engine,
            self.coordinator_chat_id,
            limit=free,
            tracker_url=self.tracker_url,
        )
        self.full = len(batch) >= free
        return batch

    def _start(self, batch: list[Ready]) -> None:
        for item in batch:
            self.busy.add(item.lane)
            task = asyncio.get_running_loop().create_task(self._deliver(item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, item: Ready) -> None:
        outcome: Outcome | float = Outcome.FAILED
        try:
            outcome = await send(self.bot, self.engine, item)
            if not isinstance(outcome, Outcome):
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
            if outcome is not Outcome.SENT_LAST or self.full:
                self.kick.set()  # the lane's next message, or lanes that found no free slot


async def run_dispatcher(
    bot: Bot,
    engine: Engine,
    coordinator_chat_id: int | None,
    kick: asyncio.Event,
    tracker_url: str | None = None,
) -> None:
    """Run the dispatcher until cancelled."""
    await Dispatcher(bot, engine, coordinator_chat_id, kick, tracker_url).run()
