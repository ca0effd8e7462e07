"""A user's personal data: find the user and export everything held (erasure: erasure.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, SQLModel, col, select

from db.enquiries import crud
from db.enquiries.notifications import Recipient
from db.models import (
    Association,
    AssociationUser,
    DeskLoginToken,
    DeskSession,
    Enquiry,
    EnquiryEvent,
    Escalation,
    InboxUpdate,
    OutboxMessage,
    utcnow,
)
from db.plumbing.audit import jsonable
from db.plumbing.phrases import N_, DomainError

"""The text of the queue entry that asks the coordinator to erase a user's data (Swedish)."""


class UnknownUser(DomainError, LookupError):
    """No data is held about this Telegram user id."""


class BadUserId(DomainError):
    """A text that cannot be a Telegram user id."""


NO_ASSOCIATION_USER = N_("Det finns ingen föreningsanvändare med Telegram-id {user_id}.")


def parse_telegram_user_id(value: str) -> int:
    """Return a Telegram user id from text (a whole number ≥ 0), or raise BadUserId."""
    text = value.strip()
    if not text.isdigit():
        raise BadUserId(
            N_("{value!r} är inget Telegram-användar-id (ett positivt heltal)."), value=value
        )
    number = int(text)
    if number >= 2**63:
        raise BadUserId(N_("{value!r} är för stort för ett Telegram-användar-id."), value=value)
    return number


def _row(model: SQLModel | None) -> dict[str, Any] | None:
    """Return a model row as JSON-friendly data."""
    return jsonable(model.model_dump()) if model is not None else None


def update_sender_ids(payload: dict[str, Any]) -> set[int]:
    """Return the ids of the users who sent a Telegram update (from.id of its parts)."""
    ids: set[int] = set()
    for part in payload.values():
        if isinstance(part, dict):
            sender = part.get("from")
            if isinstance(sender, dict) and isinstance(sender.get("id"), int):
                ids.add(sender["id"])
    return ids


def inbox_from(*, session: Session, telegram_user_id: int) -> list[InboxUpdate]:
    """Return the stored Telegram updates sent by the user (kept only a few weeks)."""
    return [
        row
        for row in session.exec(select(InboxUpdate).order_by(col(InboxUpdate.update_id)))
        if telegram_user_id in update_sender_ids(row.payload or {})
    ]


def find_user(*, session: Session, telegram_user_id: int) -> AssociationUser | None:
    """Return the association user with this Telegram id, or None."""
    return session.exec(
        select(AssociationUser).where(AssociationUser.telegram_user_id == telegram_user_id)
    ).first()


def user_enquiries(*, session: Session, user: AssociationUser) -> list[Enquiry]:
    return list(
        session.exec(
            select(Enquiry).where(Enquiry.user_id == user.id).order_by(col(Enquiry.id))
        ).all()
    )


def _chat_ids(user: AssociationUser | None, telegram_user_id: int) -> set[int]:
    """Return the chats that are the user's own (the private chat has the user's id)."""
    chats = {telegram_user_id}
    if user is not None and user.chat_id is not None:
        chats.add(user.chat_id)
    return chats


DESK_SECRETS = {"token_hash", "session_hash", "csrf_token"}
"""Columns of the desk's sign-in rows that are credentials, not facts about the person."""


def desk_sign_ins(*, session: Session, telegram_user_id: int) -> list[SQLModel]:
    """Return the user's desk sign-in links and desk sessions (signing in from Telegram)."""
    links = session.exec(
        select(DeskLoginToken)
        .where(DeskLoginToken.telegram_user_id == telegram_user_id)
        .order_by(col(DeskLoginToken.id))
    ).all()
    sessions = session.exec(
        select(DeskSession)
        .where(DeskSession.telegram_user_id == telegram_user_id)
        .order_by(col(DeskSession.id))
    ).all()
    return [*links, *sessions]


def _sign_in_export(row: SQLModel) -> dict[str, Any]:
    data = {k: v for k, v in (_row(row) or {}).items() if k not in DESK_SECRETS}
    return {"kind": "link" if isinstance(row, DeskLoginToken) else "session", **data}


def export_user(
    *,
    session: Session,
    telegram_user_id: int,
    tracker_url: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Return everything held about a Telegram user as JSON-friendly data."""
    user = find_user(session=session, telegram_user_id=telegram_user_id)
    roles = crud.staff_roles(session=session, telegram_user_id=telegram_user_id)
    inbox = inbox_from(session=session, telegram_user_id=telegram_user_id)
    sign_ins = desk_sign_ins(session=session, telegram_user_id=telegram_user_id)
    if user is None and not roles and not inbox and not sign_ins:
        raise UnknownUser(
            N_("Inga uppgifter finns sparade om Telegram-användaren {user_id}."),
            user_id=telegram_user_id,
        )
    association = (
        session.get(Association, user.association_id)
        if user is not None and user.association_id is not None
        else None
    )
    enquiries = user_enquiries(session=session, user=user) if user is not None else []
    outbox = (
        session.exec(
            select(OutboxMessage)
            .where(
                OutboxMessage.recipient == Recipient.ASSOCIATION,
                OutboxMessage.recipient_id == user.id,
            )
            .order_by(col(OutboxMessage.id))
        ).all()
        if user is not None
        else []
    )
    data: dict[str, Any] = {
        "exported_at": (now or utcnow()).isoformat(),
        "telegram_user_id": telegram_user_id,
        "association_user": _row(user),
        "association": _row(association),
        "enquiries": [_enquiry_export(session=session, enquiry=e) for e in enquiries],
        "staff_roles": [_row(member) for member in roles],
        "desk_sign_ins": [_sign_in_export(row) for row in sign_ins],
        "inbox_updates": [_row(row) for row in inbox],
        "outbox_messages": [_row(row) for row in outbox],
        "tracker_events": None,
    }
    if tracker_url is not None:
        from db.enquiries.tracker_events import tracker_store, user_events

        with tracker_store(tracker_url) as connection:
            data["tracker_events"] = (
                user_events(connection, telegram_user_id) if connection is not None else []
            )
    return data


def _enquiry_export(*, session: Session, enquiry: Enquiry) -> dict[str, Any]:
    """Return one enquiry with its history and queue entries."""
    row = _row(enquiry) or {}
    row["events"] = [
        _row(event)
        for event in session.exec(
            select(EnquiryEvent)
            .where(EnquiryEvent.enquiry_id == enquiry.id)
            .order_by(col(EnquiryEvent.at), col(EnquiryEvent.id))
        )
    ]
    row["escalations"] = [
        _row(escalation)
        for escalation in session.exec(
            select(Escalation)
            .where(Escalation.enquiry_id == enquiry.id)
            .order_by(col(Escalation.id))
        )
    ]
    return row
