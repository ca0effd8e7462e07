"""What Lotsen says: every notification kind rendered as text and choices, for any channel.

A channel takes an outbox row, calls `render` and adapts the result: Telegram turns choices
into inline buttons, the console into numbered lines, e-mail into a link. The texts come from
the catalogues (`bot.i18n`) in the row's language; the facts (department, contact, question)
are read from the database when the message is rendered, so it is always current.
"""

from __future__ import annotations

from sqlmodel import Session

from bot.messages import association, coordinator, department, staff
from bot.messages.base import Choice, Document, Message, Notice, Renderer
from db.models import OutboxMessage

RENDERERS: dict[str, Renderer] = {
    **association.RENDERERS,
    **department.RENDERERS,
    **coordinator.RENDERERS,
    **staff.RENDERERS,
}


def render(session: Session, row: OutboxMessage, *, tracker_url: str | None = None) -> Message:
    """Render an outbox row in its language (KeyError for a kind nobody renders)."""
    return RENDERERS[row.kind](Notice(session=session, row=row, tracker_url=tracker_url))


__all__ = ["RENDERERS", "Choice", "Document", "Message", "Notice", "render"]
