"""End-to-end tests of the Telegram bot: real bot, real Rasa stack, fake Telegram server."""

from __future__ import annotations

import logging
import time
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.i18n import LANGUAGES
from bot.settings import Settings
from db.enquiries import queue as coordinator_queue
from db.models import (
    Association,
    EnquiryStatus,
    EscalationReason,
    EventKind,
    InboxUpdate,
    OutboxMessage,
)
from db.plumbing.session import session_scope
from harness.fake_telegram import FakeTelegram
from harness.ports import free_port
from harness.telegram import (
    COORDINATOR_CHAT,
    TIMEOUT,
    Harness,
    ask,
    bot_settings,
    buttons,
    has,
    new_group_id,
    new_user_id,
    running_bot,
)

pytestmark = pytest.mark.usefixtures("no_handler_errors")

KULTUR_QUESTION = "Hur söker vår förening aktivitetsstöd?"
FOOD_QUESTION = "Vi vill sälja hamburgare på vår marknad, behöver vi registrera livsmedel?"
JOKE = "Tell me a joke about cats"
KULTUR = "Kultur- och fritidsförvaltningen"
KULTUR_EMAIL = "foreningsservice@storasa.example"


async def forwarded(h: Harness, chat_id: int, enquiry_id: int) -> dict[str, Any]:
    """Wait for the enquiry's forward in the department chat."""
    return await h.message_to(
        chat_id, lambda m: f"dept:answer:{enquiry_id}" in buttons(m), timeout=TIMEOUT
    )


async def card_for(h: Harness, reference: str, *, after: int = 0) -> dict[str, Any]:
    """Wait for the coordinator card of an enquiry."""
    return await h.message_to(
        COORDINATOR_CHAT,
        lambda m: reference in m["text"] and any(b.startswith("q:") for b in buttons(m)),
        after=after,
    )


# ---------------------------------------------------------------------- 1. the whole first visit


async def test_first_conversation_routes_and_forwards(harness: Harness) -> None:
    h, fake = harness, harness.fake
    user = new_user_id()
    with h.department_chat("kultur_fritid", new_group_id()) as dept_chat:
        start = fake.command(user, "/start")
        welcome = await h.message_to(user, has("Storåsa kommun"))
        assert buttons(welcome) == [f"lang:{code}" for code in LANGUAGES]
        await h.processed(start)

        mark = h.mark()
        fake.callback(user, "lang:en", message_id=welcome["message_id"])
        await h.message_to(user, has("I will now write in English."), after=mark)
        await h.message_to(user, has("Which association"), after=mark)
        mark = h.mark()
        fake.callback(user, "lang:sv", message_id=welcome["message_id"])
        await h.message_to(user, has("Nu skriver jag på svenska."), after=mark)
        assert len(fake.calls("answerCallbackQuery")) >= 2

        mark = h.mark()
        fake.user_message(user, "IF Storåsa Bandy, 802400-1234")
        await h.message_to(user, has("IF Storåsa Bandy"), after=mark)

        reply, enquiry_id = await ask(h, user, KULTUR_QUESTION)
        assert KULTUR in reply["text"]
        assert KULTUR_EMAIL in reply["text"]

        enquiry = h.enquiry(enquiry_id)
        assert enquiry.intent and enquiry.confidence is not None and enquiry.confidence > 0
        assert enquiry.department_id == h.department("kultur_fritid").id
        assert enquiry.reference and enquiry.reference.startswith("LOT-")
        assert enquiry.text == KULTUR_QUESTION
        with Session(h.engine) as session:
            association = session.get(Association, enquiry.association_id)
            assert association is not None
            assert (association.name, association.org_number) == ("IF Storåsa Bandy", "802400-1234")

        forward = await forwarded(h, dept_chat, enquiry_id)
        assert buttons(forward) == [f"dept:answer:{enquiry_id}", f"dept:notours:{enquiry_id}"]
        assert enquiry.reference in forward["text"] and KULTUR_QUESTION in forward["text"]
        assert "IF Storåsa Bandy" in forward["text"]
        await h.delivered()  # the forward is recorded as sent
        enquiry = h.enquiry(enquiry_id)
        assert enquiry.status == EnquiryStatus.FORWARDED
        with Session(h.engine) as session:
            sent = session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.enquiry_id == enquiry_id, OutboxMessage.kind == "forward"
                )
            ).one()
        assert (sent.address, sent.external_id) == (str(dept_chat), str(forward["message_id"]))
        kinds = [e.kind for e in h.events(enquiry_id)]
        assert kinds[:3] == [EventKind.RECEIVED, EventKind.ROUTED, EventKind.FORWARDED]


