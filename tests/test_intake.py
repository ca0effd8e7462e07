"""The one intake (db/enquiries/intake.py): one entry point for every channel and both callers."""

from __future__ import annotations

import threading

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.actions import metadata
from bot.actions.enquiry import ActionHandleEnquiry, ActionSmalltalk
from db import intake
from db.enquiries.notifications import Kind
from db.models import Enquiry, EnquiryEvent, Escalation, EscalationReason, OutboxMessage
from db.plumbing.session import session_scope
from tests.test_actions import _context, _run, _tracker

KEY = "telegram:4242:17"
LANGUAGES = intake.Languages(reply="en", written="en", preferred="sv")
MESSAGE = intake.Message(
    key=KEY,
    writer=intake.Writer("telegram", "4242", "4242"),
    text="How do we apply for a grant for our summer camp?",
    languages=LANGUAGES,
)
ROUTE = intake.Decision(
    intake.Outcome.ROUTE,
    intent="topic_bidrag",
    confidence=0.8,
    department="kultur_fritid",
    guesses=(("kultur_fritid", 0.8),),
)


def test_every_outcome_has_a_handler() -> None:
    assert set(intake.HANDLERS) == set(intake.Outcome)


def test_the_message_travels_through_rasa_metadata_unchanged() -> None:
    assert intake.Message.from_metadata(MESSAGE.as_metadata()) == MESSAGE
    assert metadata.current(MESSAGE.as_metadata()) == MESSAGE.as_metadata()
    assert intake.Message.from_metadata({"text": "Hej"}) is None  # no languages: not ours


def test_older_rasa_metadata_is_read_by_the_action_server_layer() -> None:
    old = {  # what the bot sent before the writer's id was channel-neutral
        "message_key": "tg:4242:17",
        "telegram_user_id": 4242,
        "chat_id": 4242,
        "channel": "telegram",
        "language": "sv",
        "reply_language": "sv",
        "written_language": None,
        "unsupported_language": False,
        "text": "Hej",
    }
    found = intake.Message.from_metadata(metadata.current(old))
    assert found is not None and found.writer == intake.Writer("telegram", "4242", "4242")
    assert found.key == "tg:4242:17" and found.languages.reply == "sv"
    # The domain reads one shape: the older keys are translated before it, never inside it.
    unread = intake.Message.from_metadata(old)
    assert unread is not None and unread.writer is None
    # Older metadata without a channel came from the chat app; `user_id` was its other name.
    bare = {k: v for k, v in old.items() if k not in ("channel", "telegram_user_id")}
    again = intake.Message.from_metadata(metadata.current({**bare, "user_id": 4242}))
    assert again is not None and again.writer == intake.Writer("telegram", "4242", "4242")


def test_receive_records_routes_forwards_and_replies_once(engine: Engine) -> None:
    for _ in range(2):  # a redelivered message changes nothing
        with session_scope(engine) as session:
            received = intake.receive(
                session=session, message=MESSAGE, decision=ROUTE, email_enabled=True
            )
    assert not received.created and received.reply is None
    with Session(engine) as session:
        enquiry = session.exec(select(Enquiry)).one()
        kinds = session.exec(select(EnquiryEvent.kind).order_by(col(EnquiryEvent.id))).all()
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
    assert (enquiry.status, enquiry.language, enquiry.detected_language) == (
        "forwarded",
        "en",
        "en",
    )
    assert (enquiry.intent, enquiry.guesses) == ("topic_bidrag", [["kultur_fritid", 0.8]])
    assert list(kinds) == ["received", "routed", "forwarded"]
    assert [(r.recipient, r.kind, r.channel) for r in rows] == [
        ("department", "forward", "email"),
        ("association", "routed", "telegram"),
    ]
    assert rows[1].dedupe_key == f"{KEY}:answer" and rows[1].language == "en"


def test_the_bot_after_the_action_server_finds_the_enquiry_and_does_nothing_again(
    engine: Engine,
) -> None:
    """Rasa timed out after its action recorded the message: the bot's fallback adds nothing."""
    with session_scope(engine) as session:
        intake.receive(session=session, message=MESSAGE, decision=ROUTE, email_enabled=True)
    with session_scope(engine) as session:
        again = intake.receive(
            session=session,
            message=MESSAGE,
            decision=intake.Decision.escalated(EscalationReason.UNAVAILABLE),
            email_enabled=True,
        )
    assert not again.created
    with Session(engine) as session:
        assert session.exec(select(Escalation)).all() == []
        assert len(session.exec(select(OutboxMessage)).all()) == 2


def test_an_escalation_names_its_reason_to_the_writer(engine: Engine) -> None:
    with session_scope(engine) as session:
        received = intake.receive(
            session=session,
            message=MESSAGE,
            decision=intake.Decision.escalated(EscalationReason.HUMAN),
            email_enabled=False,
        )
        assert received.reply == intake.Reply(Kind.ESCALATED, {"reason": "human"})
    with Session(engine) as session:
        assert session.exec(select(Escalation.reason)).one() == "human"
        cards = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "card")).all()
        assert len(cards) == 1


async def test_the_action_server_uses_the_database_off_its_event_loop(engine: Engine) -> None:
    loop_thread = threading.get_ident()
    threads: set[int] = set()

    def seen(*_: object) -> None:
        threads.add(threading.get_ident())

    event.listen(engine, "before_cursor_execute", seen)
    try:
        context = _context(engine)
        await _run(ActionHandleEnquiry(context), _tracker("Bygglov?", [("topic_bygglov", 0.9)]))
        await _run(ActionSmalltalk(context), _tracker("Hej", [("greet", 0.95)], key="tg:4242:2"))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert threads and loop_thread not in threads
    with Session(engine) as session:
        assert len(session.exec(select(Enquiry)).all()) == 1
