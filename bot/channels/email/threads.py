"""Where a reply to Lotsen's mail goes: a forward's reply address names its enquiry."""

from __future__ import annotations

from datetime import datetime

from bot.channels.email.reply_address import reply_address
from bot.settings import Settings
from db.enquiries.notifications import Kind, Recipient
from db.models import OutboxMessage

ANSWERABLE = (Kind.FORWARD, Kind.REMINDER, Kind.ASSIGNED, Kind.FOLLOW_UP)
"""Mail to a department that the clerk may answer by replying."""


def reply_to_of(row: OutboxMessage, settings: Settings, now: datetime) -> str | None:
    """Return the Reply-To of an outbox row's mail (None: the mailbox it goes to, as before)."""
    if (
        row.recipient == Recipient.DEPARTMENT
        and row.kind in ANSWERABLE
        and row.enquiry_id is not None
        and row.recipient_id is not None
    ):
        given = row.params.get("reply_to")
        if isinstance(given, str):  # fixed at the first attempt, like the link
            return given
        address = reply_address(
            settings, enquiry_id=row.enquiry_id, department_id=row.recipient_id, now=now
        )
        if address is not None:
            row.params = {**row.params, "reply_to": address}
        return address
    return None
