"""Rasa's SQL tracker store, seen from Lotsen: read, export and delete conversation events.

Rasa 3.6's SQLTrackerStore keeps one row per event in the table `events` (sender_id, type_name,
timestamp as unix seconds, data as JSON text). The bot talks to Rasa as sender
`<channel>:<conversation>:<address>` of the writer's channel identity (a chat app's
`<channel>:<chat>:<user>`; the first build wrote `tg:…`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import make_url

from db.plumbing.keys import prefixes

METADATA = MetaData()

# The same shape as rasa.core.tracker_store.SQLTrackerStore.SQLEvent (Rasa 3.6).
EVENTS = Table(
    "events",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


Identity = tuple[str, str]
"""A channel identity as the tracker store knows it: (channel, address)."""


def sender_id(channel: str, conversation: str, address: str) -> str:
    """Return the Rasa sender id of an identity in a conversation: `<channel>:<conversation>:
    <address>` (the form the bot's sender ids always had)."""
    return f"{channel}:{conversation}:{address}"


def is_senders(sender: str, identity: Identity) -> bool:
    """Tell whether a sender id belongs to this identity (in any of its conversations)."""
    channel, address = identity
    return any(
        sender.startswith(f"{prefix}:")
        and sender.endswith(f":{address}")
        and len(sender) > len(prefix) + len(address) + 2
        for prefix in prefixes(channel)  # its name, or how the first build named it
    )


@contextmanager
def tracker_store(url: str) -> Iterator[Connection | None]:
    """Open a transaction on the tracker store; yield None when it has no events table yet."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        database = parsed.database or ""
        if database in ("", ":memory:") or not Path(database).exists():
            yield None  # never create the file: Rasa has not stored anything yet
            return
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            yield connection if inspect(connection).has_table(EVENTS.name) else None
    finally:
        engine.dispose()


def _senders(connection: Connection, identities: list[Identity]) -> list[str]:
    """Return the sender ids of these identities (LIKE narrows, the exact check decides)."""
    found: set[str] = set()
    for identity in identities:
        rows = connection.execute(
            select(EVENTS.c.sender_id)
            .where(EVENTS.c.sender_id.like(f"%:%:{_escape(identity[1])}", escape="\\"))
            .distinct()
        ).scalars()
        found.update(s for s in rows if is_senders(s, identity))
    return sorted(found)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def user_events(connection: Connection, identities: list[Identity]) -> list[dict[str, Any]]:
    """Return every stored event of these identities' conversations, oldest first."""
    senders = _senders(connection, identities)
    if not senders:
        return []
    rows = connection.execute(
        select(EVENTS.c.sender_id, EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.data)
        .where(EVENTS.c.sender_id.in_(senders))
        .order_by(EVENTS.c.timestamp, EVENTS.c.id)
    ).all()
    events = []
    for sender, type_name, timestamp, data in rows:
        try:
            parsed: Any = json.loads(data) if data else None
        except ValueError:
            parsed = data
        events.append(
            {"sender_id": sender, "type": type_name, "timestamp": timestamp, "data": parsed}
        )
    return events


def delete_user_events(connection: Connection, identities: list[Identity]) -> int:
    """Delete every event of these identities' conversations; return how many."""
    senders = _senders(connection, identities)
    if not senders:
        return 0
    result = connection.execute(delete(EVENTS).where(EVENTS.c.sender_id.in_(senders)))
    return int(result.rowcount or 0)


def events_before(connection: Connection, cutoff: datetime, *, dry_run: bool = False) -> int:
    """Delete (or with dry_run only count) events stored before the cutoff; return how many."""
    condition = EVENTS.c.timestamp < cutoff.timestamp()
    if dry_run:
        return int(
            connection.execute(
                select(func.count()).select_from(EVENTS).where(condition)
            ).scalar_one()
        )
    return int(connection.execute(delete(EVENTS).where(condition)).rowcount or 0)
