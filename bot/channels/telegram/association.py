"""Handlers for associations: first contact, commands, questions and feedback.

Every reply to an association is queued in the outbox by the conversation (exactly once per
inbound message); the handlers only call it and wake the dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlmodel import Session
from telegram import Update
from telegram.error import TelegramError

from bot.channels.telegram.common import (
    Context,
    conversation,
    ids,
    kick_outbox,
    message_key,
    run_db,
    writer,
)
from bot.channels.telegram.staff import redeem_invite_code
from bot.conversation import association_actor
from bot.i18n import normalise_language
from bot.messages import choices
from bot.messages.department import already_handled, button_invalid
from db import feedback
from db.enquiries.notifications import Channel, Kind
from db.enquiries.workflow import WorkflowError
from db.models import Enquiry
from db.people.identities import identify
from db.people.limits import Verdict, person_key

log = logging.getLogger(__name__)


def _sent_at(update: Update) -> float | None:
    """Return when the user sent the message (Telegram's date, epoch seconds), if known."""
    message = update.effective_message
    return message.date.timestamp() if message is not None and message.date else None


async def _within_rate_limit(update: Update, context: Context) -> bool:
    """Tell whether the user may go on; the first refusal of a flood gets one polite notice.

    The rate is measured by when the user sent the messages (Telegram's date), not by when we
    process them: a flood handled slowly is still a flood, and a backlog after downtime is not.
    """
    user_id, _ = ids(update)
    message = update.effective_message
    limiter = context.bot_data.rate_limiter
    assert limiter is not None
    verdict = await limiter.check(
        person_key("telegram", user_id), _sent_at(update), key=message_key(update)
    )
    if verdict == Verdict.OK:
        return True
    log.info("Rate limit for Telegram user %s: %s", user_id, verdict)
    if verdict == Verdict.NOTIFY:
        text = message.text or message.caption if message is not None else None
        await conversation(context).refuse_flood(
            writer=writer(update), text=text, key=message_key(update)
        )
        kick_outbox(context)
    return False


async def start(update: Update, context: Context) -> None:
    """Greet the user, offer the language choice and ask which association they speak for."""
    if context.args and await redeem_invite_code(update, context, context.args[0]):
        return
    await conversation(context).start(writer=writer(update), key=message_key(update))
    kick_outbox(context)


async def _reply(update: Update, context: Context, kind: Kind) -> None:
    await conversation(context).reply(writer=writer(update), kind=kind, key=message_key(update))
    kick_outbox(context)


async def help_command(update: Update, context: Context) -> None:
    """Explain how the bot works and list the commands."""
    await _reply(update, context, Kind.HELP)


async def language_command(update: Update, context: Context) -> None:
    """Offer the language choice."""
    await _reply(update, context, Kind.LANGUAGE_CHOICE)


async def status_command(update: Update, context: Context) -> None:
    """List the user's open enquiries with reference, department and state."""
    await _reply(update, context, Kind.STATUS)


async def mydata_command(update: Update, context: Context) -> None:
    """Send the user everything Lotsen holds about them, as a JSON document."""
    if await _within_rate_limit(update, context):
        await _reply(update, context, Kind.PERSONAL_DATA)


async def forget_command(update: Update, context: Context) -> None:
    """File a request to erase the user's data in the coordinator's queue and confirm it."""
    await conversation(context).request_erasure(writer=writer(update), key=message_key(update))
    kick_outbox(context)


async def cancel_command(update: Update, context: Context) -> None:
    """Stop whatever the bot is waiting for."""
    await conversation(context).cancel(writer=writer(update), key=message_key(update))
    kick_outbox(context)


async def text_message(update: Update, context: Context) -> None:
    """Record the question, route it through Rasa and answer with department and reference."""
    assert update.message is not None and update.message.text is not None
    limiter = context.bot_data.rate_limiter
    assert limiter is not None
    user_id, chat_id = ids(update)
    key = message_key(update)
    # The database store takes the limit in the turn's own transaction (one commit per
    # message); Redis is asked first, off the database.
    admit = limiter.admit_in(person_key("telegram", user_id), _sent_at(update), key=key)
    if admit is None and not await _within_rate_limit(update, context):
        return
    async with _typing_when_slow(context, chat_id):
        verdict = await conversation(context).handle_text(
            writer=writer(update), text=update.message.text, message_key=key, admit=admit
        )
    if verdict != Verdict.OK:
        log.info("Rate limit for Telegram user %s: %s", user_id, verdict)
    kick_outbox(context)


TYPING_AFTER = 1.0
"""Seconds after which the user sees "typing…" while the answer is still being worked out."""


@contextlib.asynccontextmanager
async def _typing_when_slow(context: Context, chat_id: int) -> AsyncIterator[None]:
    """Show "typing…" in the chat only if the block takes longer than TYPING_AFTER."""

    async def typing() -> None:
        await asyncio.sleep(TYPING_AFTER)
        with contextlib.suppress(TelegramError):
            await context.bot.send_chat_action(chat_id, "typing")

    task = asyncio.get_running_loop().create_task(typing())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def non_text_message(update: Update, context: Context) -> None:
    """Explain politely that only text can be read; keep any caption as the question."""
    assert update.message is not None
    if not await _within_rate_limit(update, context):
        return
    key = message_key(update)
    await conversation(context).reply(
        writer=writer(update), kind=Kind.NON_TEXT, key=f"{key}:non-text"
    )
    caption = update.message.caption
    if caption and caption.strip():
        await conversation(context).handle_text(
            writer=writer(update), text=caption, message_key=key
        )
    kick_outbox(context)


async def language_button(update: Update, context: Context) -> None:
    """Store the chosen language."""
    query = update.callback_query
    assert query is not None
    parsed = choices.parse(query.data)
    await query.answer()
    if parsed is None or parsed.kind != "lang":
        return
    await conversation(context).set_language(
        writer=writer(update), language=parsed.action, key=message_key(update)
    )
    kick_outbox(context)


async def rasa_button(update: Update, context: Context) -> None:
    """Send the payload of a button from Rasa as if the user had typed it."""
    query = update.callback_query
    assert query is not None and query.message is not None
    await query.answer()
    payload = (query.data or "").removeprefix("say:").strip()
    if not payload:
        return
    await conversation(context).handle_text(
        writer=writer(update), text=payload, message_key=message_key(update)
    )
    kick_outbox(context)


async def choice_button(update: Update, context: Context) -> None:
    """Record the association's answer to a referral or a confirmation; drop the buttons."""
    query = update.callback_query
    assert query is not None
    refusal = await conversation(context).press(
        writer=writer(update), data=query.data or "", key=message_key(update)
    )
    if refusal is not None:
        await query.answer(refusal)
        return
    await query.answer()
    await query.edit_message_reply_markup(None)
    kick_outbox(context)


async def feedback_button(update: Update, context: Context) -> None:
    """Record whether the answer helped; 'no' reopens the enquiry to the coordinator."""
    query = update.callback_query
    assert query is not None
    parsed = choices.parse(query.data)
    who = writer(update)

    def record(session: Session) -> str | None:
        """Record the feedback; return the refusal to show, or None when it was recorded."""
        user = identify(session=session, writer=who, language="sv")
        if parsed is not None and parsed.kind == "fb" and parsed.action == "s":
            # No comment: the chat stops waiting for one (a second press changes nothing).
            feedback.skip_comment(session=session, user=user, feedback_id=parsed.object_id)
            return None
        enquiry = session.get(Enquiry, parsed.object_id) if parsed and parsed.kind == "fb" else None
        if parsed is None or enquiry is None or enquiry.user_id != user.id:
            return button_invalid(normalise_language(user.language))
        language = enquiry.language  # the language the enquiry's answer came in
        try:
            given = feedback.rate(
                session=session,
                enquiry=enquiry,
                helpful=parsed.action == "y",
                channel=Channel.TELEGRAM,
                actor=association_actor(user),
            )
        except WorkflowError:
            return already_handled(language)
        feedback.ask_in_chat(session=session, user=user, feedback=given)
        return None

    refusal = await run_db(context, record)
    if refusal is not None:
        await query.answer(refusal)
        return
    await query.answer()
    await query.edit_message_reply_markup(None)
    kick_outbox(context)