# ---------------------------------------------------------------------- 2. department answers


async def test_department_answers_by_reply_and_by_button_then_feedback(harness: Harness) -> None:
    h, fake = harness, harness.fake
    user, clerk = new_user_id(), new_user_id()
    h.add_staff(clerk, "staff", "kultur_fritid")
    with h.department_chat("kultur_fritid", new_group_id()) as dept_chat:
        _, first = await ask(h, user, KULTUR_QUESTION)
        forward = await forwarded(h, dept_chat, first)

        # a plain reply to the forwarded message
        mark = h.mark()
        fake.user_message(
            clerk,
            "Ansök i e-tjänsten senast 25 augusti.",
            chat_id=dept_chat,
            chat_type="supergroup",
            reply_to_message_id=forward["message_id"],
        )
        answer = await h.message_to(user, has("Ansök i e-tjänsten senast 25 augusti."), after=mark)
        assert buttons(answer) == [f"fb:{first}:y", f"fb:{first}:n"]
        await h.message_to(dept_chat, has("Svaret är skickat"), after=mark)
        enquiry = h.enquiry(first)
        assert enquiry.status == EnquiryStatus.ANSWERED
        assert enquiry.answer_text == "Ansök i e-tjänsten senast 25 augusti."
        assert enquiry.answered_by == f"staff:{h.staff_id(clerk)}"
        assert EventKind.ANSWERED in [e.kind for e in h.events(first)]

        # the Answer button: a ForceReply prompt, then a reply to the prompt
        _, second = await ask(h, user, KULTUR_QUESTION + " Och lokalbidrag?")
        forward2 = await forwarded(h, dept_chat, second)
        mark = h.mark()
        press = fake.callback(
            clerk, f"dept:answer:{second}", chat_id=dept_chat, message_id=forward2["message_id"]
        )
        await h.callback_answer(press)
        prompt = await h.message_to(dept_chat, has(h.enquiry(second).reference or "?"), after=mark)
        prompt_request = next(
            r.params
            for r in fake.requests[mark:]
            if r.method == "sendMessage" and r.response == prompt
        )
        assert prompt_request["reply_markup"].get("force_reply") is True
        mark = h.mark()
        fake.user_message(
            clerk,
            "Lokalbidrag söks separat.",
            chat_id=dept_chat,
            chat_type="supergroup",
            reply_to_message_id=prompt["message_id"],
        )
        answer2 = await h.message_to(user, has("Lokalbidrag söks separat."), after=mark)
        assert buttons(answer2) == [f"fb:{second}:y", f"fb:{second}:n"]
        assert h.enquiry(second).status == EnquiryStatus.ANSWERED

        # feedback: "No" reopens to the coordinator, "Yes" closes
        mark = h.mark()
        fake.callback(user, f"fb:{second}:n", message_id=answer2["message_id"])
        reference2 = h.enquiry(second).reference or "?"
        await card_for(h, reference2, after=mark)
        await h.message_to(user, has(reference2, "samordnare"), after=mark)
        enquiry = h.enquiry(second)
        assert enquiry.status == EnquiryStatus.ESCALATED and enquiry.helpful is False
        assert [e.reason for e in h.escalations(second)] == [EscalationReason.NOT_HELPED]
        assert EventKind.REOPENED in [e.kind for e in h.events(second)]

        mark = h.mark()
        fake.callback(user, f"fb:{first}:y", message_id=answer["message_id"])
        await h.message_to(user, has(h.enquiry(first).reference or "?", "avslutat"), after=mark)
        enquiry = h.enquiry(first)
        assert enquiry.status == EnquiryStatus.CLOSED and enquiry.helpful is True
        assert h.escalations(first) == []


