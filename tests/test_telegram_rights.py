"""The association's rights from Telegram: /mydata sends what is held, /forget asks for erasure.

The real bot (polling) against the fake Telegram server on both databases, with a tracker store
of its own; Rasa is not needed for these commands. Both replies go through the outbox.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.i18n import t
from db.enquiries import crud
from db.enquiries.notifications import Kind
from db.enquiries.tracker_events import EVENTS, METADATA, sender_id, tracker_store
from db.models import EscalationReason, OutboxMessage
from db.plumbing.session import session_scope
from db.privacy.erasure import ERASURE_REQUEST_TEXT
from harness.fake_telegram import FakeTelegram
from harness.people import telegram_person, telegram_writer
from harness.telegram import (
    COORDINATOR_CHAT,
    TIMEOUT,
    Harness,
    has,
    new_user_id,
    offline_settings,
    running_bot,
)

pytestmark = pytest.mark.usefixtures("no_handler_errors")


@pytest.fixture
def harness(engine: Engine, fake: FakeTelegram, tmp_path: Path) -> Harness:
    """Return the bot's settings with a tracker store holding a conversation of the bot's."""
    tracker = f"sqlite:///{tmp_path / 'tracker.db'}"
    store = create_engine(tracker)
    METADATA.create_all(store)
    store.dispose()
    url = engine.url.render_as_string(hide_password=False)
    return Harness(
        fake=fake, settings=offline_settings(url, fake, tracker_db_url=tracker), engine=engine
    )


def remember(tracker: str, sender: str, text: str) -> None:
    """Store one user event in Rasa's tracker store, as Rasa does."""
    with tracker_store(tracker) as connection:
        assert connection is not None
        connection.execute(
            insert(EVENTS).values(
                sender_id=sender,
                type_name="user",
                timestamp=1_780_000_000.0,
                data=json.dumps({"event": "user", "text": text}),
            )
        )


async def test_mydata_sends_everything_held_as_one_json_document(harness: Harness) -> None:
    h, fake = harness, harness.fake
    user, other = new_user_id(), new_user_id()
    tracker = h.settings.tracker_url
    remember(tracker, sender_id("telegram", str(user), str(user)), "Hur söker vi bidrag?")
    remember(tracker, sender_id("telegram", str(other), str(other)), "Någon annans fråga")
    with session_scope(h.engine) as session:
        known = telegram_person(session=session, telegram_user_id=user, chat_id=user)
        crud.set_user_association(session=session, user=known, name="IF Öppen", org_number=None)
        crud.create_enquiry(session=session, text="Vår fråga", language="sv", user=known)
    async with running_bot(h.settings):
        await fake.wait_for("getUpdates", timeout=TIMEOUT)
        assert {"mydata", "forget"} <= {c["command"] for c in fake.my_commands()}  # the menu
        update = fake.command(user, "/mydata")
        await h.processed(update)
        fake.duplicate(update)  # Telegram delivers it again: still one document
        await h.settle()
        await h.delivered()
    (sent,) = fake.sent_documents(user)
    assert sent["document"]["file_name"].endswith(".json")
    assert sent["caption"] == t(
        "sv",
        "Här är allt som Lotsen har sparat om dig, som en JSON-fil. "
        "Vill du att uppgifterna raderas? Skriv /forget.",
    )
    data = json.loads(sent["document"]["content"])
    assert data["telegram_user_id"] == user
    assert data["association"]["name"] == "IF Öppen"
    assert [e["text"] for e in data["enquiries"]] == ["Vår fråga"]
    assert any(u["update_id"] == update["update_id"] for u in data["inbox_updates"])
    assert [e["data"]["text"] for e in data["tracker_events"]] == ["Hur söker vi bidrag?"]
    assert "Någon annans fråga" not in sent["document"]["content"].decode()
    with Session(h.engine) as session:
        (row,) = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == Kind.PERSONAL_DATA)
        ).all()
        assert row.sent_at is not None and row.params == {}  # rendered when sent, never stored
    assert not fake.sent_messages(user)


async def test_forget_files_one_erasure_request_and_confirms_it_in_the_users_language(
    harness: Harness,
) -> None:
    h, fake = harness, harness.fake
    user = new_user_id()
    with session_scope(h.engine) as session:
        telegram_person(session=session, telegram_writer=telegram_writer(user, user), language="en")
    async with running_bot(h.settings):
        await fake.wait_for("getUpdates", timeout=TIMEOUT)
        first = fake.command(user, "/forget")
        await h.processed(first)
        (request,) = h.enquiries_of(user)
        assert request.reference is not None and request.id is not None
        confirmation = t(
            "en",
            "Din begäran om att radera dina uppgifter är registrerad som {reference}. "
            "Kommunens samordnare går igenom den och hör av sig till dig här.",
            reference=request.reference,
        )
        await h.message_to(user, lambda m: m["text"] == confirmation)
        assert request.text == ERASURE_REQUEST_TEXT
        assert [e.reason for e in h.escalations(request.id)] == [EscalationReason.ERASURE]
        await h.message_to(COORDINATOR_CHAT, has(request.reference))

        # Asked again while the first is open: the same request, confirmed again.
        second = fake.command(user, "/forget")
        await h.processed(second)
        await h.message_to(user, lambda m: m["text"] == confirmation, count=2)
    assert h.enquiries_of(user) == [request]
    assert len(h.sent_to(COORDINATOR_CHAT, has(request.reference))) == 1
