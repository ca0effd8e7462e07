"""Threads: where a reply to Lotsen's mail goes, and where Lotsen's mail to an association goes.

A forward's reply address names its enquiry (`reply_address.py`). A mail to an association
answers in the thread it wrote in: to the address of its e-mail identity, `In-Reply-To` its
latest mail, `References` the thread's root, with the subject it wrote with and the reference.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parseaddr

from sqlmodel import Session, col, select

from bot.channels.email.compose import Thread
from bot.channels.email.reply_address import reply_address
from bot.settings import Settings
from db.enquiries.notifications import Kind, Recipient
from db.models import Enquiry, InboundMail, OutboxMessage
from db.people.identities import identity_for

_RE = re.compile(r"^\s*((re|sv|aw|vs|fw|fwd|vb|antw)\s*:\s*)+", re.IGNORECASE)
"""Reply and forward prefixes (English, Swedish, German, Finnish, Dutch…) of a subject."""

ANSWERABLE = (Kind.FORWARD, Kind.REMINDER, Kind.ASSIGNED, Kind.FOLLOW_UP)
"""Mail to a department that the clerk may answer by replying."""


def reply_to_of(row: OutboxMessage, settings: Settings, now: datetime) -> str | None:
    """Return the Reply-To of an outbox row's mail (None: the mailbox it goes to, as before)."""
    if row.recipient == Recipient.ASSOCIATION:  # back to Lotsen, never to the writer
        return (settings.inbound_address or parseaddr(settings.smtp_from)[1]).strip() or None
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


def association_thread(session: Session, row: OutboxMessage) -> tuple[str, Thread] | None:
    """Return where an association's e-mail row goes: its address, and its thread (the
    subject it wrote with and the reference, answering its latest mail)."""
    if row.recipient != Recipient.ASSOCIATION or row.recipient_id is None:
        return None
    identity = identity_for(session=session, person_id=row.recipient_id, channel="email")
    if identity is None:
        return None
    latest = session.exec(
        select(InboundMail)
        .where(InboundMail.sender == identity.address)
        .order_by(col(InboundMail.id).desc())
    ).first()
    root = (
        session.exec(select(InboundMail).where(InboundMail.key == identity.conversation)).first()
        if identity.conversation
        else None
    )
    first = root or latest
    topic = _RE.sub("", (first.subject if first is not None else "") or "").strip()
    enquiry = session.get(Enquiry, row.enquiry_id) if row.enquiry_id else None
    number = enquiry.reference if enquiry is not None else None
    if number and number not in topic:
        topic = f"{topic} [{number}]" if topic else number
    subject_line = f"Re: {topic}" if topic else "Lotsen"
    known = (identity.conversation, latest.key if latest is not None else None)
    references = tuple(dict.fromkeys(i for i in known if i and i.startswith("<")))
    in_reply_to = latest.key if latest is not None and latest.key.startswith("<") else None
    return identity.address, Thread(subject_line, in_reply_to, references)
