"""The durable inbox: Telegram updates are committed before they are acknowledged.

An update that fails MAX_ATTEMPTS times becomes a dead letter (bot/channels/telegram/
dead_letters.py): kept with its error, never silently dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from telegram import Update
from telegram.ext import Application

from bot.channels.telegram.dead_letters import give_up
from db.inbox import read_update
from db.models import InboxUpdate, utcnow
from db.session import session_scope

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def store_updates(engine: Engine, updates: Iterable[dict[str, Any]]) -> int:
    """Write updates to the inbox, skipping ids already there; return how many were new."""
    added = 0
    with session_scope(engine) as session:
        for payload in updates:
            update_id = int(payload["update_id"])
            if session.get(InboxUpdate, update_id) is not None:
                continue
            session.add(InboxUpdate(update_id=update_id, payload=payload))
            added += 1
    return added


def _chat_key(payload: dict[str, Any]) -> int:
    facts = read_update(payload)  # never raises: a malformed update must not stop the others
    return facts.chat_id or facts.sender_id or 0


def pending(engine: Engine) -> list[InboxUpdate]:
    """Return updates not yet processed, oldest first."""
    with Session(engine) as session:
        rows = session.exec(
            select(InboxUpdate)
            .where(col(InboxUpdate.processed_at).is_(None), col(InboxUpdate.dead_at).is_(None))
            .order_by(col(InboxUpdate.update_id))
        ).all()
        return list(rows)


def _finish(engine: Engine, update_id: int, error: str | None) -> None:
    with session_scope(engine) as session:
        row = session.get(InboxUpdate, update_id)
        if row is None:
            return
        row.attempts += 1
        row.error = error[:500] if error is not None else None
        if error is None:
            row.processed_at = utcnow()


class InboxProcessor:
    """Process stored updates: one chat at a time in order, different chats concurrently."""

    def __init__(
        self, application: Application[Any, Any, Any, Any, Any, Any], engine: Engine
    ) -> None:
        self.application = application
        self.engine = engine
        self._lock = asyncio.Lock()

    async def process_pending(self) -> int:
        """Process every pending update; return how many were handled."""
        async with self._lock:
            rows = await asyncio.to_thread(pending, self.engine)
            by_chat: dict[int, list[InboxUpdate]] = defaultdict(list)
            for row in rows:
                by_chat[_chat_key(row.payload)].append(row)
            await asyncio.gather(*(self._process_chat(chat_rows) for chat_rows in by_chat.values()))
            return len(rows)

    async def _process_chat(self, rows: list[InboxUpdate]) -> None:
        for row in rows:
            error: str | None = None
            try:
                update = Update.de_json(row.payload, self.application.bot)
                await self.application.process_update(update)
                # PTB hands a handler's exception to the error handler instead of raising it;
                # the error handler notes the update, so it is tried again, not lost.
                error = self.application.bot_data.failed_updates.pop(row.update_id, None)
            except Exception as exc:
                log.exception("Update %s failed", row.update_id)
                error = f"{type(exc).__name__}: {exc}"
            if error is not None and row.attempts + 1 >= MAX_ATTEMPTS:
                await give_up(self.application, self.engine, row, error)
                continue  # a dead letter no longer holds up the chat's later updates
            await asyncio.to_thread(_finish, self.engine, row.update_id, error)
            if error is not None:
                break  # keep the chat's order: its later updates wait for the retry
