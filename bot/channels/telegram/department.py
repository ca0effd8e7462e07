"""Handlers for department staff: Answer and Not ours buttons, and answers given as replies."""

from __future__ import annotations

import logging

from telegram import ForceReply, Update

from bot.channels.telegram.common import Context, kick_outbox, services
from bot.messages import choices as callbacks
from bot.messages.texts import t
from db import crud
from db import queue as coordinator_queue
from db.models import Enquiry, OutboxMessage, StaffRole, utcnow
from db.session import session_scope
from db.workflow import (
    WorkflowError,
    answer_enquiry,
    find_by_message,
    may_answer_for_department,
    not_ours,
)

log = logging.getLogger(__name__)


def record_prompt(
    context: Context,
    *,
    chat_id: int,
    message_id: int,
    text: str,
    enquiry_id: int | None,
    escalation_id: int | None,
) -> None:
    """Remember a sent 'reply to this message' prompt, so the reply finds its enquiry."""
    with session_scope(services(context).engine) as session:
        session.add(
            OutboxMessage(
                chat_id=chat_id,
                text=text,
                purpose="prompt",
                enquiry_id=enquiry_id,
                escalation_id=escalation_id,
                sent_at=utcnow(),
                telegram_message_id=message_id,
            )
        )


def refused(update: Update, action: str) -> None:
    """Log a refused staff action with the numeric user id."""
    user = update.effective_user
    chat = update.effective_chat
    log.warning(
        "Refused %s for Telegram user %s in chat %s (missing role)",
        action,
        user.id if user else None,
        chat.id if chat else None,
    )


async def department_button(update: Update, context: Context) -> None:
    """Handle a department's Answer or Not ours button on a forwarded enquiry."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    parsed = callbacks.parse(query.data)
    if parsed is None or parsed.kind != "dept":
        await query.answer(t("button_invalid", "sv"))
        return
    svc = services(context)
    user_id = update.effective_user.id
    with session_scope(svc.engine) as session:
        enquiry = session.get(Enquiry, parsed.object_id)
        if enquiry is None:
            await query.answer(t("button_invalid", "sv"))
            return
        if not may_answer_for_department(
            session=session, enquiry=enquiry, telegram_user_id=user_id
        ):
            refused(update, f"dept:{parsed.action}")
            await query.answer(t("not_allowed", "sv"), show_alert=True)
            return
        reference = enquiry.reference
        if parsed.action == "notours":
            try:
                not_ours(
                    session=session,
                    enquiry=enquiry,
                    actor=f"staff:{user_id}",
                    coordinator_chat_id=svc.settings.coordinator_chat_id,
                )
            except WorkflowError:
                await query.answer(t("wf_already_handled", "sv"))
                return
    if parsed.action == "notours":
        await query.answer()
        await query.edit_message_reply_markup(None)
        assert query.message is not None
        await context.bot.send_message(
            query.message.chat.id, t("wf_dept_not_ours_done", "sv", reference=reference)
        )
        kick_outbox(context)
        return
    await query.answer()
    assert query.message is not None
    prompt = t("wf_dept_answer_prompt", "sv", reference=reference)
    sent = await context.bot.send_message(
        query.message.chat.id, prompt, reply_markup=ForceReply(selective=True)
    )
    record_prompt(
        context,
        chat_id=sent.chat.id,
        message_id=sent.message_id,
        text=prompt,
        enquiry_id=parsed.object_id,
        escalation_id=None,
    )


async def staff_reply(update: Update, context: Context) -> None:
    """Relay a staff member's reply to a forwarded enquiry or a queue card to the association."""
    message = update.message
    assert message is not None and message.reply_to_message is not None
    assert update.effective_user is not None and message.text is not None
    svc = services(context)
    user_id = update.effective_user.id
    with session_scope(svc.engine) as session:
        enquiry, escalation = find_by_message(
            session=session, chat_id=message.chat.id, message_id=message.reply_to_message.message_id
        )
        if enquiry is None:
            return
        reference = enquiry.reference
        try:
            if escalation is not None:
                if not crud.has_role(
                    session=session, telegram_user_id=user_id, roles={StaffRole.COORDINATOR}
                ):
                    refused(update, "queue answer")
                    await message.reply_text(t("not_allowed", "sv"))
                    return
                assert escalation.id is not None
                coordinator_queue.answer(
                    session=session,
                    escalation_id=escalation.id,
                    text=message.text,
                    staff_user_id=user_id,
                )
            else:
                if not may_answer_for_department(
                    session=session, enquiry=enquiry, telegram_user_id=user_id
                ):
                    refused(update, "department answer")
                    await message.reply_text(t("not_allowed", "sv"))
                    return
                answer_enquiry(
                    session=session, enquiry=enquiry, text=message.text, actor=f"staff:{user_id}"
                )
        except WorkflowError as exc:
            await message.reply_text(str(exc))
            return
    await message.reply_text(t("wf_dept_answer_sent", "sv", reference=reference))
    kick_outbox(context)


async def unknown_button(update: Update, context: Context) -> None:
    """Answer a button press the bot does not know, changing nothing."""
    query = update.callback_query
    assert query is not None
    log.info("Unknown callback data %r", query.data)
    await query.answer(t("button_invalid", "sv"))


async def redeem_invite_code(update: Update, context: Context, code: str) -> bool:
    """Redeem a staff invitation from a /start deep link; return whether it was one."""
    from db.staff import redeem_invite

    user = update.effective_user
    chat = update.effective_chat
    assert user is not None and chat is not None
    if len(code) < 16:
        return False
    with session_scope(services(context).engine) as session:
        member = redeem_invite(
            session=session, code=code, telegram_user_id=user.id, name=user.full_name
        )
        role = member.role if member else None
    text = t("invite_ok", "sv", role=role) if role else t("invite_invalid", "sv")
    await context.bot.send_message(chat.id, text)
    return True
