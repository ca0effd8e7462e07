"""The web chat on the municipality's site."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    String,
    Text,
)
from sqlmodel import Field, SQLModel

from db.models.base import utcnow


class WebChat(SQLModel, table=True):
    """A conversation in the web chat on the municipality's site (bot/channels/webchat).

    `key` is the chat's id (the writer's conversation), `visitor` the visitor's id (the writer's
    address); the browser holds a secret whose hash is `token_hash` (its first-party cookie).
    """

    __tablename__ = "web_chat"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    visitor: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    email: str | None = Field(default=None, max_length=320)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)


class WebChatEntry(SQLModel, table=True):
    """One message of a web chat's transcript: what the visitor wrote, or what Lotsen said.

    An outbound entry is an outbox row delivered into the chat (`outbox_id`: each row once),
    rendered in the row's language; an inbound one is keyed by the visitor's message
    (`message_key`: a message posted twice is recorded once) and holds it masked.
    """

    __tablename__ = "web_chat_entry"

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(foreign_key="web_chat.id", index=True)
    outbound: bool = False
    outbox_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, unique=True, nullable=True)
    )
    message_key: str | None = Field(
        default=None, sa_column=Column(String(128), unique=True, nullable=True)
    )
    text: str = Field(sa_type=Text)
    choices: list[Any] = Field(default_factory=list, sa_type=JSON)
    language: str = Field(default="sv", max_length=8)
    action: str | None = Field(default=None, max_length=64)  # the button a visitor pressed
    handled: bool = Field(default=True, index=True)  # the visitor's message was handed in
    created_at: datetime = Field(default_factory=utcnow)
