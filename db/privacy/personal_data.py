"""A person's personal data: find the person and export everything held (erasure: erasure.py).

A person writes from one or more channel identities; the export covers all of them (their
enquiries, replies, Rasa conversations, and for a Telegram identity the stored updates, staff
roles and desk sign-ins).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, SQLModel, col, select

from db.enquiries import crud
from db.enquiries.notifications import Recipient
from db.models import (
    Association,
    AssociationUser,
    ChannelIdentity,
    DeskLoginToken,
    DeskSession,
    Enquiry,
    EnquiryEvent,
    Escalation,
    Feedback,
    InboundMail,
    InboxUpdate,
    OutboxMessage,
    StaffPerson,
    WebChat,
    WebChatEntry,
    utcnow,
)
from db.people.identities import find_person, identities_of
from db.people.staff_identities import find_staff_person, staff_identities
from db.plumbing.audit import jsonable
from db.plumbing.phrases import N_, DomainError
from db.privacy.catalogue import rows_of, store

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


TELEGRAM = "telegram"
"""The channel whose user ids the command line takes (`lotsen privacy export-user <id>`)."""


def find_user(*, session: Session, telegram_user_id: int) -> AssociationUser | None:
    """Return the person with this Telegram user id, or None."""
    return find_person(session=session, channel=TELEGRAM, address=str(telegram_user_id))


def known_user(*, session: Session, telegram_user_id: int) -> AssociationUser:
    """Return the person `find_user` finds, or raise UnknownUser."""
    user = find_user(session=session, telegram_user_id=telegram_user_id)
    if user is None:
        raise UnknownUser(NO_ASSOCIATION_USER, user_id=telegram_user_id)
    return user


def telegram_ids(identities: list[ChannelIdentity]) -> list[int]:
    """Return the Telegram user ids among a person's identities."""
    return [int(i.address) for i in identities if i.channel == TELEGRAM and i.address.isdigit()]


def tracker_identities(identities: list[ChannelIdentity]) -> list[tuple[str, str]]:
    """Return the identities as the tracker store knows them: (channel, address)."""
    return [(i.channel, i.address) for i in identities]


def user_enquiries(*, session: Session, user: AssociationUser) -> list[Enquiry]:
    return list(
        session.exec(
            select(Enquiry).where(Enquiry.user_id == user.id).order_by(col(Enquiry.id))
        ).all()
    )


DESK_SECRETS = {"token_hash", "session_hash", "csrf_token"}
"""Columns of the desk's sign-in rows that are credentials, not facts about the person."""


def staff_person_of(*, session: Session, telegram_user_id: int) -> StaffPerson | None:
    """Return the staff person behind a chat-app user id, if they are staff."""
    return find_staff_person(session=session, channel=TELEGRAM, address=str(telegram_user_id))


def staff_person_id(session: Session, telegram_user_id: int) -> int | None:
    """Return the id of the staff person behind a chat-app user id, or None."""
    staff = staff_person_of(session=session, telegram_user_id=telegram_user_id)
    return staff.id if staff is not None else None


