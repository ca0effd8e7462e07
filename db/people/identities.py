"""People and their channel identities: who writes for an association, from where.

A person (`AssociationUser`) writes from one or more channel identities (`ChannelIdentity`):
a chat-app user, the console, a web-chat visitor, an e-mail address. Each channel hands the
domain a `Writer` (channel, address, conversation); `identify` returns the person behind it,
creating both on first contact. Answers go to the channel the person last wrote from
(`AssociationUser.channel`); a channel's outbox dispatcher finds the person's address there
with `identity_for`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, select

from db.models import AssociationUser, ChannelIdentity, utcnow


@dataclass(frozen=True)
class Writer:
    """Who wrote: the channel, the identity within it, and where replies go back.

    `address`: the identity within the channel (a user id in decimal, the console's number, a
    web-chat visitor's id, a lower-cased e-mail address). `conversation`: where replies go
    back (a chat id in decimal, a web chat's conversation id, an e-mail thread's root
    Message-ID).
    """

    channel: str
    address: str
    conversation: str | None = None


SEEN_PRECISION = timedelta(minutes=1)
"""`last_seen_at` is kept to the minute: writing again within it costs no row update."""


def find_identity(*, session: Session, channel: str, address: str) -> ChannelIdentity | None:
    """Return the identity of this address on this channel, or None."""
    return session.exec(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.address == address
        )
    ).first()


def find_person(*, session: Session, channel: str, address: str) -> AssociationUser | None:
    """Return the person behind an address on a channel, or None."""
    identity = find_identity(session=session, channel=channel, address=address)
    return session.get(AssociationUser, identity.person_id) if identity is not None else None


def identify(*, session: Session, writer: Writer, language: str) -> AssociationUser:
    """Return the person behind the writer's identity, creating both on first contact.

    Updates the identity's `last_seen_at` (to the minute) and `conversation`, and makes the
    writer's channel the person's answer channel. `language` is the new person's language.
    """
    # The identity and its person in one statement (this runs for every message).
    found = session.exec(
        select(ChannelIdentity, AssociationUser)
        .join(AssociationUser, col(AssociationUser.id) == ChannelIdentity.person_id)
        .where(ChannelIdentity.channel == writer.channel, ChannelIdentity.address == writer.address)
    ).first()
    if found is None:
        person = AssociationUser(channel=writer.channel, language=language)
        session.add(person)
        session.flush()
        _add_identity(session, person, writer)
        return person
    identity, person = found
    now = utcnow()
    if now - identity.last_seen_at >= SEEN_PRECISION:
        identity.last_seen_at = now
        person.last_seen_at = now
    if writer.conversation is not None and identity.conversation != writer.conversation:
        identity.conversation = writer.conversation
    if person.channel != writer.channel:
        person.channel = writer.channel
    return person


def identity_for(*, session: Session, person_id: int, channel: str) -> ChannelIdentity | None:
    """Return the person's identity on a channel (the most recently seen), or None."""
    return session.exec(
        select(ChannelIdentity)
        .where(ChannelIdentity.person_id == person_id, ChannelIdentity.channel == channel)
        .order_by(col(ChannelIdentity.last_seen_at).desc(), col(ChannelIdentity.id).desc())
    ).first()


def identities_of(*, session: Session, person_id: int) -> list[ChannelIdentity]:
    """Return every identity of a person, oldest first."""
    return list(
        session.exec(
            select(ChannelIdentity)
            .where(ChannelIdentity.person_id == person_id)
            .order_by(col(ChannelIdentity.id))
        ).all()
    )


def link(*, session: Session, person: AssociationUser, writer: Writer) -> ChannelIdentity:
    """Give a person another identity (e.g. their e-mail address); return it.

    An identity that belongs to someone else already is left with them (a ValueError).
    """
    assert person.id is not None
    identity = find_identity(session=session, channel=writer.channel, address=writer.address)
    if identity is not None:
        if identity.person_id != person.id:
            raise ValueError("the identity belongs to another person")
        return identity
    return _add_identity(session, person, writer)


def _add_identity(session: Session, person: AssociationUser, writer: Writer) -> ChannelIdentity:
    assert person.id is not None
    identity = ChannelIdentity(
        person_id=person.id,
        channel=writer.channel,
        address=writer.address,
        conversation=writer.conversation,
    )
    session.add(identity)
    session.flush()
    return identity
