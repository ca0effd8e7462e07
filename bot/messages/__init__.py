"""What Lotsen says: every notification kind rendered as text and choices, for any channel.

A channel takes an outbox row, calls `render` and adapts the result: Telegram turns choices
into inline buttons, the console into numbered lines, e-mail into a link. The texts come from
the catalogues (`bot.i18n`) in the row's language; the facts (department, contact, question)
are read from the database when the message is rendered, so it is always current.
"""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session

from bot.i18n import RIGHT_TO_LEFT
from bot.messages import association, coordinator, department, mail, referral, staff
from bot.messages.association import with_swedish_line
from bot.messages.base import Choice, Document, Message, Notice, Renderer
from bot.messages.bidi import isolate_ltr
from db.enquiries.notifications import Recipient
from db.models import OutboxMessage

RENDERERS: dict[str, Renderer] = {
    **association.RENDERERS,
    **department.RENDERERS,
    **coordinator.RENDERERS,
    **staff.RENDERERS,
    **referral.RENDERERS,
    **mail.RENDERERS,
}


def render(session: Session, row: OutboxMessage, *, tracker_url: str | None = None) -> Message:
    """Render an outbox row in its language (KeyError for a kind nobody renders).

    A reply to a message in a language we do not answer in gets a line in Swedish; a text in
    a right-to-left language keeps its left-to-right runs whole (bot.messages.bidi).
    """
    message = RENDERERS[row.kind](Notice(session=session, row=row, tracker_url=tracker_url))
    if row.recipient == Recipient.ASSOCIATION:
        message = with_swedish_line(message, row.params or {})
    if row.language in RIGHT_TO_LEFT:
        message = right_to_left(message)
    return message


def right_to_left(message: Message) -> Message:
    """Return a message with the left-to-right runs of its text and labels isolated."""
    return replace(
        message,
        text=isolate_ltr(message.text),
        choices=[[Choice(isolate_ltr(c.label), c.action) for c in row] for row in message.choices],
    )


__all__ = ["RENDERERS", "Choice", "Document", "Message", "Notice", "render", "right_to_left"]
