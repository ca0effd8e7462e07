"""Run the real Lotsen bot against the fake Telegram server and the real Rasa stack."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from bot.channels.telegram.app import run_bot
from bot.channels.telegram.outbox import MAX_ATTEMPTS as OUTBOX_MAX_ATTEMPTS
from bot.settings import Settings
from db.models import (
    Department,
    Enquiry,
    EnquiryEvent,
    Escalation,
    EscalationReason,
    InboxUpdate,
    OutboxMessage,
    utcnow,
)
from db.people.identities import find_person
from db.plumbing.session import session_scope
from harness.fake_telegram import FakeTelegram
from harness.people import staff_id, staff_member
from harness.wait import eventually

COORDINATOR_CHAT = -1000000000001
TIMEOUT = 30.0
_ids = itertools.count(1)


def new_user_id() -> int:
    """Return a Telegram user id no other test in this session uses."""
    return 7_100_000_000 + next(_ids)


def new_group_id() -> int:
    """Return a supergroup chat id no other test in this session uses."""
    return -1_002_000_000_000 - next(_ids)


def bot_settings(stack: Settings, fake: FakeTelegram, **overrides: Any) -> Settings:
    """Return the stack's settings pointed at the fake Telegram server."""
    values: dict[str, Any] = {
        "telegram_bot_token": SecretStr(fake.token),
        "telegram_api_base_url": fake.api_root,
        "telegram_poll_timeout": 1,
    }
    values.update(overrides)
    return stack.model_copy(update=values)


def offline_settings(database_url: str, fake: FakeTelegram, **overrides: Any) -> Settings:
    """Return settings for the real bot on a database and the fake, with Rasa unreachable."""
    from harness.ports import free_port

    values: dict[str, Any] = {
        "database_url": database_url,
        "telegram_bot_token": SecretStr(fake.token),
        "telegram_api_base_url": fake.api_root,
        "telegram_poll_timeout": 1,
        "rasa_url": f"http://127.0.0.1:{free_port()}",  # nothing listens: Rasa is down
        "coordinator_chat_id": COORDINATOR_CHAT,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


def reset_transport_tables(engine: Engine) -> None:
    """Forget inbox and outbox rows of earlier tests (each fake restarts update and message ids)."""
    with session_scope(engine) as session:
        session.execute(delete(InboxUpdate))
        session.execute(delete(OutboxMessage))


@contextlib.asynccontextmanager
async def running_bot(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    """Run `run_bot` as a task until the block ends; fail if it crashed."""
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(run_bot(settings, stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=20)


@dataclass
class Harness:
    """The fake Telegram server, the bot's settings and a database engine for assertions."""

    fake: FakeTelegram
    settings: Settings
    engine: Engine

    # ------------------------------------------------------------------ Telegram side

    async def message_to(
        self,
        chat_id: int,
        predicate: Callable[[dict[str, Any]], bool] = lambda message: True,
        *,
        after: int = 0,
        count: int = 1,
        timeout: float = TIMEOUT,
    ) -> dict[str, Any]:
        """Wait until the bot has sent `count` matching messages to a chat; return the last."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.sent_to(chat_id, predicate, after=after)
            if len(found) >= count:
                return found[count - 1]
            if loop.time() > deadline:
                texts = [m["text"][:100] for m in self.sent_to(chat_id)]
                raise AssertionError(
                    f"expected {count} matching message(s) to {chat_id}, got {len(found)}; "
                    f"all sent there: {texts}"
                )
            await asyncio.sleep(0.05)

    def sent_to(
        self,
        chat_id: int,
        predicate: Callable[[dict[str, Any]], bool] = lambda message: True,
        *,
        after: int = 0,
    ) -> list[dict[str, Any]]:
        """Return messages the bot sent to a chat so far (answered 200), as Telegram echoed them."""
        return [
            r.response
            for r in self.fake.requests[after:]
            if r.method == "sendMessage"
            and r.ok
            and r.params.get("chat_id") == chat_id
            and predicate(r.response)
        ]

    def mark(self) -> int:
        """Return a position in the request log (for 'only what comes after this')."""
        return len(self.fake.requests)

    async def callback_answer(self, query: dict[str, Any]) -> dict[str, Any]:
        """Wait for the bot's answerCallbackQuery to a queued callback update."""
        query_id = query["callback_query"]["id"]
        return await self.fake.wait_for(
            "answerCallbackQuery",
            lambda p: str(p.get("callback_query_id")) == query_id,
            timeout=TIMEOUT,
        )

    async def processed(self, update: dict[str, Any], timeout: float = TIMEOUT) -> None:
        """Wait until the bot has processed an update and sent the replies it queued."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            with Session(self.engine) as session:
                row = session.get(InboxUpdate, update["update_id"])
                if row is not None and row.processed_at is not None:
                    assert row.error is None, row.error
                    await self.delivered(deadline - loop.time())
                    return
            await asyncio.sleep(0.05)
        raise AssertionError(f"update {update['update_id']} was not processed")

    async def delivered(self, timeout: float = TIMEOUT, *, recipient: str | None = None) -> None:
        """Wait until the outbox holds no Telegram message that is due and still unsent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with Session(self.engine) as session:
                query = select(OutboxMessage).where(
                    OutboxMessage.channel == "telegram",
                    col(OutboxMessage.sent_at).is_(None),
                    OutboxMessage.attempts < OUTBOX_MAX_ATTEMPTS,
                    col(OutboxMessage.not_before).is_(None)
                    | (col(OutboxMessage.not_before) <= utcnow()),
                )
                if recipient is not None:
                    query = query.where(OutboxMessage.recipient == recipient)
                due = session.exec(query).first()
            if due is None:
                return
            if loop.time() > deadline:
                raise AssertionError(f"outbox message {due.id} ({due.kind}) was not sent")
            await asyncio.sleep(0.05)

    async def settle(self) -> None:
        """Wait until every pending update has been fetched and processed."""

        def unprocessed() -> bool:
            with Session(self.engine) as session:
                query = select(InboxUpdate).where(col(InboxUpdate.processed_at).is_(None))
                return session.exec(query).first() is not None

        # The bot confirms an update's offset to Telegram only after it stored the update, so
        # once nothing is pending at the fake every update is in the inbox.
        assert await eventually(lambda: not self.fake.pending_updates(), TIMEOUT), "not fetched"
        assert await eventually(lambda: not unprocessed(), TIMEOUT), "not processed"

    # ------------------------------------------------------------------ database side

    def enquiries_of(self, telegram_user_id: int) -> list[Enquiry]:
        """Return the enquiries of a Telegram user, oldest first."""
        with Session(self.engine) as session:
            user = find_person(session=session, channel="telegram", address=str(telegram_user_id))
            if user is None:
                return []
            return list(
                session.exec(
                    select(Enquiry).where(Enquiry.user_id == user.id).order_by(col(Enquiry.id))
                ).all()
            )

    def enquiry(self, enquiry_id: int) -> Enquiry:
        """Return an enquiry as it is now."""
        with Session(self.engine) as session:
            found = session.get(Enquiry, enquiry_id)
            assert found is not None
            return found

    def events(self, enquiry_id: int) -> list[EnquiryEvent]:
        """Return an enquiry's events in order."""
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(EnquiryEvent)
                    .where(EnquiryEvent.enquiry_id == enquiry_id)
                    .order_by(col(EnquiryEvent.id))
                ).all()
            )

    def escalations(self, enquiry_id: int) -> list[Escalation]:
        """Return an enquiry's escalations in order."""
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(Escalation)
                    .where(Escalation.enquiry_id == enquiry_id)
                    .order_by(col(Escalation.id))
                ).all()
            )

    def department(self, key: str) -> Department:
        """Return a department by key."""
        with Session(self.engine) as session:
            found = session.exec(select(Department).where(Department.key == key)).first()
            assert found is not None
            return found

    def staff_id(self, telegram_user_id: int) -> int:
        """Return the id of the staff person behind a Telegram user (who must be staff)."""
        with Session(self.engine) as session:
            return staff_id(session, telegram_user_id)

    def add_staff(self, telegram_user_id: int, role: str, department_key: str | None) -> None:
        """Give a Telegram user a staff role (department staff need a department)."""
        department_id = self.department(department_key).id if department_key else None
        with session_scope(self.engine) as session:
            staff_member(
                session,
                telegram_user_id,
                role,
                department_id,
                name=f"Test {role} {telegram_user_id}",
            )

    @contextlib.contextmanager
    def department_chat(self, key: str, chat_id: int) -> Iterator[int]:
        """Give a department a Telegram chat for the block, then restore the old value."""
        with session_scope(self.engine) as session:
            department = session.exec(select(Department).where(Department.key == key)).one()
            old, department.group_chat = department.group_chat, str(chat_id)
        try:
            yield chat_id
        finally:
            with session_scope(self.engine) as session:
                department = session.exec(select(Department).where(Department.key == key)).one()
                department.group_chat = old


