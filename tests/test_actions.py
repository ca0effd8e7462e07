"""Rasa custom actions against a real database, with rasa-sdk's CollectingDispatcher."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.actions.context import ActionContext
from bot.actions.enquiry import ActionEnquiryStatus, ActionHandleEnquiry, ActionSmalltalk
from bot.settings import Settings
from db.models import Enquiry, EnquiryEvent, Escalation, OutboxMessage
from harness.people import person_of
from harness.workflow import COORDINATOR_CHAT, as_sent


def _context(engine: Engine, *, smtp_host: str | None = "127.0.0.1") -> ActionContext:
    """Return the actions' context; with an SMTP host (e-mail on), a department without a
    Telegram group gets its forwards by e-mail (no mail is sent here: no dispatcher runs)."""
    settings = Settings(
        database_url=str(engine.url.render_as_string(hide_password=False)),
        coordinator_chat_id=COORDINATOR_CHAT,
        smtp_host=smtp_host,
        _env_file=None,  # type: ignore[call-arg]
    )
    return ActionContext(settings=settings, engine=engine, threshold=0.5)


def _tracker(
    text: str,
    ranking: list[tuple[str, float]],
    *,
    user_id: int = 4242,
    key: str = "tg:4242:1",
    entities: list[dict[str, Any]] | None = None,
    language: str = "sv",
) -> Tracker:
    top_name, top_conf = ranking[0]
    latest = {
        "text": text,
        "intent": {"name": top_name, "confidence": top_conf},
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
        "entities": entities or [],
        "metadata": {
            "message_key": key,
            "telegram_user_id": user_id,
            "chat_id": user_id,
            "language": language,
            "text": text,
        },
    }
    return Tracker(f"tg:{user_id}:{user_id}", {}, latest, [], False, None, {}, "action_listen")


async def _run(action: Any, tracker: Tracker) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, tracker, {})
    return dispatcher.messages


def _replies(engine: Engine, user_id: int = 4242) -> list[str]:
    """Return the texts queued for the association user, as Telegram would show them."""
    with Session(engine) as session:
        user = person_of(session, user_id)
        assert user is not None
        rows = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.recipient == "association", OutboxMessage.recipient_id == user.id)
            .order_by(OutboxMessage.id)  # type: ignore[arg-type]
        ).all()
        return [as_sent(session, row).text for row in rows]


async def test_routed_question_is_logged_before_the_reply(engine: Engine) -> None:
    action = ActionHandleEnquiry(_context(engine))
    tracker = _tracker(
        "Hur söker vi aktivitetsstöd för vår fotbollsklubb?",
        [("topic_bidrag", 0.81), ("topic_lokalbokning", 0.1)],
    )
    messages = await _run(action, tracker)
    with Session(engine) as session:
        enquiry = session.exec(select(Enquiry)).one()
        events = session.exec(
            select(EnquiryEvent).where(EnquiryEvent.enquiry_id == enquiry.id)
        ).all()
    assert enquiry.intent == "topic_bidrag"
    assert enquiry.confidence == pytest.approx(0.81)
    # Routed, then forwarded (by e-mail: the department has no Telegram group).
    assert enquiry.status == "forwarded"
    assert enquiry.reference is not None and enquiry.reference.startswith("LOT-")
    assert [e.kind for e in events] == ["received", "routed", "forwarded"]
    assert enquiry.sla_due_at is not None
    [text] = _replies(engine)
    assert "Kultur- och fritidsförvaltningen" in text
    assert "foreningsservice@storasa.example" in text
    assert enquiry.reference in text
    assert messages[-1]["custom"] == {
        "lotsen": {"enquiry_id": enquiry.id, "reference": enquiry.reference}
    }


async def test_same_message_twice_makes_one_enquiry(engine: Engine) -> None:
    action = ActionHandleEnquiry(_context(engine))
    tracker = _tracker("Bygglov för klubbstuga?", [("topic_bygglov", 0.9)], key="tg:4242:7")
    first = await _run(action, tracker)
    second = await _run(action, tracker)
    with Session(engine) as session:
        assert len(session.exec(select(Enquiry)).all()) == 1
    assert first == second  # both name the one enquiry
    [reply] = _replies(engine)  # and the association hears of it once
    assert "Samhällsbyggnadsförvaltningen" in reply


async def test_unsure_question_is_escalated_with_card(engine: Engine) -> None:
    action = ActionHandleEnquiry(_context(engine))
    tracker = _tracker(
        "Vi undrar lite om saker",
        [("nlu_fallback", 0.5), ("topic_bidrag", 0.2), ("topic_iop", 0.2)],
    )
    messages = await _run(action, tracker)
    with Session(engine) as session:
        enquiry = session.exec(select(Enquiry)).one()
        escalation = session.exec(select(Escalation)).one()
        cards = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "card")).all()
        card_chats = [as_sent(session, card).chat_id for card in cards]
    assert enquiry.status == "escalated"
    assert escalation.reason == "unsure"
    assert card_chats == [COORDINATOR_CHAT]
    [text] = _replies(engine)
    assert enquiry.reference in text
    assert "samordnare" in text
    assert messages[-1]["custom"]["lotsen"]["enquiry_id"] == enquiry.id


async def test_ask_human_is_escalated_as_human(engine: Engine) -> None:
    action = ActionHandleEnquiry(_context(engine))
    tracker = _tracker("I want to talk to a person", [("ask_human", 0.95)], language="en")
    await _run(action, tracker)
    with Session(engine) as session:
        escalation = session.exec(select(Escalation)).one()
    assert escalation.reason == "human"
    [text] = _replies(engine)
    assert "coordinator" in text


async def test_smalltalk_makes_no_enquiry(engine: Engine) -> None:
    messages = await _run(ActionSmalltalk(_context(engine)), _tracker("hej", [("greet", 0.99)]))
    with Session(engine) as session:
        assert session.exec(select(Enquiry)).all() == []
    assert messages == [{**messages[0], "custom": {"lotsen": {"handled": True}}}]
    [text] = _replies(engine)
    assert text.startswith("Hej")


async def test_status_shows_only_own_enquiries(engine: Engine) -> None:
    context = _context(engine)
    await _run(
        ActionHandleEnquiry(context),
        _tracker("Vi vill boka en idrottshall", [("topic_lokalbokning", 0.9)], user_id=1, key="a"),
    )
    with Session(engine) as session:
        reference = session.exec(select(Enquiry)).one().reference
    assert reference is not None
    entity = [{"entity": "reference", "value": reference}]
    await _run(
        ActionEnquiryStatus(context),
        _tracker(
            f"Hur går det med {reference}?",
            [("ask_status", 0.9)],
            user_id=1,
            key="b",
            entities=entity,
        ),
    )
    await _run(
        ActionEnquiryStatus(context),
        _tracker(
            f"Hur går det med {reference}?",
            [("ask_status", 0.9)],
            user_id=2,
            key="c",
            entities=entity,
        ),
    )
    own = _replies(engine, user_id=1)[-1]
    other = _replies(engine, user_id=2)[-1]
    assert reference in own
    assert "väntar på svar" in own
    assert "hittar inget ärende" in other


async def test_question_guessed_as_small_talk_is_routed_as_an_enquiry(engine: Engine) -> None:
    text = "Kan vår förening få bidrag för att hyra en lokal till sommarens läger?"
    tracker = _tracker(text, [("affirm", 0.4), ("topic_bidrag", 0.35), ("topic_lokalbokning", 0.2)])
    await _run(ActionSmalltalk(_context(engine)), tracker)
    with Session(engine) as session:
        enquiry = session.exec(select(Enquiry)).one()
    assert enquiry.status == "forwarded"  # routed, and forwarded by e-mail
    assert enquiry.intent == "affirm"
    [reply] = _replies(engine)
    assert enquiry.reference is not None and enquiry.reference in reply


async def test_question_guessed_as_status_is_escalated_as_an_enquiry(engine: Engine) -> None:
    text = "Var och när kan mina äldre föräldrar vaccinera sig mot influensa i höst?"
    tracker = _tracker(text, [("ask_status", 0.62), ("topic_bidrag", 0.1)])
    await _run(ActionEnquiryStatus(_context(engine)), tracker)
    with Session(engine) as session:
        enquiry = session.exec(select(Enquiry)).one()
        escalation = session.exec(select(Escalation)).one()
    assert enquiry.status == "escalated"
    assert escalation.reason == "unsure"
    [reply] = _replies(engine)
    assert enquiry.reference is not None and enquiry.reference in reply


async def test_routed_question_nobody_can_reach_goes_to_the_coordinator_at_once(
    engine: Engine,
) -> None:
    """No Telegram group and no SMTP: the coordinator has it now, not after the deadline."""
    action = ActionHandleEnquiry(_context(engine, smtp_host=None))
    tracker = _tracker(
        "Hur söker vi aktivitetsstöd för vår fotbollsklubb?", [("topic_bidrag", 0.81)]
    )
    await _run(action, tracker)
    with Session(engine) as session:
        enquiry = session.exec(select(Enquiry)).one()
        escalation = session.exec(select(Escalation)).one()
        rows = session.exec(select(OutboxMessage)).all()
        kinds = sorted((row.recipient, row.kind) for row in rows)
    assert enquiry.status == "escalated"
    assert escalation.reason == "unreachable"
    assert kinds == [("association", "escalated"), ("coordinators", "card")]
    [reply] = _replies(engine)
    assert enquiry.reference is not None and enquiry.reference in reply
    assert "kan inte nås just nu" in reply
    assert "Jag har skickat" not in reply
