"""Helpers for workflow and queue tests: enquiries from a real association at a frozen time."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from db import crud
from db.models import (
    Enquiry,
    EnquiryEvent,
    EscalationReason,
    OutboxMessage,
)

LOCAL = ZoneInfo("Europe/Stockholm")
ASSOCIATION_CHAT = 5001
DEPARTMENT_CHAT = -100200
COORDINATOR_CHAT = -100900
_user_ids = count(70_000)


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """Return a Stockholm wall-clock moment as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=LOCAL).astimezone(UTC)


def new_enquiry(
    session: Session,
    *,
    now: datetime,
    text: str = "Hur söker vi aktivitetsstöd för hösten?",
    association: str | None = "Storåsa IF",
    language: str = "sv",
    chat_id: int | None = ASSOCIATION_CHAT,
    telegram_user_id: int | None = None,
) -> Enquiry:
    """Record an enquiry from an association user, as the conversation would."""
    user = crud.get_or_create_user(
        session=session,
        telegram_user_id=telegram_user_id or next(_user_ids),
        chat_id=chat_id,
        language=language,
    )
    if association is not None:
        crud.set_user_association(session=session, user=user, name=association, org_number=None)
    enquiry, _ = crud.create_enquiry(
        session=session, text=text, language=language, user=user, now=now
    )
    enquiry.chat_id = chat_id
    return enquiry


def routed_enquiry(
    session: Session,
    *,
    now: datetime,
    department_key: str = "kultur_fritid",
    department_chat: int | None = DEPARTMENT_CHAT,
    sla_hours: int | None = None,
    **kwargs: object,
) -> Enquiry:
    """Record an enquiry and route it to a department (optionally with its chat and SLA)."""
    department = crud.department_by_key(session=session, key=department_key)
    assert department is not None
    department.telegram_chat_id = department_chat
    if sla_hours is not None:
        department.sla_hours = sla_hours
    enquiry = new_enquiry(session, now=now, **kwargs)  # type: ignore[arg-type]
    enquiry.intent = "topic_bidrag"
    crud.route_enquiry(
        session=session, enquiry=enquiry, department=department, actor="lotsen", now=now
    )
    return enquiry


def escalated_enquiry(
    session: Session, *, now: datetime, reason: str = EscalationReason.UNSURE, **kwargs: object
) -> tuple[Enquiry, int]:
    """Record an enquiry the model could not route; return it and its escalation id."""
    enquiry = new_enquiry(session, now=now, **kwargs)  # type: ignore[arg-type]
    escalation = crud.escalate_enquiry(
        session=session, enquiry=enquiry, reason=reason, actor="lotsen", now=now
    )
    assert escalation.id is not None
    return enquiry, escalation.id


def outbox(session: Session, **where: object) -> list[OutboxMessage]:
    """Return queued messages matching the given column values, oldest first."""
    query = select(OutboxMessage)
    for name, value in where.items():
        query = query.where(getattr(OutboxMessage, name) == value)
    return list(session.exec(query.order_by(col(OutboxMessage.id))).all())


def events(session: Session, enquiry: Enquiry) -> list[str]:
    """Return the kinds of an enquiry's events, in order."""
    rows = session.exec(
        select(EnquiryEvent)
        .where(EnquiryEvent.enquiry_id == enquiry.id)
        .order_by(col(EnquiryEvent.id))
    ).all()
    return [row.kind for row in rows]


def buttons(message: OutboxMessage) -> list[str]:
    """Return the callback data of a message's inline buttons, row by row flattened."""
    markup = message.reply_markup or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]