# ---------------------------------------------------------------------- 3. not ours


async def test_not_ours_escalates_with_a_card(harness: Harness) -> None:
    h, fake = harness, harness.fake
    user, clerk = new_user_id(), new_user_id()
    h.add_staff(clerk, "staff", "kultur_fritid")
    with h.department_chat("kultur_fritid", new_group_id()) as dept_chat:
        _, enquiry_id = await ask(h, user, KULTUR_QUESTION)
        forward = await forwarded(h, dept_chat, enquiry_id)
        mark = h.mark()
        press = fake.callback(
            clerk, f"dept:notours:{enquiry_id}", chat_id=dept_chat, message_id=forward["message_id"]
        )
        await h.callback_answer(press)
        reference = h.enquiry(enquiry_id).reference or "?"
        card = await card_for(h, reference, after=mark)
        escalation = h.escalations(enquiry_id)[0]
        assert f"q:claim:{escalation.id}" in buttons(card)
        await h.message_to(dept_chat, has(reference), after=mark)
        assert escalation.reason == EscalationReason.NOT_OURS
        assert h.enquiry(enquiry_id).status == EnquiryStatus.ESCALATED
        assert "reply_markup" not in fake.message(dept_chat, forward["message_id"])


# ---------------------------------------------------------------------- 4. outsiders are refused


