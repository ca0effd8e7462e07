"""Updates that keep failing become dead letters; their association and the coordinator hear.

A dead letter is kept in the inbox with its error (`lotsen inbox list|retry|drop`). When it
came from an association's private chat, the association first gets a reference number and a
short apology, and the coordinator gets the case (reason "failed"), with the update's text
when it had one. That step is idempotent (keyed by the inbound message), so a crash between
it and the burial, or a later retry that succeeds, neither doubles the case nor the apology.
Updates nobody can read (a malformed payload) are kept and listed all the same.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.engine import Engine
from telegram.ext import Application

from bot.channels.telegram.common import telegram_writer
from db.enquiries.inbox import bury, read_update
from db.models import InboxUpdate
from db.plumbing.session import session_scope

log = logging.getLogger(__name__)


def _bury(engine: Engine, update_id: int, error: str) -> None:
    with session_scope(engine) as session:
        bury(session=session, update_id=update_id, error=error)


async def give_up(
    application: Application[Any, Any, Any, Any, Any, Any],
    engine: Engine,
    row: InboxUpdate,
    error: str,
) -> None:
    """Keep the update as a dead letter; tell its association and queue the case."""
    facts = read_update(row.payload)
    if facts.chat_type == "private" and facts.sender_id and facts.chat_id:
        _, conversation = application.bot_data.ready()
        try:
            await conversation.register_failed(
                writer=telegram_writer(facts.sender_id, facts.chat_id),
                text=facts.text,
                message_key=facts.message_key,
            )
        except Exception:
            log.exception("Dead letter %s: its association could not be told", row.update_id)
        else:
            application.bot_data.outbox_kick.set()
    await asyncio.to_thread(_bury, engine, row.update_id, error)
    log.error(
        "Update %s kept as a dead letter after %s attempts (lotsen inbox list): %s",
        row.update_id,
        row.attempts + 1,
        error[:500],
    )
