"""An association writes more about an enquiry it already has (a mail in the same thread).

The text (masked by the channel) is appended to the enquiry's history as a follow-up; whoever
has the enquiry hears of it — the department it was forwarded to, on the channels the forward
went by, or the coordinators while it waits in their queue — and the association is told that
it was added. Nothing is created: the enquiry stays one enquiry. Written once per message key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlmodel import Session, select

from db.enquiries import notifications as notify
from db.enquiries.lifecycle.base import event as history
from db.enquiries.notifications import Kind
from db.models import (
    AssociationUser,
    Department,
    Enquiry,
    EnquiryEvent,
    EnquiryStatus,
    EventKind,
    utcnow,
)
from db.plumbing.phrases import N_, DomainError

MAX_FOLLOW_UP_CHARS = 4000
WITH_DEPARTMENT = (EnquiryStatus.ROUTED, EnquiryStatus.FORWARDED)


class FollowUpRefused(DomainError):
    """The follow-up could not be added (nothing was changed)."""


def add_follow_up(
    *,
    session: Session,
    enquiry: Enquiry,
    user: AssociationUser,
    text: str,
    key: str,
    language: str,
    email_enabled: bool,
    now: datetime | None = None,
) -> EnquiryEvent | None:
    """Record what the association wrote more and tell who has the enquiry (None: done before).

    Coordinators hear of a follow-up on an escalated enquiry in their group chat and, with
    `email_enabled` (the settings' SMTP server), in their mailbox too.
    """
    assert enquiry.id is not None
    now = now or utcnow()
    cleaned = text.strip()
    if not cleaned:
        raise FollowUpRefused(N_("Meddelandet är tomt."))
    if enquiry.user_id != user.id:
        raise FollowUpRefused(N_("Ärendet hör inte till dig."))
    done = session.exec(
        select(EnquiryEvent).where(
            EnquiryEvent.enquiry_id == enquiry.id, EnquiryEvent.kind == EventKind.FOLLOW_UP
        )
    ).all()
    if any(event.detail.get("key") == key for event in done):
        return None
    event = history(
        session,
        enquiry,
        EventKind.FOLLOW_UP,
        f"association:person:{user.id}",
        now,
        key=key,
        text=cleaned[:MAX_FOLLOW_UP_CHARS],
    )
    session.flush()
    enquiry.updated_at = now
    department = session.get(Department, enquiry.department_id) if enquiry.department_id else None
    if department is not None and enquiry.status in WITH_DEPARTMENT:
        notify.to_department(
            session=session,
            department=department,
            kind=Kind.FOLLOW_UP,
            enquiry=enquiry,
            event_id=event.id,
        )
    elif enquiry.status == EnquiryStatus.ESCALATED:
        # Their group chat (to_coordinators' default channel) and, with e-mail on, their mailbox.
        mailbox = [notify.Channel.EMAIL] if email_enabled else []
        for channel in (None, *mailbox):
            notify.to_coordinators(
                session=session,
                kind=Kind.FOLLOW_UP,
                enquiry_id=enquiry.id,
                dedupe_key=f"follow_up:{event.id}:coordinators"
                + (f":{channel}" if channel else ""),
                event_id=event.id,
                **cast(dict[str, Any], {"channel": channel} if channel else {}),
            )
    notify.to_association(
        session=session,
        user=user,
        kind=Kind.FOLLOW_UP_ADDED,
        language=language,
        enquiry=enquiry,
        dedupe_key=f"{key}:answer"[:128],
        status=enquiry.status,
    )
    return event
