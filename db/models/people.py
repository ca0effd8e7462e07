"""Associations, the people who write for them and their channel identities."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    UniqueConstraint,
    false,
)
from sqlmodel import Field, SQLModel

from db.models.base import utcnow


class Association(SQLModel, table=True):
    """A civil-society association (förening)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    org_number: str | None = Field(default=None, max_length=16)
    # Set by staff: the "association" is one private person, so the register never publishes
    # its name (db/records/private_person.py).
    private_person: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    created_at: datetime = Field(default_factory=utcnow)


class AssociationUser(SQLModel, table=True):
    """A person who writes for an association, from one or more channel identities.

    The person is reached on `channel`, the channel they last wrote from; their addresses on
    each channel are their `ChannelIdentity` rows. An erased person keeps the row (enquiry
    statistics) with `erased_at` set and no identities left.
    """

    __tablename__ = "association_user"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)  # where answers go (last written from); always given
    association_id: int | None = Field(default=None, foreign_key="association.id", index=True)
    language: str = "sv"
    awaiting: str | None = None  # what the bot asked for and waits on, e.g. "association"
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    erased_at: datetime | None = None


class ChannelIdentity(SQLModel, table=True):
    """One address of a person on one channel: a chat-app user, the console, a web-chat
    visitor, an e-mail address. `conversation` is where replies go back within the channel
    (a chat-app chat, a web chat's conversation, an e-mail thread's root Message-ID)."""

    __tablename__ = "channel_identity"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="association_user.id", index=True)
    channel: str = Field(max_length=16)
    address: str = Field(max_length=320)
    conversation: str | None = Field(default=None, max_length=998)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
