"""Feedback on Telegram end to end (real bot, real Rasa stack, fake Telegram server): one tap
under the answer, then the next text is an optional comment (masked, kept with the feedback,
never a new question), or the skip button ends the wait."""

from __future__ import annotations

import pytest
from sqlmodel import select

from db.models import Feedback
from db.plumbing.session import session_scope
from harness.telegram import Harness, ask, buttons, has, new_group_id, new_user_id
from tests.test_telegram import KULTUR_QUESTION, forwarded

pytestmark = pytest.mark.usefixtures("no_handler_errors")


async def _answered(
    h: Harness, user: int, dept_chat: int, clerk: int, text: str
) -> tuple[dict, int]:  # type: ignore[type-arg]
    _, enquiry_id = await ask(h, user, text)
    forward = await forwarded(h, dept_chat, enquiry_id)
    mark = h.mark()
    h.fake.user_message(
        clerk,
        "Ansök i e-tjänsten senast 25 augusti.",
        chat_id=dept_chat,
        chat_type="supergroup",
        reply_to_message_id=forward["message_id"],
    )
    answer = await h.message_to(user, has("25 augusti"), after=mark)
    return answer, enquiry_id


async def test_one_tap_then_the_next_text_is_the_comment(harness: Harness) -> None:
    h, fake = harness, harness.fake
    user, clerk = new_user_id(), new_user_id()
    h.add_staff(clerk, "staff", "kultur_fritid")
    with h.department_chat("kultur_fritid", new_group_id()) as dept_chat:
        answer, enquiry_id = await _answered(h, user, dept_chat, clerk, KULTUR_QUESTION)
        mark = h.mark()
        fake.callback(user, f"fb:{enquiry_id}:y", message_id=answer["message_id"])
        await h.message_to(user, has("avslutat"), after=mark)
        asked = await h.message_to(user, has("kommentar"), after=mark)
        with session_scope(h.engine) as session:
            [given] = session.exec(select(Feedback).where(Feedback.enquiry_id == enquiry_id)).all()
            assert given.helpful is True and given.channel == "telegram"
            feedback_id = given.id
        assert buttons(asked) == [f"fb:{feedback_id}:s"]
        before = len(h.enquiries_of(user))
        mark = h.mark()
        fake.user_message(user, "Bra och snabbt svar! Ring mig gärna på 070-123 45 67.")
        await h.message_to(user, has("Tack för din kommentar"), after=mark)
        assert len(h.enquiries_of(user)) == before  # a comment, not a new question
        with session_scope(h.engine) as session:
            given = session.get(Feedback, feedback_id)
            assert given is not None and given.comment is not None
            assert "Bra och snabbt svar" in given.comment and "070" not in given.comment


async def test_the_skip_button_ends_the_wait_and_the_next_text_is_a_question(
    harness: Harness,
) -> None:
    h, fake = harness, harness.fake
    user, clerk = new_user_id(), new_user_id()
    h.add_staff(clerk, "staff", "kultur_fritid")
    with h.department_chat("kultur_fritid", new_group_id()) as dept_chat:
        answer, enquiry_id = await _answered(h, user, dept_chat, clerk, KULTUR_QUESTION)
        mark = h.mark()
        fake.callback(user, f"fb:{enquiry_id}:n", message_id=answer["message_id"])
        asked = await h.message_to(user, has("kommentar"), after=mark)
        [skip] = buttons(asked)
        press = fake.callback(user, skip, message_id=asked["message_id"])
        await h.callback_answer(press)
        with session_scope(h.engine) as session:
            [given] = session.exec(select(Feedback).where(Feedback.enquiry_id == enquiry_id)).all()
            assert given.helpful is False and given.comment is None
        before = len(h.enquiries_of(user))
        await ask(h, user, KULTUR_QUESTION + " Och för lokalbidrag?")
        assert len(h.enquiries_of(user)) == before + 1
        with session_scope(h.engine) as session:
            given = session.exec(select(Feedback).where(Feedback.enquiry_id == enquiry_id)).one()
            assert given.comment is None
