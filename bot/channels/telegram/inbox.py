"""The durable inbox: Telegram updates are committed before they are acknowledged.

Stored updates are worked off chat by chat (db/plumbing/claims.py): a chat's updates one after
another in order, different chats at once, by this process or by several bot processes on one
PostgreSQL database. A chat's next update starts as soon as its last one is done.

An update that fails MAX_ATTEMPTS times becomes a dead letter (bot/channels/telegram/
dead_letters.py): kept with its error, never silently dropped; its chat's later updates go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from telegram import Update
from telegram.ext import Application

from bot.channels.telegram.dead_letters import give_up
from bot.channels.telegram.updates import TELEGRAM, read_update
from db.models import InboxUpdate, utcnow
from db.people.limits import person_key
from db.plumbing import claims
from db.plumbing.session import session_scope

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
LANES = 100
"""How many chats one bot process works on at once."""
LEASE = timedelta(seconds=30)
"""How long a claimed update is this process's; a process that died holding it leaves it to the
others after this. A failed update is tried again sooner (`retry_delay`)."""
WORK_LIMIT = 20.0
"""Seconds one update may take (well within the lease, so no other process takes it over)."""


def store_updates(engine: Engine, updates: Iterable[dict[str, Any]]) -> int:
    """Write updates to the inbox, skipping ids already there; return how many were new."""
    added = 0
    with session_scope(engine) as session:
        for payload in updates:
            update_id = int(payload["update_id"])
            if session.get(InboxUpdate, update_id) is not None:
                continue
            facts = read_update(payload)  # never raises: a malformed update must not stop others
            session.add(
                InboxUpdate(
                    update_id=update_id,
                    payload=payload,
                    chat_id=facts.chat_id or facts.sender_id or 0,
                    sender=_sender(facts.sender_id),
                )
            )
            added += 1
    return added


def _sender(sender_id: int | None) -> str | None:
    """Return the update's sender as the person key (channel:address), if it names one."""
    return person_key(TELEGRAM, sender_id) if sender_id is not None else None


def claim(engine: Engine, limit: int) -> list[InboxUpdate]:
    """Claim the oldest unprocessed update of chats nobody works on, oldest first."""
    with session_scope(engine) as session:
        return claims.claim_heads(
            session,
            InboxUpdate,
            order=col(InboxUpdate.update_id),
            lanes=[col(InboxUpdate.chat_id)],
            pending=[
                col(InboxUpdate.processed_at).is_(None),
                col(InboxUpdate.dead_at).is_(None),
                col(InboxUpdate.attempts) < MAX_ATTEMPTS,
            ],
            lease=LEASE,
            now=utcnow(),
            limit=limit,
        )


def waiting_in_chat(engine: Engine, chat_id: int | None) -> bool:
    """Tell whether a chat has an update still to be processed (read only: no claim)."""
    with Session(engine) as session:
        found = session.exec(
            select(InboxUpdate.update_id)
            .where(
                col(InboxUpdate.chat_id) == chat_id,
                col(InboxUpdate.processed_at).is_(None),
                col(InboxUpdate.dead_at).is_(None),
                col(InboxUpdate.attempts) < MAX_ATTEMPTS,
            )
            .limit(1)
        ).first()
    return found is not None


def release_claims(engine: Engine) -> int:
    """Give up every claim on the inbox (the only bot process is starting)."""
    with session_scope(engine) as session:
        return claims.release_all(session, InboxUpdate)


def retry_delay(attempts: int) -> timedelta:
    """Return how long a failed update waits before its next try (1, 2, 4, 8 … s, at most LEASE)."""
    return min(timedelta(seconds=2 ** max(attempts - 1, 0)), LEASE)


def _finish(engine: Engine, update_id: int, error: str | None) -> float:
    """Record one try; return the seconds until a failed update may be tried again (else 0)."""
    with session_scope(engine) as session:
        row = session.get(InboxUpdate, update_id)
        if row is None:
            return 0.0
        row.attempts += 1
        row.error = error[:500] if error is not None else None
        if error is None:
            row.processed_at = utcnow()
            return 0.0
        # It keeps its claim a little longer: the chat's later updates wait behind it.
        delay = retry_delay(row.attempts)
        row.claimed_until = utcnow() + delay
        return delay.total_seconds()


class InboxProcessor:
    """Process stored updates: one chat at a time in order, different chats concurrently."""

    def __init__(
        self, application: Application[Any, Any, Any, Any, Any, Any], engine: Engine
    ) -> None:
        self.application = application
        self.engine = engine
        self.busy = 0
        self.full = False
        self._claiming = False
        self._again = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def process_pending(self) -> int:
        """Start the next update of every chat that has one and is free; return how many.

        One claim runs at a time; a call during it makes it look once more when it is done.
        """
        if self._claiming:
            self._again = True
            return 0
        self._claiming, started = True, 0
        try:
            while True:
                self._again = False
                free = LANES - self.busy
                rows = await asyncio.to_thread(claim, self.engine, free) if free > 0 else []
                self.full = len(rows) >= free  # maybe more waiting than lanes were free
                for row in rows:
                    self.busy += 1
                    task = asyncio.get_running_loop().create_task(self._process(row))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                started += len(rows)
                if not self._again:
                    return started
        finally:
            self._claiming = False

    async def _process(self, row: InboxUpdate) -> None:
        error: str | None = None
        try:
            update = Update.de_json(row.payload, self.application.bot)
            await asyncio.wait_for(self.application.process_update(update), WORK_LIMIT)
            # PTB hands a handler's exception to the error handler instead of raising it;
            # the error handler notes the update, so it is tried again, not lost.
            error = self.application.bot_data.failed_updates.pop(row.update_id, None)
        except Exception as exc:
            log.exception("Update %s failed", row.update_id)
            error = f"{type(exc).__name__}: {exc}"
        retry_in = 0.0
        try:
            if error is not None and row.attempts + 1 >= MAX_ATTEMPTS:
                # A dead letter no longer holds up the chat's later updates.
                await give_up(self.application, self.engine, row, error)
            else:
                retry_in = await asyncio.to_thread(_finish, self.engine, row.update_id, error)
        finally:
            self.busy -= 1
        try:
            if retry_in:
                await asyncio.sleep(retry_in + 0.05)  # then the failed update is the chat's next
            # The chat's next update, if one came while this one was in progress (updates of
            # other chats are claimed when they are stored, or now if no lane was free then).
            if self.full or await asyncio.to_thread(waiting_in_chat, self.engine, row.chat_id):
                await self.process_pending()
        except Exception as exc:
            log.warning("Could not claim the next updates (%s); they will be retried", exc)

    async def aclose(self) -> None:
        """Stop the updates in progress (their claims run out; they are tried again)."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