def desk_sign_ins(*, session: Session, telegram_user_id: int) -> list[SQLModel]:
    """Return the user's desk sign-in links and desk sessions (as the staff person they are)."""
    staff_id = staff_person_id(session, telegram_user_id)
    if staff_id is None:
        return []
    links = session.exec(
        select(DeskLoginToken)
        .where(DeskLoginToken.person_id == staff_id)
        .order_by(col(DeskLoginToken.id))
    ).all()
    sessions = session.exec(
        select(DeskSession).where(DeskSession.person_id == staff_id).order_by(col(DeskSession.id))
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
    """Return everything held about the person with a Telegram user id (all their identities).

    A staff member who never wrote as an association still gets their roles and sign-ins.
    """
    user = find_user(session=session, telegram_user_id=telegram_user_id)
    if user is not None:
        data = export_person(session=session, person=user, tracker_url=tracker_url, now=now)
        data["telegram_user_id"] = telegram_user_id
        return data
    roles = crud.staff_roles(session=session, person_id=staff_person_id(session, telegram_user_id))
    inbox = inbox_from(session=session, telegram_user_id=telegram_user_id)
    sign_ins = desk_sign_ins(session=session, telegram_user_id=telegram_user_id)
    if not roles and not inbox and not sign_ins:
        raise UnknownUser(
            N_("Inga uppgifter finns sparade om Telegram-användaren {user_id}."),
            user_id=telegram_user_id,
        )
    return _export(
        session=session,
        person=None,
        identities=[],
        telegram=[telegram_user_id],
        tracker_url=tracker_url,
        now=now,
    ) | {"telegram_user_id": telegram_user_id}


def export_person(
    *,
    session: Session,
    person: AssociationUser,
    tracker_url: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Return everything held about a person, across all their channel identities."""
    assert person.id is not None
    identities = identities_of(session=session, person_id=person.id)
    return _export(
        session=session,
        person=person,
        identities=identities,
        telegram=telegram_ids(identities),
        tracker_url=tracker_url,
        now=now,
    )


def _export(
    *,
    session: Session,
    person: AssociationUser | None,
    identities: list[ChannelIdentity],
    telegram: list[int],
    tracker_url: str | None,
    now: datetime | None,
) -> dict[str, Any]:
    staff = [p for t in telegram if (p := staff_person_of(session=session, telegram_user_id=t))]
    roles = [m for p in staff for m in crud.staff_roles(session=session, person_id=p.id)]
    inbox = [row for t in telegram for row in inbox_from(session=session, telegram_user_id=t)]
    sign_ins = [row for t in telegram for row in desk_sign_ins(session=session, telegram_user_id=t)]
    association = (
        session.get(Association, person.association_id)
        if person is not None and person.association_id is not None
        else None
    )
    enquiries = user_enquiries(session=session, user=person) if person is not None else []
    outbox = (
        session.exec(
            select(OutboxMessage)
            .where(
                OutboxMessage.recipient == Recipient.ASSOCIATION,
                OutboxMessage.recipient_id == person.id,
            )
            .order_by(col(OutboxMessage.id))
        ).all()
        if person is not None
        else []
    )
    data: dict[str, Any] = {
        "exported_at": (now or utcnow()).isoformat(),
        "telegram_user_id": telegram[0] if telegram else None,
        "association_user": _row(person),
        "channel_identities": [_row(identity) for identity in identities],
        "association": _row(association),
        "enquiries": [_enquiry_export(session=session, enquiry=e) for e in enquiries],
        "staff_person": [_row(person) for person in staff],
        "staff_identities": [
            _row(i) for p in staff for i in staff_identities(session=session, person_id=p.id or 0)
        ],
        "staff_roles": [_row(member) for member in roles],
        "desk_sign_ins": [_sign_in_export(row) for row in sign_ins],
        "inbox_updates": [_row(row) for row in inbox],
        "outbox_messages": [_row(row) for row in outbox],
        **_channel_stores(session=session, identities=identities, enquiries=enquiries),
        "tracker_events": None,
    }
    if tracker_url is not None:
        from db.enquiries.tracker_events import tracker_store, user_events

        known = tracker_identities(identities) or [("telegram", str(t)) for t in telegram]
        with tracker_store(tracker_url) as connection:
            data["tracker_events"] = (
                user_events(connection, known) if connection is not None else []
            )
    return data


def _channel_stores(
    *, session: Session, identities: list[ChannelIdentity], enquiries: list[Enquiry]
) -> dict[str, Any]:
    """Return the person's feedback, raw e-mails and web chats (db/privacy/catalogue.py)."""
    enquiry_ids = [q.id for q in enquiries if q.id is not None]
    feedback = session.exec(
        select(Feedback).where(col(Feedback.enquiry_id).in_(enquiry_ids)).order_by(col(Feedback.id))
    ).all()
    mails = rows_of(session, InboundMail, identities=identities, enquiry_ids=enquiry_ids)
    chats = rows_of(session, WebChat, identities=identities, enquiry_ids=enquiry_ids)
    return {
        store(Feedback).export or "": [_row(row) for row in feedback],
        store(InboundMail).export or "": [_mail_export(row) for row in mails],
        store(WebChat).export or "": [_chat_export(session=session, chat=row) for row in chats],
    }


def _mail_export(row: SQLModel) -> dict[str, Any]:
    """Return an inbound e-mail with its raw message as text (as it arrived)."""
    assert isinstance(row, InboundMail)
    data: dict[str, Any] = jsonable(row.model_dump(exclude={"raw"}))
    data["raw"] = row.raw.decode("utf-8", "replace")
    return data


def _chat_export(*, session: Session, chat: SQLModel) -> dict[str, Any]:
    """Return a web chat (without its secret's hash) and its transcript."""
    assert isinstance(chat, WebChat)
    data: dict[str, Any] = jsonable(chat.model_dump(exclude={"token_hash"}))
    data["entries"] = [
        _row(entry)
        for entry in session.exec(
            select(WebChatEntry)
            .where(WebChatEntry.chat_id == chat.id)
            .order_by(col(WebChatEntry.id))
        )
    ]
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