async def test_non_staff_cannot_use_department_buttons_or_reply(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h, fake = harness, harness.fake
    user, stranger, other_clerk = new_user_id(), new_user_id(), new_user_id()
    h.add_staff(other_clerk, "staff", "samhallsbyggnad")
    caplog.set_level(logging.WARNING, logger="bot.channels.telegram")
    with h.department_chat("kultur_fritid", new_group_id()) as dept_chat:
        _, enquiry_id = await ask(h, user, KULTUR_QUESTION)
        forward = await forwarded(h, dept_chat, enquiry_id)
        await h.delivered()  # every message about the question is out: its events are written
        events_before = len(h.events(enquiry_id))
        mark = h.mark()
        for who in (stranger, other_clerk):
            for action in ("answer", "notours"):
                press = fake.callback(
                    who,
                    f"dept:{action}:{enquiry_id}",
                    chat_id=dept_chat,
                    message_id=forward["message_id"],
                )
                refusal = await h.callback_answer(press)
                assert refusal.get("show_alert") is True
                assert "behörighet" in refusal.get("text", "")
        reply = fake.user_message(
            stranger,
            "Jag svarar ändå!",
            chat_id=dept_chat,
            chat_type="supergroup",
            reply_to_message_id=forward["message_id"],
        )
        await h.processed(reply)
        await h.message_to(dept_chat, has("behörighet"), after=mark)
        await h.settle()

        enquiry = h.enquiry(enquiry_id)
        assert enquiry.status == EnquiryStatus.FORWARDED
        assert enquiry.answer_text is None
        assert len(h.events(enquiry_id)) == events_before
        assert h.escalations(enquiry_id) == []
        assert h.sent_to(user, has("Jag svarar ändå!")) == []
        assert h.sent_to(COORDINATOR_CHAT, has(enquiry.reference or "?")) == []
        refusals = [r for r in caplog.records if "Refused" in r.getMessage()]
        assert len(refusals) == 5
        assert all(
            str(stranger) in r.getMessage() or str(other_clerk) in r.getMessage() for r in refusals
        )


# ---------------------------------------------------------------------- 5. language and /status


async def test_english_replies_and_status(harness: Harness) -> None:
    h, fake = harness, harness.fake
    user = new_user_id()
    fake.command(user, "/start")
    welcome = await h.message_to(user, lambda m: bool(buttons(m)))
    mark = h.mark()
    fake.callback(user, "lang:en", message_id=welcome["message_id"])
    await h.message_to(user, has("I will now write in English."), after=mark)
    mark = h.mark()
    fake.user_message(user, "Storåsa Schackklubb")
    await h.message_to(
        user, has("Thank you! I now know you write for Storåsa Schackklubb"), after=mark
    )

    reply, joke_id = await ask(h, user, JOKE)
    assert "coordinator" in reply["text"]
    _, kultur_id = await ask(h, user, KULTUR_QUESTION)

    mark = h.mark()
    fake.command(user, "/help")
    help_text = await h.message_to(user, after=mark)
    assert "/status" in help_text["text"]
    mark = h.mark()
    fake.command(user, "/status")
    status = await h.message_to(user, has("Your enquiries:"), after=mark)
    for enquiry_id in (joke_id, kultur_id):
        enquiry = h.enquiry(enquiry_id)
        assert enquiry.reference in status["text"]
    assert "Culture and Leisure" in status["text"]
    lines = status["text"].splitlines()
    joke_line = next(line for line in lines if (h.enquiry(joke_id).reference or "?") in line)
    assert "with the coordinator" in joke_line
    assert "How it works" in help_text["text"]
    assert h.enquiry(joke_id).status == EnquiryStatus.ESCALATED


# ---------------------------------------------------------------------- 6. photos, voice, ...


@pytest.mark.parametrize("kind", ["photo", "voice", "sticker", "document"])
async def test_non_text_gets_a_polite_answer_and_no_enquiry(harness: Harness, kind: str) -> None:
    h, fake = harness, harness.fake
    user = new_user_id()
    update = fake.non_text(user, kind)
    reply = await h.message_to(user, has("text"))
    assert reply["text"].startswith("Jag kan bara läsa text")
    await h.processed(update)
    assert h.enquiries_of(user) == []


async def test_photo_caption_becomes_the_question(harness: Harness) -> None:
    h, fake = harness, harness.fake
    user = new_user_id()
    fake.non_text(user, "photo", caption=KULTUR_QUESTION)
    await h.message_to(user, has("Jag kan bara läsa text"))
    reply = await h.message_to(user, has("LOT-"))
    (enquiry,) = h.enquiries_of(user)
    assert enquiry.text == KULTUR_QUESTION and enquiry.reference in reply["text"]
    assert KULTUR in reply["text"]


# ---------------------------------------------------------------------- 7. duplicates


async def test_duplicate_delivery_makes_one_enquiry(harness: Harness) -> None:
    h, fake = harness, harness.fake
    user = new_user_id()
    update = fake.user_message(user, FOOD_QUESTION)
    reply = await h.message_to(user, has("LOT-"))
    await h.processed(update)

    fake.duplicate(update)  # Telegram delivers the same update_id again
    await fake.wait_for("getUpdates", lambda p: True, timeout=TIMEOUT, new_only=True)
    await h.settle()
    assert len(h.sent_to(user, has("LOT-"))) == 1
    (enquiry,) = h.enquiries_of(user)
    with Session(h.engine) as session:
        assert session.get(InboxUpdate, update["update_id"]) is not None

    again = fake.push_update({"message": update["message"]})  # same message, new update id
    assert again["update_id"] != update["update_id"]
    await h.processed(again)  # handled, and every reply it queued was sent
    # One message, one reply (exactly once): the redelivered message is answered no second time.
    assert len(h.sent_to(user, has("LOT-"))) == 1
    assert enquiry.reference and enquiry.reference in reply["text"]
    assert [e.id for e in h.enquiries_of(user)] == [enquiry.id]
    assert [e.kind for e in h.events(enquiry.id or 0)].count(EventKind.RECEIVED) == 1


# ---------------------------------------------------------------------- 8. the coordinator


async def test_coordinator_claims_and_answers_from_the_card(harness: Harness) -> None:
    h, fake = harness, harness.fake
    user, boss, other = new_user_id(), new_user_id(), new_user_id()
    h.add_staff(boss, "coordinator", None)
    h.add_staff(other, "coordinator", None)
    _, enquiry_id = await ask(h, user, JOKE)
    reference = h.enquiry(enquiry_id).reference or "?"
    card = await card_for(h, reference)
    (escalation,) = h.escalations(enquiry_id)
    assert escalation.reason == EscalationReason.OUT_OF_SCOPE
    assert f"q:claim:{escalation.id}" in buttons(card)

    claim = fake.callback(
        boss, f"q:claim:{escalation.id}", chat_id=COORDINATOR_CHAT, message_id=card["message_id"]
    )
    claimed = await h.callback_answer(claim)
    assert reference in claimed.get("text", "")
    assert h.escalations(enquiry_id)[0].claimed_by == h.staff_id(boss)

    taken = fake.callback(
        other, f"q:claim:{escalation.id}", chat_id=COORDINATOR_CHAT, message_id=card["message_id"]
    )
    refusal = await h.callback_answer(taken)
    assert "redan taget" in refusal.get("text", "")
    assert h.escalations(enquiry_id)[0].claimed_by == h.staff_id(boss)

    mark = h.mark()
    press = fake.callback(
        boss, f"q:answer:{escalation.id}", chat_id=COORDINATOR_CHAT, message_id=card["message_id"]
    )
    await h.callback_answer(press)
    prompt = await h.message_to(COORDINATOR_CHAT, has(reference), after=mark)
    mark = h.mark()
    fake.user_message(
        boss,
        "Vi berättar inga skämt, men fråga gärna om föreningsbidrag!",
        chat_id=COORDINATOR_CHAT,
        chat_type="supergroup",
        reply_to_message_id=prompt["message_id"],
    )
    answer = await h.message_to(user, has("Vi berättar inga skämt"), after=mark)
    assert buttons(answer) == [f"fb:{enquiry_id}:y", f"fb:{enquiry_id}:n"]
    enquiry = h.enquiry(enquiry_id)
    assert enquiry.status == EnquiryStatus.ANSWERED
    assert enquiry.answered_by == f"staff:{h.staff_id(boss)}"
    assert h.escalations(enquiry_id)[0].resolved_at is not None
    kinds = [e.kind for e in h.events(enquiry_id)]
    assert EventKind.CLAIMED in kinds and EventKind.ANSWERED in kinds


# ---------------------------------------------------------------------- 9. flood control


async def test_outbox_waits_out_a_429_and_sends_once(harness: Harness) -> None:
    h, fake = harness, harness.fake
    user, boss = new_user_id(), new_user_id()
    h.add_staff(boss, "coordinator", None)
    _, enquiry_id = await ask(h, user, JOKE)
    reference = h.enquiry(enquiry_id).reference or "?"
    await card_for(h, reference)
    await h.settle()
    (escalation,) = h.escalations(enquiry_id)
    assert escalation.id is not None

    mark = h.mark()
    fake.fail_next("sendMessage", 429, retry_after=1)
    text = "Svar från samordnaren via kommandoraden."
    with session_scope(h.engine) as session:  # e.g. `lotsen queue answer`: queued, not sent
        coordinator_queue.answer(
            session=session, escalation_id=escalation.id, text=text, staff_user_id=h.staff_id(boss)
        )
    delivered = await h.message_to(user, has(text), after=mark)
    await h.delivered()  # the answer is recorded as sent: no further attempt comes
    attempts = [r for r in fake.requests[mark:] if r.method == "sendMessage"]
    assert [r.status for r in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0
    assert len(h.sent_to(user, has(text))) == 1
    with Session(h.engine) as session:
        row = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.enquiry_id == enquiry_id, OutboxMessage.kind == "answer"
            )
        ).one()
        assert row.sent_at is not None and row.external_id == str(delivered["message_id"])


