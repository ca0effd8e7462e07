"""The conditions and values the catalogue's rules use (db/privacy/catalogue.py): how a
person's rows of a table are found, which rows are past their retention, what is written in
place of personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_
from sqlmodel import col, select

from db.enquiries.notifications import CHAT_APP, Recipient
from db.models import (
    Enquiry,
    EnquiryStatus,
    InboundMail,
    InboundMailState,
    OutboxMessage,
    StaffIdentity,
    WebChat,
)
from db.people.limits import person_key
from db.privacy.stores import PURGED, Cut, Subject

CHAT_APP_ID = f"{CHAT_APP}_user_id"  # the export's key for the chat app's first user id
RETENTION_ACTOR = "retention"
ERASURE_ACTOR = "erasure"

HANDLED_MAIL = (
    InboundMailState.DONE,
    InboundMailState.IGNORED,
    InboundMailState.REFUSED,
    InboundMailState.DROPPED,
)
"""Inbound mails whose handling is over (held, failed and new ones wait and are kept)."""


# -- how rows are found -----------------------------------------------------------------------


def chat_user_ids(subject: Subject) -> list[int]:
    """Return the subject's chat-app user ids (named at the head of an export)."""
    return [int(a) for a in subject.addresses(CHAT_APP) if a.isdigit()]


def staff_of(subject: Subject) -> Any:
    """The staff people behind the subject's identities (a subquery of staff person ids)."""
    same = [
        and_(col(StaffIdentity.channel) == channel, col(StaffIdentity.address) == address)
        for channel, address in subject.identities
    ]
    return select(StaffIdentity.person_id).where(or_(false(), *same))


def person_keys(subject: Subject) -> list[str]:
    return [person_key(channel, address) for channel, address in subject.identities]


def of_enquiries(column: Any) -> Any:
    """A person's rows of a table tied to their enquiries."""
    return lambda s: col(column).in_(s.enquiry_ids)


def of_anonymised(column: Any, *more: Any) -> Any:
    """The rows tied to the enquiries an erasure anonymises (not its erasure requests)."""
    return lambda s: and_(col(column).in_(s.anonymised_ids), *more)


def finished_before(cut: Cut) -> ColumnElement[bool]:
    """Finished enquiries (closed or referred) finished before the cutoff, texts still there."""
    closed_at = func.coalesce(col(Enquiry.closed_at), col(Enquiry.updated_at))
    finished = (EnquiryStatus.CLOSED, EnquiryStatus.REFERRED)
    return (
        col(Enquiry.status).in_(finished)
        & (closed_at < cut.at)
        & (
            (col(Enquiry.text) != PURGED)
            | (col(Enquiry.answer_text).is_not(None) & (col(Enquiry.answer_text) != PURGED))
        )
    )


def of_finished(column: Any, *more: Any) -> Any:
    """The rows tied to the enquiries a purge anonymises (and meeting `more`)."""
    return lambda c: and_(col(column).in_(select(Enquiry.id).where(finished_before(c))), *more)


def before(column: Any, *more: Any) -> Any:
    """The rows whose `column` is before the purge's cutoff (and meeting `more`)."""
    return lambda c: and_(col(column) < c.at, *more)


def to_person(s: Subject) -> ColumnElement[bool]:
    return (col(OutboxMessage.recipient) == Recipient.ASSOCIATION) & (
        col(OutboxMessage.recipient_id) == s.person_id
    )


def not_to_person(s: Subject) -> ColumnElement[bool]:
    return or_(
        col(OutboxMessage.recipient) != Recipient.ASSOCIATION,
        col(OutboxMessage.recipient_id).is_(None),
        col(OutboxMessage.recipient_id) != s.person_id,
    )


def mail_of(s: Subject) -> ColumnElement[bool]:
    emails = [address.lower() for address in s.addresses("email")]
    return or_(col(InboundMail.sender).in_(emails), col(InboundMail.enquiry_id).in_(s.enquiry_ids))


def chats_of(s: Subject) -> ColumnElement[bool]:
    return col(WebChat.visitor).in_(s.addresses("web"))


# -- what is written --------------------------------------------------------------------------


def enquiry_texts(row: Any, _: datetime) -> dict[str, Any]:
    return {"text": PURGED} | ({} if row.answer_text is None else {"answer_text": PURGED})


def event_texts(row: Any, _: datetime) -> dict[str, Any]:
    detail = row.detail or {}
    if "text" not in detail or detail["text"] == PURGED:
        return {}
    return {"detail": {**detail, "text": PURGED}}


def candidate_retired(row: Any, now: datetime) -> dict[str, Any]:
    """Redacted; not yet reviewed ones are rejected by the retention."""
    if row.reviewed_at is not None:
        return {"text": PURGED}
    return {"text": PURGED, "accepted": False, "reviewed_at": now, "reviewed_by": RETENTION_ACTOR}


def candidate_erased(_: Any, now: datetime) -> dict[str, Any]:
    return {"text": PURGED, "accepted": False, "reviewed_at": now, "reviewed_by": ERASURE_ACTOR}


def person_erased(_: Any, now: datetime) -> dict[str, Any]:
    return {"erased_at": now, "awaiting": None}


MAIL_BLANK = {"sender": None, "subject": PURGED, "raw": b"", "error": None, "size": 0}
