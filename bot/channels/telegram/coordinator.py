"""Handlers for the coordinator's queue: /queue and the buttons on escalation cards."""

from __future__ import annotations

import logging

from telegram import ForceReply, Update
from telegram.error import BadRequest

from bot.channels.telegram.common import Context, kick_outbox, markup_from_dict, services
from bot.channels.telegram.department import record_prompt, refused
from bot.messages import choices as callbacks
from bot.messages.cards import close_picker, reason_text, render_card, route_picker
from bot.messages.texts import t
from db import crud
from db import queue as coordinator_queue
from db.models import Escalation, StaffRole
from db.session import session_scope

log = logging.getLogger(__name__)
MAX_LISTED = 30


def _is_coordinator(context: Context, user_id: int) -> bool:
    with session_scope(services(context).engine) as session:
        return crud.has_role(
            session=session, telegram_user_id=user_id, roles={StaffRole.COORDINATOR}
        )


async def queue_command(update: Update, context: Context) -> None:
    """List open escalations oldest first: /queue [unclaimed|mine|<department key>]."""
    message = update.message
    user = update.effective_user
    if message is None or user is None:
        return
    if not _is_coordinator(context, user.id):
        refused(update, "/queue")
        await message.reply_text(t("not_allowed", "sv"))
        return
    argument = (context.args or ["all"])[0].lower()
    filter_ = argument if argument in {"all", "unclaimed", "mine"} else "all"
    department = None if argument in {"all", "unclaimed", "mine"} else argument
    with session_scope(services(context).engine) as session:
        try:
            items = coordinator_queue.list_queue(
                session=session,
                filter=filter_,
                staff_user_id=user.id,
                department_key=department,
            )
        except coordinator_queue.QueueError as exc:
            await message.reply_text(str(exc))
            return
        if not items:
            await message.reply_text(t("queue_empty", "sv"))
            return
        lines = [t("queue_header", "sv", count=len(items))]
        for item in items[:MAX_LISTED]:
            hours = item.waited.total_seconds() / 3600
            marker = " ★" if item.rarely_in_contact else ""
            holder = (
                f" – {item.claimed_by_name or item.escalation.claimed_by}"
                if item.escalation.claimed_by
                else ""
            )
            lines.append(
                f"#{item.escalation.id} {item.enquiry.reference} · "
                f"{item.association or '–'}{marker}"
                f" · {hours:.0f} h · {reason_text(item)}{holder}"
            )
    await message.reply_text("\n".join(lines))


async def _refresh_card(
    context: Context, chat_id: int, message_id: int, escalation_id: int
) -> None:
    with session_scope(services(context).engine) as session:
        escalation = session.get(Escalation, escalation_id)
        if escalation is None:
            return
        text, keyboard = render_card(session=session, escalation=escalation)
        if escalation.resolved_at is not None:
            keyboard = {}
    try:
        await context.bot.edit_message_text(
            text, chat_id=chat_id, message_id=message_id, reply_markup=markup_from_dict(keyboard)
        )
    except BadRequest as exc:  # e.g. "message is not modified"
        log.debug("Card not refreshed: %s", exc)


async def queue_button(update: Update, context: Context) -> None:
    """Claim, answer, route or close an escalation from its card (coordinators only)."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    parsed = callbacks.parse(query.data)
    if parsed is None or parsed.kind != "q" or query.message is None:
        await query.answer(t("button_invalid", "sv"))
        return
    user_id = update.effective_user.id
    if not _is_coordinator(context, user_id):
        refused(update, f"q:{parsed.action}")
        await query.answer(t("not_allowed", "sv"), show_alert=True)
        return
    chat_id, message_id = query.message.chat.id, query.message.message_id
    escalation_id = parsed.object_id
    notice = ""
    with session_scope(services(context).engine) as session:
        try:
            escalation = coordinator_queue.open_escalation(
                session=session, escalation_id=escalation_id
            )
            enquiry_reference = crud.enquiry_reference_for(session=session, escalation=escalation)
            if parsed.action == "claim":
                result = coordinator_queue.claim(
                    session=session, escalation_id=escalation_id, staff_user_id=user_id
                )
                notice = (
                    t("q_claimed", "sv", reference=enquiry_reference)
                    if result.ok
                    else t("q_claimed_by_other", "sv", who=result.holder_name or result.holder)
                )
            elif parsed.action == "route":
                keyboard = route_picker(session=session, escalation_id=escalation_id)
                await query.answer()
                await query.edit_message_reply_markup(markup_from_dict(keyboard))
                return
            elif parsed.action == "close":
                await query.answer()
                await query.edit_message_reply_markup(markup_from_dict(close_picker(escalation_id)))
                return
            elif parsed.action == "to" and parsed.value:
                routed = coordinator_queue.route(
                    session=session,
                    escalation_id=escalation_id,
                    department_key=parsed.value,
                    staff_user_id=user_id,
                )
                notice = t(
                    "q_routed", "sv", reference=enquiry_reference, department=routed.department.name
                )
            elif parsed.action == "why" and parsed.value:
                coordinator_queue.close(
                    session=session,
                    escalation_id=escalation_id,
                    reason_code=parsed.value,
                    staff_user_id=user_id,
                )
                notice = t("q_closed", "sv", reference=enquiry_reference)
            elif parsed.action != "answer":
                await query.answer(t("button_invalid", "sv"))
                return
        except coordinator_queue.QueueError as exc:
            await query.answer(str(exc)[:190], show_alert=True)
            return
    if parsed.action == "answer":
        await query.answer()
        prompt = t("q_answer_prompt", "sv", reference=enquiry_reference)
        sent = await context.bot.send_message(
            chat_id, prompt, reply_markup=ForceReply(selective=True)
        )
        record_prompt(
            context,
            chat_id=chat_id,
            message_id=sent.message_id,
            text=prompt,
            enquiry_id=None,
            escalation_id=escalation_id,
        )
        return
    await query.answer(notice[:190])
    await _refresh_card(context, chat_id, message_id, escalation_id)
    kick_outbox(context)
