"""Sends in doubt: a message Telegram took but whose answer never reached the bot is sent once.

The real bot (polling) against the fake Telegram server on both databases; no Rasa is needed
for commands. The fake carries out a send and then loses its answer (the connection closes, or
hangs while the bot stops, as when the process dies): the message is there, the outbox does
not know it. Before sending again, the bot looks for it in the association's chat.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.messages.association import help_text
from db.enquiries.notifications import Kind
from db.models import OutboxMessage
from harness.fake_telegram import FakeTelegram
from harness.telegram import (
    COORDINATOR_CHAT,
    TIMEOUT,
    Harness,
    has,
    new_user_id,
    running_bot,
)
from harness.wait import eventually

pytestmark = pytest.mark.usefixtures("no_handler_errors")


@pytest.fixture
def harness(offline: Harness) -> Harness:
    """Return the bot's settings on the test database (Rasa unreachable)."""
    return offline


def delivered(fake: FakeTelegram, method: str, chat_id: int) -> list[dict[str, object]]:
    """Return what Telegram holds from the bot in a chat: every send it carried out."""
    return [
        r.response
        for r in fake.requests
        if r.method == method and r.ok and r.params.get("chat_id") == chat_id
    ]


def outbox_row(engine: Engine, kind: Kind) -> OutboxMessage:
    """Return the one outbox row of a kind."""
    with Session(engine) as session:
        (row,) = session.exec(select(OutboxMessage).where(OutboxMessage.kind == kind)).all()
        return row


async def sent(engine: Engine, kind: Kind) -> OutboxMessage:
    """Wait until the outbox row of a kind is recorded as sent (retries wait a backoff)."""
    done = await eventually(lambda: outbox_row(engine, kind).sent_at is not None, TIMEOUT)
    row = outbox_row(engine, kind)
    assert done, row
    return row


@pytest.mark.parametrize(
    ("command", "method", "kind"),
    [("/help", "sendMessage", Kind.HELP), ("/mydata", "sendDocument", Kind.PERSONAL_DATA)],
)
async def test_a_message_whose_answer_was_lost_is_found_not_sent_again(
    harness: Harness, command: str, method: str, kind: Kind
) -> None:
    h, fake = harness, harness.fake
    user = new_user_id()
    async with running_bot(h.settings):
        await fake.wait_for("getUpdates", timeout=TIMEOUT)
        fake.lose_answer(method)
        update = fake.command(user, command)
        await h.processed(update)
        row = await sent(h.engine, kind)  # after the backoff, the retry looks for it first
    (message,) = delivered(fake, method, user)
    assert row.sent_at is not None and row.external_id == str(message["message_id"])  # type: ignore[index]
    assert row.attempts == 1  # the lost answer, counted once
    edits = [r for r in fake.requests if r.method.startswith("editMessage")]
    assert [r.status for r in edits] == [400]  # "message is not modified": it is there


async def test_a_message_in_flight_when_the_bot_stops_is_found_after_the_restart(
    harness: Harness,
) -> None:
    h, fake = harness, harness.fake
    user = new_user_id()
    fake.command(user, "/help")
    status = fake.command(user, "/status")  # the user's own message lies between: not ours
    fake.lose_answer("sendMessage", hang=True)
    async with running_bot(h.settings):
        await fake.wait_for("sendMessage", lambda p: p.get("chat_id") == user, timeout=TIMEOUT)
    # The bot stopped while Telegram kept the help text; the outbox never learnt of it.
    help_row = outbox_row(h.engine, Kind.HELP)
    assert help_row.sent_at is None and help_row.sending_at is not None
    async with running_bot(h.settings):
        await h.processed(status)
        await h.delivered()
    texts = [m["text"] for m in delivered(fake, "sendMessage", user)]  # type: ignore[index]
    assert texts.count(help_text("sv")) == 1
    assert len(texts) == 2  # the help, then the status list
    help_row = outbox_row(h.engine, Kind.HELP)
    first = next(m for m in delivered(fake, "sendMessage", user))
    assert help_row.external_id == str(first["message_id"])  # type: ignore[index]
    probes = [r.response or r.status for r in fake.requests if r.method == "editMessageText"]
    assert probes == [400, 400]  # the user's /status ("can't be edited"), then the help text


async def test_a_message_that_never_arrived_is_sent_once_after_a_doubtful_failure(
    harness: Harness,
) -> None:
    h, fake = harness, harness.fake
    user = new_user_id()
    async with running_bot(h.settings):
        await fake.wait_for("getUpdates", timeout=TIMEOUT)
        fake.fail_next("sendMessage", status=502)  # a gateway error: did it get through?
        update = fake.command(user, "/help")
        await h.processed(update)
        await sent(h.engine, Kind.HELP)
    (message,) = delivered(fake, "sendMessage", user)
    assert message["text"] == help_text("sv")  # type: ignore[index]
    assert [r.status for r in fake.requests if r.method == "editMessageText"] == [400]


async def _card_in_doubt(h: Harness, *, before_the_second: str | None = None) -> dict[str, Any]:
    """Escalate two questions (Rasa is down); the second card is taken but never answered.

    Returns the lost card as Telegram holds it; the bot is stopped and started again.
    """
    fake = h.fake
    async with running_bot(h.settings):
        await fake.wait_for("getUpdates", timeout=TIMEOUT)
        first = fake.user_message(new_user_id(), "Hur söker vi bidrag till vår förening?")
        await h.processed(first)
        await h.message_to(COORDINATOR_CHAT, has("LOT-"))
        if before_the_second is not None:
            coordinator = new_user_id()
            h.add_staff(coordinator, "coordinator", None)
            command = fake.command(
                coordinator, before_the_second, chat_id=COORDINATOR_CHAT, chat_type="supergroup"
            )
            await h.processed(command)
        fake.lose_answer("sendMessage", hang=True, chat_id=COORDINATOR_CHAT)
        fake.user_message(new_user_id(), "Får vi ha en loppis i parken i maj?")
        lost = await fake.wait_for(
            "sendMessage", lambda p: p.get("chat_id") == COORDINATOR_CHAT, new_only=True
        )
    async with running_bot(h.settings):
        await h.delivered(TIMEOUT)
    return next(
        r.response
        for r in fake.requests
        if r.method == "sendMessage" and r.params is lost and r.response is not None
    )


async def test_a_card_in_doubt_is_found_in_the_coordinators_group(harness: Harness) -> None:
    h = harness
    lost = await _card_in_doubt(h)
    cards = h.sent_to(COORDINATOR_CHAT)
    assert len(cards) == 2  # one card per escalation
    with Session(h.engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.kind == Kind.CARD)).all()
    assert sorted(int(r.external_id or 0) for r in rows) == [c["message_id"] for c in cards]
    assert str(lost["message_id"]) in {r.external_id for r in rows}


async def test_a_card_in_doubt_is_sent_again_after_the_bot_answered_in_the_group(
    harness: Harness,
) -> None:
    h, fake = harness, harness.fake
    lost = await _card_in_doubt(h, before_the_second="/queue")
    # The bot answered /queue there itself: the outbox cannot know every message of the group,
    # so nothing there is edited; the card comes again (at least once, never lost).
    assert not [r for r in fake.requests if r.method.startswith("editMessage")]
    texts = [m["text"] for m in h.sent_to(COORDINATOR_CHAT)]
    assert texts.count(lost["text"]) == 2