# ---------------------------------------------------------------------- 10. webhook mode


async def test_webhook_checks_the_secret_and_processes_updates(
    bare: tuple[FakeTelegram, Engine], rasa_stack: Settings
) -> None:
    fake, engine = bare
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    settings = bot_settings(
        rasa_stack,
        fake,
        telegram_mode="webhook",
        webhook_url=url,
        webhook_secret=SecretStr("s3cret-" + "x" * 20),
        webhook_listen="127.0.0.1",
        webhook_port=port,
    )
    h = Harness(fake=fake, settings=settings, engine=engine)
    user = new_user_id()
    async with running_bot(settings):
        hook = await fake.wait_for("setWebhook", timeout=TIMEOUT)
        assert hook["url"] == url and hook["secret_token"] == "s3cret-" + "x" * 20
        forged = {
            "update_id": 990_000_001,
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": user, "type": "private"},
                "from": {"id": user, "is_bot": False, "first_name": "Eve"},
                "text": KULTUR_QUESTION,
            },
        }
        async with aiohttp.ClientSession() as client:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with client.post(url, json=forged, headers=headers) as response:
                    assert response.status == 403
        with Session(engine) as session:
            assert session.get(InboxUpdate, 990_000_001) is None
        assert h.enquiries_of(user) == []

        update = fake.user_message(user, KULTUR_QUESTION)
        reply = await h.message_to(user, has("LOT-"))
        await h.processed(update)
        (enquiry,) = h.enquiries_of(user)
        assert enquiry.reference in reply["text"]
        assert any(d["status"] == 200 for d in fake.webhook_deliveries)
        assert fake.calls("getUpdates") == []


