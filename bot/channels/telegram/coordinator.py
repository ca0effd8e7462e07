"""Handlers for the coordinator's queue: /queue and the buttons on escalation cards."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session
from telegram import ForceReply, Update
from telegram.error import BadRequest

from bot.channels.telegram.common import (
    STAFF_LANGUAGE,
    Context,
    keyboard,
    kick_outbox,
    refused,
    run_db,
    services,
    staff_person_id,
)
from bot.channels.telegram.department import remember_prompt
from bot.i18n import translate
from bot.messages import Choice, Message, choices
from bot.messages import coordinator as cards
from bot.messages.department import answer_prompt, button_invalid, not_allowed
from bot.messages.formats import department_name
from bot.settings import Settings
from db.enquiries import crud
from db.enquiries import queue as coordinator_queue
from db.enquiries.notifications import Recipient
from db.models import Escalation, StaffRole, utcnow
from db.people.limits import refusals_on

log = logging.getLogger(__name__)


def _coordinator(session: Session, user_id: int) -> int | None:
    """Return the staff person behind a Telegram user if they coordinate, else None."""
    person_id = staff_person_id(session, user_id)
    if not crud.has_role(session=session, person_id=person_id, roles={StaffRole.COORDINATOR}):
        return None
    return person_id


async def queue_command(update: Update, context: Context) -> None:
    """List open escalations oldest first: /queue [unclaimed|mine|<department key>]."""
    message = update.message
    user = update.effective_user
    if message is None or user is None:
        return
    argument = (context.args or ["all"])[0].lower()
    filter_ = argument if argument in {"all", "unclaimed", "mine"} else "all"
    department = None if argument in {"all", "unclaimed", "mine"} else argument

    def listing(session: Session) -> str | None:
        person_id = _coordinator(session, user.id)
        if person_id is None:
            return None
        try:
            items = coordinator_queue.list_queue(
                session=session, filter=filter_, staff_user_id=person_id, department_key=department
            )
        except coordinator_queue.QueueError as exc:
            return translate(STAFF_LANGUAGE, exc.phrase)
        refused = refusals_on(session, day=utcnow().date())
        return cards.queue_listing(items, STAFF_LANGUAGE, refused=refused)

    text = await run_db(context, listing)
    if text is None:
        refused(update, "/queue")
        text = not_allowed(STAFF_LANGUAGE)
    await message.reply_text(text)


async def _refresh_card(
    context: Context, chat_id: int, message_id: int, escalation_id: int
) -> None:
    """Show the card's current state in place (no buttons once it is resolved)."""

    def render(session: Session) -> Message | None:
        escalation = session.get(Escalation, escalation_id)
        if escalation is None:
            return None
        return cards.card(session=session, escalation=escalation, language=STAFF_LANGUAGE)

    card = await run_db(context, render)
    if card is None:
        return
    try:
        await context.bot.edit_message_text(
            card.text, chat_id=chat_id, message_id=message_id, reply_markup=keyboard(card.choices)
        )
    except BadRequest as exc:  # e.g. "message is not modified"
        log.debug("Card not refreshed: %s", exc)


@dataclass
class CardAction:
    """What a card button did: a notice, a picker to put on the card, or a refusal."""

    notice: str = ""
    picker: list[list[Choice]] | None = None
    reference: str = ""
    refused: bool = False
    error: str | None = None
    alert: bool = False
    """Show the notice as an alert (the department could not be reached)."""


def _act(
    session: Session, settings: Settings, user_id: int, parsed: choices.Callback
) -> CardAction:
    """Carry out a card button press for a coordinator (in one transaction)."""
    person_id = _coordinator(session, user_id)
    if person_id is None:
        return CardAction(refused=True)
    escalation_id = parsed.object_id
    try:
        escalation = coordinator_queue.open_escalation(session=session, escalation_id=escalation_id)
        reference = crud.enquiry_reference_for(session=session, escalation=escalation)
        if parsed.action == "claim":
            result = coordinator_queue.claim(
                session=session, escalation_id=escalation_id, staff_user_id=person_id
            )
            who = result.holder_name or str(result.holder)
            return CardAction(
                notice=cards.claimed(STAFF_LANGUAGE, reference)
                if result.ok
                else cards.claimed_by_other(STAFF_LANGUAGE, who)
            )
        if parsed.action == "route":
            picker = cards.route_picker(
                session=session, escalation_id=escalation_id, language=STAFF_LANGUAGE
            )
            return CardAction(picker=picker)
        if parsed.action == "close":
            return CardAction(picker=cards.close_picker(escalation_id, STAFF_LANGUAGE))
        if parsed.action == "to" and parsed.value:
            routed = coordinator_queue.route(
                session=session,
                escalation_id=escalation_id,
                department_key=parsed.value,
                staff_user_id=person_id,
                email_enabled=settings.email_enabled,
            )
            unreachable = routed.unreachable()
            if unreachable is not None:
                return CardAction(notice=translate(STAFF_LANGUAGE, unreachable), alert=True)
            name = department_name(routed.department, STAFF_LANGUAGE)
            return CardAction(notice=cards.routed(STAFF_LANGUAGE, reference, name))
        if parsed.action == "why" and parsed.value:
            coordinator_queue.close(
                session=session,
                escalation_id=escalation_id,
                reason_code=parsed.value,
                staff_user_id=person_id,
            )
            return CardAction(notice=cards.closed(STAFF_LANGUAGE, reference))
        if parsed.action == "answer":
            return CardAction(reference=reference)
    except coordinator_queue.QueueError as exc:
        return CardAction(error=translate(STAFF_LANGUAGE, exc.phrase))
    return CardAction(error=button_invalid(STAFF_LANGUAGE))


async def queue_button(update: Update, context: Context) -> None:
    """Claim, answer, route or close an escalation from its card (coordinators only)."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    parsed = choices.parse(query.data)
    if parsed is None or parsed.kind != "q" or query.message is None:
        await query.answer(button_invalid(STAFF_LANGUAGE))
        return
    user_id = update.effective_user.id
    chat_id, message_id = query.message.chat.id, query.message.message_id
    settings = services(context).settings
    done = await run_db(context, lambda session: _act(session, settings, user_id, parsed))
    if done.refused:
        refused(update, f"q:{parsed.action}")
        await query.answer(not_allowed(STAFF_LANGUAGE), show_alert=True)
        return
    if done.error is not None:
        await query.answer(done.error[:190], show_alert=True)
        return
    if done.picker is not None:
        await query.answer()
        await query.edit_message_reply_markup(keyboard(done.picker))
        return
    if parsed.action == "answer":
        await query.answer()
        sent = await context.bot.send_message(
            chat_id,
            answer_prompt(STAFF_LANGUAGE, done.reference),
            reply_markup=ForceReply(selective=True),
        )
        await remember_prompt(
            context,
            chat_id=chat_id,
            message_id=sent.message_id,
            recipient=Recipient.COORDINATORS,
            enquiry_id=None,
            escalation_id=parsed.object_id,
        )
        return
    await query.answer(done.notice[:190], show_alert=done.alert)
    await _refresh_card(context, chat_id, message_id, parsed.object_id)
    kick_outbox(context)
