"""Handlers for department staff: Answer and Not ours buttons, and answers given as replies."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session
from telegram import ForceReply, Update

from bot.channels.telegram.common import (
    STAFF_LANGUAGE,
    Context,
    kick_outbox,
    refused,
    run_db,
    staff_person_id,
)
from bot.i18n import translate
from bot.messages import choices
from bot.messages.department import (
    already_handled,
    answer_prompt,
    answer_sent,
    button_invalid,
    not_allowed,
    not_ours_done,
)
from db.enquiries import crud
from db.enquiries import queue as coordinator_queue
from db.enquiries.notifications import Channel, Recipient, record_prompt
from db.enquiries.workflow import (
    WorkflowError,
    answer_enquiry,
    find_by_message,
    may_answer_for_department,
    not_ours,
)
from db.models import Enquiry, StaffRole

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What a staff action did: a text to show, and the action refused for lack of a role."""

    text: str | None = None
    refused: str | None = None
    reference: str | None = None


async def remember_prompt(
    context: Context,
    *,
    chat_id: int,
    message_id: int,
    recipient: Recipient,
    enquiry_id: int | None,
    escalation_id: int | None,
) -> None:
    """Remember a sent 'reply to this message' prompt, so the reply finds its enquiry."""

    def work(session: Session) -> None:
        recipient_id = None
        if recipient == Recipient.DEPARTMENT and enquiry_id is not None:
            enquiry = session.get(Enquiry, enquiry_id)
            recipient_id = enquiry.department_id if enquiry else None
        record_prompt(
            session=session,
            recipient=recipient,
            recipient_id=recipient_id,
            address=str(chat_id),
            external_id=str(message_id),
            enquiry_id=enquiry_id,
            escalation_id=escalation_id,
        )

    await run_db(context, work)


async def department_button(update: Update, context: Context) -> None:
    """Handle a department's Answer or Not ours button on a forwarded enquiry."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    parsed = choices.parse(query.data)
    if parsed is None or parsed.kind != "dept" or query.message is None:
        await query.answer(button_invalid(STAFF_LANGUAGE))
        return
    user_id = update.effective_user.id
    chat_id = query.message.chat.id

    def act(session: Session) -> Outcome:
        enquiry = session.get(Enquiry, parsed.object_id)
        if enquiry is None:
            return Outcome(button_invalid(STAFF_LANGUAGE))
        person_id = staff_person_id(session, user_id)
        if not may_answer_for_department(session=session, enquiry=enquiry, person_id=person_id):
            return Outcome(not_allowed(STAFF_LANGUAGE), refused=f"dept:{parsed.action}")
        if parsed.action == "notours":
            try:
                not_ours(session=session, enquiry=enquiry, actor=f"staff:{person_id}")
            except WorkflowError:
                return Outcome(already_handled(STAFF_LANGUAGE))
        return Outcome(reference=enquiry.reference)

    outcome = await run_db(context, act)
    if outcome.refused:
        refused(update, outcome.refused)
        await query.answer(outcome.text, show_alert=True)
        return
    if outcome.reference is None:
        await query.answer(outcome.text)
        return
    await query.answer()
    if parsed.action == "notours":
        await query.edit_message_reply_markup(None)
        await context.bot.send_message(chat_id, not_ours_done(STAFF_LANGUAGE, outcome.reference))
        kick_outbox(context)
        return
    sent = await context.bot.send_message(
        chat_id,
        answer_prompt(STAFF_LANGUAGE, outcome.reference),
        reply_markup=ForceReply(selective=True),
    )
    await remember_prompt(
        context,
        chat_id=sent.chat.id,
        message_id=sent.message_id,
        recipient=Recipient.DEPARTMENT,
        enquiry_id=parsed.object_id,
        escalation_id=None,
    )


async def staff_reply(update: Update, context: Context) -> None:
    """Relay a staff member's reply to a forwarded enquiry or a queue card to the association."""
    message = update.message
    assert message is not None and message.reply_to_message is not None
    assert update.effective_user is not None and message.text is not None
    user_id = update.effective_user.id
    text = message.text
    chat_id, replied_to = message.chat.id, message.reply_to_message.message_id

    def act(session: Session) -> Outcome | None:
        enquiry, escalation = find_by_message(
            session=session,
            channel=Channel.TELEGRAM,
            address=str(chat_id),
            external_id=str(replied_to),
        )
        if enquiry is None:
            return None
        person_id = staff_person_id(session, user_id)
        try:
            if escalation is not None:
                if person_id is None or not crud.has_role(
                    session=session, person_id=person_id, roles={StaffRole.COORDINATOR}
                ):
                    return Outcome(not_allowed(STAFF_LANGUAGE), refused="queue answer")
                assert escalation.id is not None
                coordinator_queue.answer(
                    session=session, escalation_id=escalation.id, text=text, staff_user_id=person_id
                )
            else:
                if not may_answer_for_department(
                    session=session, enquiry=enquiry, person_id=person_id
                ):
                    return Outcome(not_allowed(STAFF_LANGUAGE), refused="department answer")
                answer_enquiry(
                    session=session, enquiry=enquiry, text=text, actor=f"staff:{person_id}"
                )
        except WorkflowError as exc:
            return Outcome(translate(STAFF_LANGUAGE, exc.phrase))
        return Outcome(answer_sent(STAFF_LANGUAGE, enquiry.reference or ""))

    outcome = await run_db(context, act)
    if outcome is None:
        return
    if outcome.refused:
        refused(update, outcome.refused)
    if outcome.text:
        await message.reply_text(outcome.text)
    kick_outbox(context)


async def unknown_button(update: Update, context: Context) -> None:
    """Answer a button press the bot does not know, changing nothing."""
    query = update.callback_query
    assert query is not None
    log.info("Unknown callback data %r", query.data)
    await query.answer(button_invalid(STAFF_LANGUAGE))
