"""People in tests and benchmarks: a Telegram user as a person with a channel identity."""

from __future__ import annotations

from sqlmodel import Session

from db.intake import Writer
from db.models import AssociationUser
from db.people.identities import find_person, identify


def telegram_writer(user_id: int, chat_id: int | None = None) -> Writer:
    """Return the writer of a Telegram user in a chat (their private chat by default)."""
    chat = user_id if chat_id is None else chat_id
    return Writer("telegram", str(user_id), str(chat))


def telegram_person(
    *, session: Session, telegram_user_id: int, chat_id: int | None, language: str = "sv"
) -> AssociationUser:
    """Return the person behind a Telegram user, created on first contact (as a channel does)."""
    return identify(
        session=session,
        writer=Writer(
            "telegram", str(telegram_user_id), str(chat_id) if chat_id is not None else None
        ),
        language=language,
    )


def person_of(session: Session, telegram_user_id: int) -> AssociationUser | None:
    """Return the person behind a Telegram user id, or None."""
    return find_person(session=session, channel="telegram", address=str(telegram_user_id))
