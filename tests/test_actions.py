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

COORDINATOR_CHAT = -100555


def _context(engine: Engine) -> ActionContext:
    settings = Settings(
        database_url=str(engine.url.render_as_string(hide_password=False)),
        coordinator_chat_id=COORDINATOR_CHAT,
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
    assert enquiry.status == "routed"
    assert enquiry.reference is not None and enquiry.reference.startswith("LOT-")
    assert [e.kind for e in events] == ["received", "routed"]
    assert enquiry.sla_due_at is not None
    text = messages[0]["text"]
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
    assert first[0]["text"] == second[0]["text"]


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
        cards = session.exec(select(OutboxMessage).where(OutboxMessage.purpose == "card")).all()
    assert enquiry.status == "escalated"
    assert escalation.reason == "unsure"
    assert [c.chat_id for c in cards] == [COORDINATOR_CHAT]
    assert enquiry.reference in messages[0]["text"]
    assert "samordnare" in messages[0]["text"]


async def test_ask_human_is_escalated_as_human(engine: Engine) -> None:
    action = ActionHandleEnquiry(_context(engine))
    tracker = _tracker("I want to talk to a person", [("ask_human", 0.95)], language="en")
    messages = await _run(action, tracker)
    with Session(engine) as session:
        escalation = session.exec(select(Escalation)).one()
    assert escalation.reason == "human"
    assert "coordinator" in messages[0]["text"]


async def test_smalltalk_makes_no_enquiry(engine: Engine) -> None:
    messages = await _run(ActionSmalltalk(_context(engine)), _tracker("hej", [("greet", 0.99)]))
    with Session(engine) as session:
        assert session.exec(select(Enquiry)).all() == []
    assert messages[0]["text"].startswith("Hej")


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
    own = await _run(
        ActionEnquiryStatus(context),
        _tracker(
            f"Hur går det med {reference}?", [("ask_status", 0.9)], user_id=1, entities=entity
        ),
    )
    other = await _run(
        ActionEnquiryStatus(context),
        _tracker(
            f"Hur går det med {reference}?", [("ask_status", 0.9)], user_id=2, entities=entity
        ),
    )
    assert reference in own[0]["text"]
    assert "väntar på svar" in own[0]["text"]
    assert "hittar inget ärende" in other[0]["text"]


async def test_question_guessed_as_small_talk_is_routed_as_an_enquiry(engine: Engine) -> None:
    text = "Kan vår förening få bidrag för att hyra en lokal till sommarens läger?"
    tracker = _tracker(text, [("affirm", 0.4), ("topic_bidrag", 0.35), ("topic_lokalbokning", 0.2)])
    messages = await _run(ActionSmalltalk(_context(engine)), tracker)
    with Session(engine) as session:
        enquiry = session.exec(select(Enquiry)).one()
    assert enquiry.status == "routed"
    assert enquiry.intent == "affirm"
    assert enquiry.reference is not None and enquiry.reference in messages[0]["text"]


async def test_question_guessed_as_status_is_escalated_as_an_enquiry(engine: Engine) -> None:
    text = "Var och när kan mina äldre föräldrar vaccinera sig mot influensa i höst?"
    tracker = _tracker(text, [("ask_status", 0.62), ("topic_bidrag", 0.1)])
    messages = await _run(ActionEnquiryStatus(_context(engine)), tracker)
    with Session(engine) as session:
        enquiry = session.exec(select(Enquiry)).one()
        escalation = session.exec(select(Escalation)).one()
    assert enquiry.status == "escalated"
    assert escalation.reason == "unsure"
    assert enquiry.reference is not None and enquiry.reference in messages[0]["text"]