# ---------------------------------------------------------------------- 11. Rasa down


async def test_rasa_down_still_registers_the_enquiry(
    bare: tuple[FakeTelegram, Engine], rasa_stack: Settings
) -> None:
    fake, engine = bare
    settings = bot_settings(rasa_stack, fake, rasa_url=f"http://127.0.0.1:{free_port()}")
    h = Harness(fake=fake, settings=settings, engine=engine)
    user = new_user_id()
    async with running_bot(settings):
        await fake.wait_for("getUpdates", timeout=TIMEOUT)
        reply, enquiry_id = await ask(h, user, KULTUR_QUESTION)
        enquiry = h.enquiry(enquiry_id)
        assert enquiry.status == EnquiryStatus.ESCALATED
        assert enquiry.text == KULTUR_QUESTION
        assert [e.reason for e in h.escalations(enquiry_id)] == [EscalationReason.UNAVAILABLE]
        assert "samordnare" in reply["text"]
        await card_for(h, enquiry.reference or "?")


# ---------------------------------------------------------------------- 12. very long messages


async def test_very_long_message_is_stored_whole(harness: Harness) -> None:
    h, fake = harness, harness.fake
    user = new_user_id()
    text = " ".join([KULTUR_QUESTION] * 120)
    assert len(text) > 4000
    with h.department_chat("kultur_fritid", new_group_id()) as dept_chat:
        mark = h.mark()
        fake.user_message(user, text)
        note = await h.message_to(user, has("mycket långt"), after=mark)
        assert str(len(text)) in note["text"]
        reply = await h.message_to(user, has("LOT-"), after=mark)
        (enquiry,) = h.enquiries_of(user)
        assert enquiry.text == text
        assert enquiry.reference in reply["text"]
        assert KULTUR in reply["text"]
        assert enquiry.id is not None and enquiry.department_id == h.department("kultur_fritid").id
        forward = await forwarded(h, dept_chat, enquiry.id)
        assert enquiry.reference in forward["text"] and KULTUR_QUESTION in forward["text"]
        assert len(forward["text"]) <= 4096
