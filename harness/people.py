"""People in tests and benchmarks: a Telegram user as a person (or a staff person) with a
channel identity."""

from __future__ import annotations

from sqlmodel import Session

from db.intake import Writer
from db.models import AssociationUser, StaffMember, StaffPerson
from db.people.identities import find_person, identify
from db.people.staff_identities import add_staff_identity, find_staff_person, staff_person_for


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


def staff_people(session: Session, *person_ids: int, telegram: bool = False) -> None:
    """Make staff people with these ids (tests name them by constants), if not there yet.

    With `telegram`, each gets the Telegram identity of the same number.
    """
    for person_id in person_ids:
        if session.get(StaffPerson, person_id) is None:
            session.add(StaffPerson(id=person_id))
            session.flush()
            if telegram:
                add_staff_identity(
                    session=session, person_id=person_id, channel="telegram", address=str(person_id)
                )
    session.flush()


def staff_member(
    session: Session,
    telegram_user_id: int,
    role: str,
    department_id: int | None = None,
    name: str | None = None,
    created_by: str = "test",
    person_id: int | None = None,
) -> StaffMember:
    """Give the staff person behind a Telegram user a role (the person made on first use;
    `person_id` names them by a fixed id, with the Telegram identity of that number)."""
    if person_id is not None:
        staff_people(session, person_id, telegram=True)
        assert person_id == telegram_user_id
    person = staff_person_for(
        session=session, channel="telegram", address=str(telegram_user_id), name=name
    )
    assert person.id is not None
    member = StaffMember(
        person_id=person.id, role=role, department_id=department_id, created_by=created_by
    )
    session.add(member)
    session.flush()
    return member


def staff_id(session: Session, telegram_user_id: int) -> int:
    """Return the id of the staff person behind a Telegram user (who must be staff)."""
    person = find_staff_person(session=session, channel="telegram", address=str(telegram_user_id))
    assert person is not None and person.id is not None, telegram_user_id
    return person.id
