"""Helpers for workflow and queue tests: enquiries from a real association at a frozen time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from bot.channels.telegram.common import keyboard
from bot.channels.telegram.outbox import resolve_chat
from bot.i18n import translate
from bot.messages import render
from db.enquiries import crud, lifecycle
from db.intake import Writer
from db.models import (
    Enquiry,
    EnquiryEvent,
    EscalationReason,
    OutboxMessage,
)
from db.people import departments
from db.people.identities import identify
from db.plumbing.phrases import DomainError
from harness.database import set_group_chat

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
    detected_language: str | None = None,
    chat_id: int | None = ASSOCIATION_CHAT,
    telegram_user_id: int | None = None,
) -> Enquiry:
    """Record an enquiry from an association user, as the conversation would.

    `language` is the user's (and the enquiry's reply) language, `detected_language` what the
    text is written in.
    """
    user = identify(
        session=session,
        writer=Writer(
            "telegram",
            str(telegram_user_id or next(_user_ids)),
            str(chat_id) if chat_id is not None else None,
        ),
        language=language,
    )
    if association is not None:
        crud.set_user_association(session=session, user=user, name=association, org_number=None)
    enquiry, _ = lifecycle.received(
        session=session,
        text=text,
        language=language,
        detected_language=detected_language,
        user=user,
        now=now,
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
    department = departments.department_by_key(session=session, key=department_key)
    assert department is not None
    set_group_chat(department, department_chat)
    if sla_hours is not None:
        department.sla_hours = sla_hours
    enquiry = new_enquiry(session, now=now, **kwargs)  # type: ignore[arg-type]
    enquiry.intent = "topic_bidrag"
    lifecycle.recorded_as_routed(
        session=session, enquiry=enquiry, department=department, actor="lotsen", now=now
    )
    return enquiry


def escalated_enquiry(
    session: Session,
    *,
    now: datetime,
    reason: EscalationReason = EscalationReason.UNSURE,
    **kwargs: object,
) -> tuple[Enquiry, int]:
    """Record an enquiry the model could not route; return it and its escalation id."""
    enquiry = new_enquiry(session, now=now, **kwargs)  # type: ignore[arg-type]
    escalation = lifecycle.escalated(
        session=session, enquiry=enquiry, reason=reason, actor="lotsen", now=now, card=False
    )
    assert escalation.id is not None
    return enquiry, escalation.id


@dataclass
class Queued:
    """An outbox row as the Telegram channel would send it: chat, text and buttons."""

    row: OutboxMessage
    chat_id: int | None
    text: str
    reply_markup: dict[str, Any] | None

    @property
    def kind(self) -> str:
        """Return the message kind."""
        return self.row.kind

    @property
    def enquiry_id(self) -> int | None:
        """Return the enquiry the message is about."""
        return self.row.enquiry_id

    @property
    def escalation_id(self) -> int | None:
        """Return the escalation the message is about."""
        return self.row.escalation_id


def as_sent(session: Session, row: OutboxMessage) -> Queued:
    """Render an outbox row for Telegram, as the dispatcher does."""
    message = render(session, row)
    markup = keyboard(message.choices)
    return Queued(
        row=row,
        chat_id=resolve_chat(session, row, COORDINATOR_CHAT),
        text=message.text,
        reply_markup=markup.to_dict() if markup else None,
    )


def outbox(session: Session, **where: object) -> list[Queued]:
    """Return queued messages matching the given column values, oldest first, rendered."""
    query = select(OutboxMessage)
    for name, value in where.items():
        query = query.where(getattr(OutboxMessage, name) == value)
    rows = session.exec(query.order_by(col(OutboxMessage.id))).all()
    return [as_sent(session, row) for row in rows]


def events(session: Session, enquiry: Enquiry) -> list[str]:
    """Return the kinds of an enquiry's events, in order."""
    rows = session.exec(
        select(EnquiryEvent)
        .where(EnquiryEvent.enquiry_id == enquiry.id)
        .order_by(col(EnquiryEvent.id))
    ).all()
    return [row.kind for row in rows]


def buttons(message: Queued) -> list[str]:
    """Return the callback data of a message's inline buttons, row by row flattened."""
    markup = message.reply_markup or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


@contextmanager
def refused(kind: type[DomainError], match: str) -> Iterator[None]:
    """Expect a domain refusal whose English text matches (as the CLI and the desk show it)."""
    with pytest.raises(kind) as caught:
        yield
    english = translate("en", caught.value.phrase)
    assert re.search(match, english), f"{english!r} does not match {match!r}"
