"""How Lotsen's replies reach a web chat: the outbox's web rows, delivered into transcripts.

The conversation queues a reply to a web-chat visitor as an outbox row on the `web` channel
for the person (`recipient_id`); so does the domain when a department answers. `deliver`
resolves the person to the chat they write from (their `web` channel identity), renders the row
in its language and puts it into that chat's transcript, in one transaction with marking the
row sent: each row appears exactly once (the transcript's `outbox_id` is unique, and on
PostgreSQL concurrent deliverers skip each other's rows), in the outbox's order.

`Hub` runs the delivery once a second (and at once when a page kicks it) and wakes the event
streams of the chats that got something new.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.messages import render
from db.enquiries.notifications import Channel, Kind, Recipient
from db.models import OutboxMessage, WebChat, utcnow
from db.people.identities import identity_for
from db.plumbing.session import session_scope
from db.webchat import chat_by_key, person_of, record_outbound

log = logging.getLogger(__name__)

BATCH = 200
MAX_ATTEMPTS = 5
INTERVAL_SECONDS = 1.0
RECOVER_EVERY = 30


def deliver(session: Session, *, chat: WebChat | None = None) -> set[int]:
    """Deliver waiting web rows (of one chat's person, or all); return the chats that got any."""
    now = utcnow()
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.channel == Channel.WEB,
            OutboxMessage.recipient == Recipient.ASSOCIATION,
            col(OutboxMessage.sent_at).is_(None),
            OutboxMessage.attempts < MAX_ATTEMPTS,
        )
        .order_by(col(OutboxMessage.id))
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    if chat is not None:
        person_id = person_of(session=session, chat=chat)
        if person_id is None:
            return set()
        query = query.where(OutboxMessage.recipient_id == person_id)
    touched: set[int] = set()
    for row in session.exec(query).all():
        if row.not_before is not None and row.not_before > now:
            continue
        target = chat if chat is not None else _chat_of_person(session, row.recipient_id)
        if target is None:
            row.attempts, row.error = MAX_ATTEMPTS, "no web chat for the person"
            session.add(row)
            continue
        try:
            message = render(session, row)
        except Exception as exc:  # a row that cannot be rendered must not stop the others
            log.exception("web chat: outbox row %s cannot be rendered", row.id)
            row.attempts, row.error = row.attempts + 1, type(exc).__name__
            session.add(row)
            continue
        assert row.id is not None and target.id is not None
        record_outbound(
            session=session,
            chat=target,
            outbox_id=row.id,
            text=message.text,
            choices=[[[c.label, c.action] for c in line] for line in message.choices],
            language=row.language,
        )
        row.sent_at, row.address = now, target.key
        session.add(row)
        touched.add(target.id)
        if row.kind in BY_EMAIL_TOO and target.email:
            _copy_by_email(session, row)
    return touched


BY_EMAIL_TOO = frozenset({Kind.ANSWER})
"""What a visitor who left an e-mail address also gets by e-mail: the department's answer
(it reaches the association even after the tab is closed)."""


def _copy_by_email(session: Session, row: OutboxMessage) -> None:
    """Queue the same message for the person's e-mail identity (once per row)."""
    session.add(
        OutboxMessage(
            kind=row.kind,
            channel=Channel.EMAIL,
            recipient=Recipient.ASSOCIATION,
            recipient_id=row.recipient_id,
            language=row.language,
            params=dict(row.params or {}),
            enquiry_id=row.enquiry_id,
            dedupe_key=f"web-email:{row.id}",
        )
    )


def _chat_of_person(session: Session, person_id: int | None) -> WebChat | None:
    if person_id is None:
        return None
    identity = identity_for(session=session, person_id=person_id, channel=Channel.WEB)
    if identity is None:
        return None
    return chat_by_key(session=session, key=identity.conversation)


class Hub:
    """The delivery loop of one web process, and the chats' event streams waiting on it."""

    def __init__(
        self,
        engine: Engine,
        interval: float = INTERVAL_SECONDS,
        recover: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.recover = recover
        """Hands in visitors' messages a crash left unhandled (every RECOVER_EVERY rounds)."""
        self._waiting: dict[int, set[asyncio.Event]] = {}
        self._kick = asyncio.Event()

    def kick(self) -> None:
        """Deliver now (a reply was queued by this process)."""
        self._kick.set()

    def wake(self, chat_ids: set[int]) -> None:
        """Wake the streams of these chats."""
        for chat_id in chat_ids:
            for event in self._waiting.get(chat_id, ()):
                event.set()

    @contextlib.contextmanager
    def listen(self, chat_id: int) -> Iterator[asyncio.Event]:
        """Yield an event set whenever the chat may have something new."""
        event = asyncio.Event()
        self._waiting.setdefault(chat_id, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._waiting.get(chat_id, set())
            waiting.discard(event)
            if not waiting:
                self._waiting.pop(chat_id, None)

    @property
    def listeners(self) -> int:
        """Return how many event streams are open."""
        return sum(len(events) for events in self._waiting.values())

    def _deliver_all(self) -> set[int]:
        with session_scope(self.engine) as session:
            return deliver(session)

    async def run(self) -> None:
        """Deliver and wake until cancelled; a failing round is logged and retried."""
        rounds = 0
        while True:
            self._kick.clear()
            try:
                if self.recover is not None and rounds % RECOVER_EVERY == 0:
                    await self.recover()
                self.wake(await asyncio.to_thread(self._deliver_all))
            except Exception:
                log.exception("web chat: delivery round failed")
            rounds += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.interval)
