"""One skeleton for the outbox's dispatchers that talk to a server: e-mail, the case system.

A round has three transactions and the network in between:

1. **claim and render** (a worker thread, one transaction): lease the channel's due rows
   (db/plumbing/claims.py: two dispatchers never take the same row), turn each into what
   goes over the wire, and commit;
2. **send** (outside any transaction): hand the items to the server; it answers each item
   (an outcome with its row id), or stops answering (`Delivery.problem`);
3. **record** (a worker thread, one transaction): each outcome on its row; a row without an
   outcome is released to go again.

A server that cannot be reached is nobody's fault: the rows not handed over are released
uncounted, with the problem as their error, and the dispatcher backs off (5 s, doubling, at
most 15 min) before the next round. The concrete dispatcher says what is pending, how an item
is prepared, sent and recorded (`bot/channels/email/outbox.py`, `bot/channels/errand/
dispatcher.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select

from db.models import OutboxMessage, utcnow
from db.plumbing import claims
from db.plumbing.session import session_scope

log = logging.getLogger(__name__)

PAUSE_BASE = 5.0
PAUSE_MAX = 900.0
LEASE = timedelta(minutes=10)
"""How long a claimed row is left to its dispatcher before another may send it."""

Clock = Callable[[], datetime]


class Item(Protocol):
    """What a dispatcher sends for one outbox row."""

    @property
    def row_id(self) -> int: ...


class Answer(Protocol):
    """What the server said to one item."""

    @property
    def row_id(self) -> int: ...


ItemT = TypeVar("ItemT", bound=Item)
AnswerT = TypeVar("AnswerT", bound=Answer)


@dataclass
class Delivery(Generic[AnswerT]):
    """What sending a round's items gave: the answers, and the problem if the server stopped."""

    outcomes: list[AnswerT] = field(default_factory=list)
    problem: str | None = None


def pending(channel: str, max_attempts: int) -> list[ColumnElement[bool]]:
    """Return the conditions of a channel's rows still to be sent."""
    return [
        col(OutboxMessage.channel) == channel,
        col(OutboxMessage.sent_at).is_(None),
        col(OutboxMessage.attempts) < max_attempts,
    ]


def waiting(engine: Engine, channel: str, max_attempts: int) -> int:
    """Return how many rows of a channel wait to be sent (for a notice while it is off)."""
    with session_scope(engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(OutboxMessage)
                .where(*pending(channel, max_attempts))
            ).one()
        )


def claim_due(
    session: Session, channel: str, max_attempts: int, now: datetime, limit: int
) -> list[OutboxMessage]:
    """Lease up to `limit` due rows of the channel that nobody sends, oldest first."""
    return claims.claim_rows(
        session,
        OutboxMessage,
        order=col(OutboxMessage.id),
        pending=pending(channel, max_attempts),
        # refused for now: waiting for the retry
        due=[col(OutboxMessage.not_before).is_(None) | (col(OutboxMessage.not_before) <= now)],
        lease=LEASE,
        now=now,
        limit=limit,
    )


def release(engine: Engine, row_ids: Sequence[int], problem: str) -> None:
    """Free claimed rows that were not handed over (the server was away); nothing counts."""
    with session_scope(engine) as session:
        for row_id in row_ids:
            row = session.get(OutboxMessage, row_id)
            if row is not None and row.sent_at is None:
                row.claimed_until = None
                row.error = problem[:500]


def record_each(
    engine: Engine,
    items: Sequence[ItemT],
    outcomes: Sequence[AnswerT],
    handle: Callable[[Session, OutboxMessage, ItemT, AnswerT], bool],
) -> int:
    """Record each item's answer with `handle` (True: delivered); release the rest; count."""
    by_row = {outcome.row_id: outcome for outcome in outcomes}
    delivered = 0
    with session_scope(engine) as session:
        for item in items:
            row = session.get(OutboxMessage, item.row_id)
            if row is None:
                continue
            row.claimed_until = None  # done with, or (never handed over) free for the next round
            outcome = by_row.get(item.row_id)
            if outcome is not None and handle(session, row, item, outcome):
                delivered += 1
    return delivered


@dataclass
class Backoff:
    """How often the server failed in a row, and until when the dispatcher waits."""

    server_failures: int = 0
    paused_until: datetime | None = None


class Dispatcher(ABC, Generic[ItemT, AnswerT]):
    """Claim and render, commit; send outside any transaction; record. Back off when down."""

    what = "outbox"
    """What waits while the server is down, for the log ("e-mail", "filings")."""

    def __init__(self, engine: Engine, *, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock
        self.state = Backoff()

    @abstractmethod
    def prepare(self, now: datetime) -> list[ItemT]:
        """Claim the due rows and render them (one transaction, no network; a worker thread)."""

    @abstractmethod
    async def deliver(self, items: list[ItemT]) -> Delivery[AnswerT]:
        """Hand the items to the server, outside any transaction."""

    @abstractmethod
    def record(self, items: list[ItemT], outcomes: list[AnswerT], now: datetime) -> int:
        """Record the answers (one transaction; a worker thread); return how many arrived."""

    @abstractmethod
    def server_name(self) -> str:
        """Name the server for the log."""

    def before_round(self, now: datetime) -> None:
        """Queue what a round should send besides the due rows (a worker thread)."""

    async def step(self) -> int:
        """Run one round; return how many rows were delivered."""
        now = self.clock()
        if self.state.paused_until is not None and now < self.state.paused_until:
            return 0
        await asyncio.to_thread(self.before_round, now)
        items = await asyncio.to_thread(self.prepare, now)
        if not items:
            return 0
        delivery = await self.deliver(items)
        delivered = 0
        if delivery.outcomes:
            delivered = await asyncio.to_thread(self.record, items, delivery.outcomes, self.clock())
        if delivery.problem is None and len(delivery.outcomes) < len(items):
            delivery.problem = "the connection broke off"
        if delivery.problem is not None:
            answered = {outcome.row_id for outcome in delivery.outcomes}
            left = [item.row_id for item in items if item.row_id not in answered]
            await asyncio.to_thread(release, self.engine, left, delivery.problem)
            self._pause(now, delivery.problem)
        else:
            self.state.server_failures, self.state.paused_until = 0, None
        return delivered

    def _pause(self, now: datetime, problem: str) -> None:
        self.state.server_failures += 1
        seconds = min(PAUSE_MAX, PAUSE_BASE * 2 ** (self.state.server_failures - 1))
        self.state.paused_until = now + timedelta(seconds=seconds)
        log.warning(
            "%s unavailable (%s); %s waits, next try in %.0f s",
            self.server_name(),
            problem,
            self.what,
            seconds,
        )

    async def run(self, stop: asyncio.Event, interval: float = 5.0) -> None:
        """Deliver due rows until `stop` is set; a database outage only delays it."""
        while not stop.is_set():
            try:
                while await self.step():
                    pass  # a full batch went out: there may be more
            except OperationalError as exc:
                log.warning("Database unavailable (%s); %s will retry", exc, self.what)
            except Exception:
                log.exception("Dispatching %s failed; retrying", self.what)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
