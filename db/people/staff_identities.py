"""Staff people and their channel identities: one colleague, whichever way they come in.

A municipal employee is a `StaffPerson` with one or more `StaffIdentity` rows (channel,
address): a chat-app user, an e-mail address, the command line's operator. Their desk accounts
point to them. A channel hands the domain (channel, address) and gets the person back; the
domain never parses a channel's addresses beyond a neutral check.
"""

from __future__ import annotations

import re

from sqlmodel import Session, col, select

from db.models import DeskAccount, StaffIdentity, StaffPerson, utcnow
from db.plumbing.validation import FIELD_PROBLEM, ValidationProblem, clean_text

LOCAL_OPERATOR = ("cli", "local")
"""The identity of a local operator at the command line (`--as cli`): no role needed."""

_CHANNEL = re.compile(r"[a-z][a-z0-9_-]{0,15}")
MAX_ADDRESS = 320


def check_identity(channel: str, address: object) -> tuple[str, str]:
    """Return a (channel, address) pair in stored form, or raise ValidationProblem.

    Channel-neutral: a short lower-case channel name and a non-empty address without spaces
    (an e-mail address is stored lower-cased). What an address looks like on its channel (a
    chat-app user id, …) is the channel's to check.
    """
    channel = channel.strip().lower()
    text = str(address).strip() if isinstance(address, str | int) else ""
    if not _CHANNEL.fullmatch(channel):
        raise ValidationProblem("channel", FIELD_PROBLEM, value=channel)
    if not text or len(text) > MAX_ADDRESS or any(c.isspace() for c in text):
        raise ValidationProblem("address", FIELD_PROBLEM, value=address)
    if channel == "email":
        if text.count("@") != 1:
            raise ValidationProblem("address", FIELD_PROBLEM, value=address)
        text = text.lower()
    return channel, text


def find_staff_person(*, session: Session, channel: str, address: str) -> StaffPerson | None:
    """Return the staff person behind an address on a channel, or None."""
    identity = session.exec(
        select(StaffIdentity).where(
            StaffIdentity.channel == channel, StaffIdentity.address == address
        )
    ).first()
    return session.get(StaffPerson, identity.person_id) if identity is not None else None


def staff_person_for(
    *, session: Session, channel: str, address: str, name: str | None = None
) -> StaffPerson:
    """Return the staff person behind an identity, creating both when new.

    A new person gets `name`; a known person without a name gets it too.
    """
    channel, address = check_identity(channel, address)
    name = clean_text(name)
    person = find_staff_person(session=session, channel=channel, address=address)
    if person is None:
        person = StaffPerson(name=name)
        session.add(person)
        session.flush()
        assert person.id is not None
        session.add(StaffIdentity(person_id=person.id, channel=channel, address=address))
        session.flush()
    elif person.name is None and name is not None:
        person.name = name
        session.add(person)
    return person


def new_staff_person(*, session: Session, name: str | None) -> StaffPerson:
    """Create a staff person with no identity yet (e.g. for a new desk account)."""
    person = StaffPerson(name=clean_text(name))
    session.add(person)
    session.flush()
    return person


def add_staff_identity(
    *, session: Session, person_id: int, channel: str, address: str
) -> StaffIdentity:
    """Give a staff person another identity; an identity of someone else is a ValueError."""
    channel, address = check_identity(channel, address)
    identity = session.exec(
        select(StaffIdentity).where(
            StaffIdentity.channel == channel, StaffIdentity.address == address
        )
    ).first()
    if identity is not None:
        if identity.person_id != person_id:
            raise ValueError("the identity belongs to another staff person")
        return identity
    identity = StaffIdentity(person_id=person_id, channel=channel, address=address)
    session.add(identity)
    session.flush()
    return identity


def staff_identities(*, session: Session, person_id: int) -> list[StaffIdentity]:
    """Return every identity of a staff person, oldest first."""
    return list(
        session.exec(
            select(StaffIdentity)
            .where(StaffIdentity.person_id == person_id)
            .order_by(col(StaffIdentity.id))
        ).all()
    )


def staff_address(*, session: Session, person_id: int, channel: str) -> str | None:
    """Return a staff person's address on a channel (their first there), or None."""
    for identity in staff_identities(session=session, person_id=person_id):
        if identity.channel == channel:
            return identity.address
    return None


def person_name(*, session: Session, person_id: int | None) -> str | None:
    """Return how to call a staff person: their name, else their first identity or account."""
    if person_id is None:
        return None
    person = session.get(StaffPerson, person_id)
    if person is not None and person.name:
        return person.name
    identities = staff_identities(session=session, person_id=person_id)
    if identities:
        return f"{identities[0].channel} {identities[0].address}"
    account = session.exec(
        select(DeskAccount).where(DeskAccount.person_id == person_id).order_by(col(DeskAccount.id))
    ).first()
    return account.username if account is not None else f"#{person_id}"


def local_operator(*, session: Session) -> StaffPerson:
    """Return the staff person of the command line's local operator (created once)."""
    return staff_person_for(
        session=session, channel=LOCAL_OPERATOR[0], address=LOCAL_OPERATOR[1], name="cli"
    )


def is_local_operator(*, session: Session, person_id: int) -> bool:
    """Tell whether a staff person is the command line's local operator."""
    person = find_staff_person(
        session=session, channel=LOCAL_OPERATOR[0], address=LOCAL_OPERATOR[1]
    )
    return person is not None and person.id == person_id


def erase_staff_person(*, session: Session, person_id: int) -> None:
    """Forget a staff person's name and identities; the row stays for the history's links."""
    person = session.get(StaffPerson, person_id)
    if person is None:
        return
    for identity in staff_identities(session=session, person_id=person_id):
        session.delete(identity)
    person.name = None
    person.erased_at = utcnow()
    session.add(person)