def buttons(message: dict[str, Any]) -> list[str]:
    """Return the callback data of every inline button on a sent message."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [b["callback_data"] for row in rows for b in row if "callback_data" in b]


def has(*parts: str) -> Callable[[dict[str, Any]], bool]:
    """Return a predicate: the message text contains every part."""
    return lambda message: all(part in message.get("text", "") for part in parts)


def escalations_of(session: Session, keys: Sequence[str], reason: EscalationReason) -> int:
    """Count the escalations for `reason` of the enquiries made from these inbound messages."""
    return session.exec(
        select(func.count())
        .select_from(Escalation)
        .join(Enquiry, col(Enquiry.id) == Escalation.enquiry_id)
        .where(col(Enquiry.message_key).in_(keys), Escalation.reason == reason)
    ).one()


def progress(session: Session, keys: Sequence[str]) -> tuple[int, int]:
    """Return (enquiries made from these inbound messages, stored updates still unprocessed)."""
    enquiries = session.exec(
        select(func.count()).select_from(Enquiry).where(col(Enquiry.message_key).in_(keys))
    ).one()
    unprocessed = session.exec(
        select(func.count()).select_from(InboxUpdate).where(col(InboxUpdate.processed_at).is_(None))
    ).one()
    return int(enquiries), int(unprocessed)


async def ask(h: Harness, user_id: int, text: str) -> tuple[dict[str, Any], int]:
    """Send a question and return the bot's reply carrying a reference, and the enquiry id."""
    before = len(h.enquiries_of(user_id))
    mark = h.mark()
    h.fake.user_message(user_id, text)
    reply = await h.message_to(user_id, has("LOT-"), after=mark)
    enquiries = h.enquiries_of(user_id)
    assert len(enquiries) == before + 1
    enquiry = enquiries[-1]
    assert enquiry.reference is not None and enquiry.reference in reply["text"]
    assert enquiry.id is not None
    return reply, enquiry.id
