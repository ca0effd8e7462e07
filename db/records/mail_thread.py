"""An enquiry's e-mail thread as the desk shows it, and the channel its association wrote in.

The thread is every mail that reached Lotsen for the enquiry (`inbound_mail`: the first mail,
follow-ups, choices and replies, and clerks' replies to its forwards) and every mail Lotsen sent
the association about it, oldest first. Subjects are masked like every other text in the desk;
what the mails said is in the enquiry's question and history already.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from db.enquiries.notifications import Channel, Recipient
from db.models import Enquiry, InboundMail, OutboxMessage
from db.plumbing.keys import prefixes
from db.privacy.masking import mask_personal_data

CHANNELS = tuple(channel for channel in Channel if channel != Channel.ERRAND)
"""The channels an association writes in (the case system is written to, never from)."""


@dataclass(frozen=True)
class ThreadMail:
    """One mail of an enquiry's thread: in (to Lotsen) or out (to the association)."""

    at: datetime
    incoming: bool
    address: str  # the sender of a mail in, the recipient's channel of a mail out
    subject: str  # masked; for a mail out, the kind of message
    state: str  # in: done, ignored, refused, held, failed; out: sent or waiting
    reason: str | None = None


def written_in(enquiry: Enquiry) -> Channel | None:
    """Return the channel the association wrote the enquiry in (None: not known)."""
    prefix = (enquiry.message_key or "").partition(":")[0]
    for channel in CHANNELS:
        if prefix in prefixes(channel.value):
            return channel
    return None


def thread_of(*, session: Session, enquiry: Enquiry) -> list[ThreadMail]:
    """Return the enquiry's mails in and out, oldest first."""
    mails = [
        ThreadMail(
            at=mail.received_at,
            incoming=True,
            address=mail.sender or "–",
            subject=mask_personal_data(mail.subject or ""),
            state=mail.state,
            reason=mail.reason,
        )
        for mail in session.exec(
            select(InboundMail).where(InboundMail.enquiry_id == enquiry.id)
        ).all()
    ]
    mails += [
        ThreadMail(
            at=row.sent_at or row.created_at,
            incoming=False,
            address=Recipient.ASSOCIATION.value,
            subject=str(row.kind),
            state="sent" if row.sent_at is not None else "waiting",
        )
        for row in session.exec(
            select(OutboxMessage).where(
                OutboxMessage.enquiry_id == enquiry.id,
                OutboxMessage.channel == Channel.EMAIL,
                OutboxMessage.recipient == Recipient.ASSOCIATION,
            )
        ).all()
    ]
    return sorted(mails, key=lambda mail: (mail.at, not mail.incoming))
