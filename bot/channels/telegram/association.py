"""Handlers for associations: first contact, commands, questions and feedback."""

from __future__ import annotations

import logging

from telegram import Update

from bot.channels.telegram.common import Context, conversation, kick_outbox, send_replies, services
from bot.conversation import Reply, language_buttons
from bot.messages import choices as callbacks
from bot.messages.texts import t
from db.session import session_scope
from db.workflow import WorkflowError, record_feedback

log = logging.getLogger(__name__)


def _ids(update: Update) -> tuple[int, int]:
    assert update.effective_user is not None and update.effective_chat is not None
    return update.effective_user.id, update.effective_chat.id


async def _within_rate_limit(update: Update, context: Context, user_id: int, chat_id: int) -> bool:
    """Tell whether the user may go on; the first refusal of a flood gets one polite notice.

    The rate is measured by when the user sent the messages (Telegram's date), not by when we
    process them: a flood handled slowly is still a flood, and a backlog after downtime is not.
    """
    message = update.effective_message
    sent = message.date.timestamp() if message is not None and message.date else None
    verdict = context.bot_data["rate_limiter"].check(user_id, sent)
    if verdict == "ok":
        return True
    log.info("Rate limit for Telegram user %s: %s", user_id, verdict)
    if verdict == "notify":
        language = conversation(context).user_language(user_id=user_id, chat_id=chat_id)
        await send_replies(context, chat_id, [Reply(t("rate_limited", language))])
    return False


async def start(update: Update, context: Context) -> None:
    """Greet the user, offer the language choice and ask which association they speak for."""
    user_id, chat_id = _ids(update)
    if context.args:
        from bot.channels.telegram.department import redeem_invite_code

        if await redeem_invite_code(update, context, context.args[0]):
            return
    reply = conversation(context).start(user_id=user_id, chat_id=chat_id)
    await send_replies(context, chat_id, [reply])


async def help_command(update: Update, context: Context) -> None:
    """Explain how the bot works and list the commands."""
    user_id, chat_id = _ids(update)
    language = conversation(context).user_language(user_id=user_id, chat_id=chat_id)
    await send_replies(context, chat_id, [Reply(t("help", language))])


async def language_command(update: Update, context: Context) -> None:
    """Offer the language choice."""
    user_id, chat_id = _ids(update)
    language = conversation(context).user_language(user_id=user_id, chat_id=chat_id)
    await send_replies(
        context, chat_id, [Reply(t("language_choice", language), language_buttons())]
    )


async def status_command(update: Update, context: Context) -> None:
    """List the user's open enquiries with reference, department and state."""
    user_id, chat_id = _ids(update)
    await send_replies(
        context, chat_id, [conversation(context).status(user_id=user_id, chat_id=chat_id)]
    )


async def cancel_command(update: Update, context: Context) -> None:
    """Stop whatever the bot is waiting for."""
    user_id, chat_id = _ids(update)
    await send_replies(
        context, chat_id, [conversation(context).cancel(user_id=user_id, chat_id=chat_id)]
    )


async def text_message(update: Update, context: Context) -> None:
    """Record the question, route it through Rasa and answer with department and reference."""
    assert update.message is not None and update.message.text is not None
    user_id, chat_id = _ids(update)
    if not await _within_rate_limit(update, context, user_id, chat_id):
        return
    key = f"tg:{chat_id}:{update.message.message_id}"
    await context.bot.send_chat_action(chat_id, "typing")
    replies = await conversation(context).handle_text(
        user_id=user_id, chat_id=chat_id, text=update.message.text, message_key=key
    )
    await send_replies(context, chat_id, replies)
    kick_outbox(context)


async def non_text_message(update: Update, context: Context) -> None:
    """Explain politely that only text can be read; keep any caption as the question."""
    assert update.message is not None
    user_id, chat_id = _ids(update)
    if not await _within_rate_limit(update, context, user_id, chat_id):
        return
    caption = update.message.caption
    if caption and caption.strip():
        key = f"tg:{chat_id}:{update.message.message_id}"
        language = conversation(context).user_language(user_id=user_id, chat_id=chat_id)
        replies = [Reply(t("non_text", language))]
        replies += await conversation(context).handle_text(
            user_id=user_id, chat_id=chat_id, text=caption, message_key=key
        )
        await send_replies(context, chat_id, replies)
        kick_outbox(context)
        return
    language = conversation(context).user_language(user_id=user_id, chat_id=chat_id)
    await send_replies(context, chat_id, [Reply(t("non_text", language))])


async def language_button(update: Update, context: Context) -> None:
    """Store the chosen language."""
    query = update.callback_query
    assert query is not None
    parsed = callbacks.parse(query.data)
    await query.answer()
    if parsed is None or parsed.kind != "lang":
        return
    user_id, chat_id = _ids(update)
    replies = conversation(context).set_language(
        user_id=user_id, chat_id=chat_id, language=parsed.action
    )
    await send_replies(context, chat_id, replies)


async def rasa_button(update: Update, context: Context) -> None:
    """Send the payload of a button from Rasa as if the user had typed it."""
    query = update.callback_query
    assert query is not None and query.message is not None
    await query.answer()
    payload = (query.data or "").removeprefix("say:").strip()
    if not payload:
        return
    user_id, chat_id = _ids(update)
    key = f"tg:{chat_id}:cb:{query.id}"
    replies = await conversation(context).handle_text(
        user_id=user_id, chat_id=chat_id, text=payload, message_key=key
    )
    await send_replies(context, chat_id, replies)
    kick_outbox(context)


async def feedback_button(update: Update, context: Context) -> None:
    """Record whether the answer helped; 'no' reopens the enquiry to the coordinator."""
    query = update.callback_query
    assert query is not None
    parsed = callbacks.parse(query.data)
    user_id, chat_id = _ids(update)
    svc = services(context)
    language = conversation(context).user_language(user_id=user_id, chat_id=chat_id)
    if parsed is None or parsed.kind != "fb":
        await query.answer(t("button_invalid", language))
        return
    from db import crud
    from db.models import Enquiry

    with session_scope(svc.engine) as session:
        enquiry = session.get(Enquiry, parsed.object_id)
        user = crud.get_or_create_user(session=session, telegram_user_id=user_id, chat_id=chat_id)
        if enquiry is None or enquiry.user_id != user.id:
            await query.answer(t("button_invalid", language))
            return
        try:
            record_feedback(
                session=session,
                enquiry=enquiry,
                helpful=parsed.action == "y",
                actor=f"association:{user_id}",
                coordinator_chat_id=svc.settings.coordinator_chat_id,
            )
        except WorkflowError:
            await query.answer(t("wf_already_handled", language))
            return
    await query.answer()
    await query.edit_message_reply_markup(None)
    kick_outbox(context)
