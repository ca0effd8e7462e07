"""Dead letters: an update that keeps failing is kept with its error, and somebody hears of it.

The real bot (polling) against the fake Telegram server on both databases; Rasa is not running
(its address is a closed port), which the conversation already handles, so these tests are fast.
The failure itself is a fault of the real database: a trigger refuses, for a while, to record
the escalation of a question Rasa could not take (the path these questions go), as a full disk
or a broken constraint would; the dead letter's own case and apology are recorded all the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.channels.telegram.inbox import MAX_ATTEMPTS
from bot.channels.telegram.updates import dead_letters, read_update
from bot.cli import app
from bot.i18n import t
from bot.messages.association import ESCALATED
from bot.messages.coordinator import reason_text
from db.enquiries.queue import list_queue
from db.models import AuditEntry, EscalationReason, InboxUpdate
from harness.telegram import (
    COORDINATOR_CHAT,
    TIMEOUT,
    Harness,
    has,
    new_user_id,
    running_bot,
)
from harness.wait import eventually


@pytest.fixture
def harness(offline: Harness, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """Return the bot's settings (no Rasa) and point the command line at the same database."""
    monkeypatch.setenv("DATABASE_URL", offline.settings.database_url)
    return offline


FAULT = "the disk is full"

SQLITE_TRIGGER = f"""
CREATE TRIGGER refuse_unavailable BEFORE INSERT ON escalation
WHEN NEW.reason = 'unavailable' BEGIN SELECT RAISE(ABORT, '{FAULT}'); END
"""
POSTGRES_TRIGGER = (
    f"""
CREATE FUNCTION refuse_unavailable() RETURNS trigger AS $$
BEGIN
  IF NEW.reason = 'unavailable' THEN RAISE EXCEPTION '{FAULT}'; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
""",
    """CREATE TRIGGER refuse_unavailable BEFORE INSERT ON escalation
FOR EACH ROW EXECUTE FUNCTION refuse_unavailable()""",
)


@contextmanager
def refusing_unavailable(engine: Engine) -> Iterator[None]:
    """Make the database refuse "Rasa unavailable" escalations while inside."""
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        for statement in POSTGRES_TRIGGER if postgres else (SQLITE_TRIGGER,):
            connection.execute(text(statement))
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(
                text("DROP TRIGGER refuse_unavailable ON escalation")
                if postgres
                else text("DROP TRIGGER refuse_unavailable")
            )
            if postgres:
                connection.execute(text("DROP FUNCTION refuse_unavailable()"))


async def dead_letter(engine: Engine, update: dict[str, Any]) -> InboxUpdate:
    """Wait until an update is a dead letter; return its row."""

    def row() -> InboxUpdate | None:
        with Session(engine) as session:
            return session.get(InboxUpdate, update["update_id"])

    def dead() -> bool:
        found = row()
        return found is not None and found.dead_at is not None

    if not await eventually(dead, TIMEOUT):
        raise AssertionError(f"update {update['update_id']} did not become a dead letter")
    found = row()
    assert found is not None
    return found


def inbox(*args: str) -> str:
    """Run `lotsen inbox …` and return its output (it must succeed)."""
    result = CliRunner().invoke(app, ["inbox", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Hur söker vår förening bidrag för lovaktiviteter? Ring mig på 070-123 45 67", "sv"),
        ("How does our association apply for a grant for holiday activities?", "en"),
    ],
)
async def test_an_update_that_keeps_failing_is_kept_and_its_association_gets_a_reference(
    harness: Harness, question: str, language: str
) -> None:
    h, fake = harness, harness.fake
    user = new_user_id()
    async with running_bot(h.settings):
        await fake.wait_for("getUpdates", timeout=TIMEOUT)
        with refusing_unavailable(h.engine):
            update = fake.user_message(user, question)
            row = await dead_letter(h.engine, update)
        assert row.attempts == MAX_ATTEMPTS and row.processed_at is None
        assert row.error is not None and FAULT in row.error

        # The association: its reference and a short apology, in the language it wrote in.
        reply = await h.message_to(user, has("LOT-"))
        (enquiry,) = h.enquiries_of(user)
        assert enquiry.reference is not None and enquiry.id is not None
        assert reply["text"] == t(
            language, ESCALATED[EscalationReason.FAILED], reference=enquiry.reference
        )
        assert enquiry.text.startswith(question.split("?")[0])
        assert "070-123" not in enquiry.text  # masked like every question
        assert enquiry.message_key == read_update(update).message_key
        # The coordinator: the case in the queue (the desk's and the CLI's) and a card.
        assert [e.reason for e in h.escalations(enquiry.id)] == [EscalationReason.FAILED]
        with Session(h.engine) as session:
            queued = list_queue(session=session)
            assert [item.enquiry.id for item in queued] == [enquiry.id]
            assert reason_text(queued[0], "sv") == "meddelandet kunde inte hanteras automatiskt"
        card = await h.message_to(COORDINATOR_CHAT, has(enquiry.reference))
        assert "kunde inte hanteras" in card["text"]

        listed = inbox("list")
        assert str(update["update_id"]) in listed and enquiry.reference in listed
        assert FAULT in listed

        # Retried once the database is fine again: handled, nothing said or recorded twice.
        assert str(update["update_id"]) in inbox("retry", str(update["update_id"]))
        await h.processed(update)
        await h.delivered()
        assert len(h.sent_to(user, has("LOT-"))) == 1
        assert len(h.sent_to(COORDINATOR_CHAT, has(enquiry.reference))) == 1
        assert h.enquiries_of(user) == [enquiry]
    with Session(h.engine) as session:
        assert dead_letters(session=session) == []


async def test_updates_nobody_can_read_are_kept_listed_and_hold_up_nobody(
    harness: Harness,
) -> None:
    h, fake = harness, harness.fake
    user = new_user_id()
    async with running_bot(h.settings):
        await fake.wait_for("getUpdates", timeout=TIMEOUT)
        unreadable = [
            fake.push_update({"message": {"message_id": 1, "chat": {"id": "not a number"}}}),
            fake.push_update({"message": "garbage"}),
            fake.push_update({"edited_message": {"text": 17, "chat": "?", "from": None}}),
        ]
        fine = fake.command(user, "/help")
        await h.processed(fine)  # the others do not stand in its way
        rows = [await dead_letter(h.engine, update) for update in unreadable]
        assert all(row.attempts == MAX_ATTEMPTS and row.error for row in rows)
        await h.delivered()
    # Nobody could be told; nothing was recorded or sent about them.
    assert {r.params.get("chat_id") for r in fake.requests if r.method == "sendMessage"} == {user}
    assert h.enquiries_of(user) == []

    listed = inbox("list").splitlines()
    assert [line.split()[0] for line in listed] == [str(u["update_id"]) for u in unreadable]

    dropped = unreadable[0]["update_id"]
    assert str(dropped) in inbox("drop", str(dropped), "--actor", "test:operator")
    with Session(h.engine) as session:
        row = session.get(InboxUpdate, dropped)
        assert row is not None and row.processed_at is not None  # kept until retention
        (audit,) = session.exec(select(AuditEntry).where(AuditEntry.entity == "inbox_update"))
        assert (audit.actor, audit.action) == ("test:operator", "drop")
        assert audit.entity_key == str(dropped)
        assert "not a number" not in str(audit.before) + str(audit.after)
    assert [line.split()[0] for line in inbox("list").splitlines()] == [
        str(u["update_id"]) for u in unreadable[1:]
    ]
    again = CliRunner().invoke(app, ["inbox", "drop", str(dropped)])
    assert again.exit_code == 1 and str(dropped) in again.output
