"""The machinery: the audit trail, inbox and outbox, rate limits."""

from __future__ import annotations

from datetime import date, datetime
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


class AuditEntry(SQLModel, table=True):
    """An append-only record of a change to the routing table or to contacts."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str
    entity: str
    entity_key: str
    action: str
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class InboxUpdate(SQLModel, table=True):
    """An update from the chat app, stored before it is acknowledged and processed from here.

    An update that keeps failing becomes a dead letter (`dead_at`): kept with its error, out
    of the processing until `lotsen inbox retry` puts it back or `lotsen inbox drop` ends it.
    """

    __tablename__ = "inbox_update"

    update_id: int = Field(sa_type=BigInteger, primary_key=True)
    payload: dict[str, Any] = Field(sa_type=JSON)
    chat_id: int | None = Field(default=None, sa_type=BigInteger, index=True)  # its lane
    # Who sent it, as channel:address (the person key), written at intake: erasure and export
    # find a person's updates by it without reading the channel's format.
    sender: str | None = Field(default=None, max_length=128, index=True)
    received_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = Field(default=None, index=True)
    claimed_until: datetime | None = None  # a bot process works on it until then (claims.py)
    claimed_by: str | None = Field(default=None, max_length=64)  # which process ("host:pid")
    attempts: int = 0
    error: str | None = None
    dead_at: datetime | None = None


class OutboxMessage(SQLModel, table=True):
    """A notification for one recipient on one channel: a message kind and its parameters.

    Written in the same transaction as the change it reports; a channel's dispatcher resolves
    the recipient to an address (a chat id, a mailbox), renders the kind in the row's language
    and sends it once. Rows never hold rendered text (see db/enquiries/notifications.py).
    """

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    channel: str = Field(max_length=16, index=True)  # always given: the domain picks no channel
    recipient: str = Field(max_length=16)
    recipient_id: int | None = Field(default=None, sa_type=BigInteger)
    language: str = Field(default="sv", max_length=8)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    dedupe_key: str | None = Field(
        default=None, sa_column=Column(String(128), unique=True, nullable=True)
    )
    enquiry_id: int | None = Field(default=None, foreign_key="enquiry.id", index=True)
    escalation_id: int | None = Field(default=None, foreign_key="escalation.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    not_before: datetime | None = None
    claimed_until: datetime | None = None  # a bot process sends it until then (claims.py)
    claimed_by: str | None = Field(default=None, max_length=64)  # which process ("host:pid")
    attempts: int = 0
    # Set when a send starts; cleared when it certainly did not arrive. Set without `sent_at`
    # after a crash or a timeout: the message may have arrived (the channel checks first).
    sending_at: datetime | None = None
    sent_at: datetime | None = Field(default=None, index=True)
    address: str | None = Field(default=None, max_length=320)
    external_id: str | None = Field(default=None, max_length=64)
    error: str | None = None


class RateLimitBucket(SQLModel, table=True):
    """One person's inbound token bucket, shared by every bot worker and channel."""

    __tablename__ = "rate_limit_bucket"

    # A channel-neutral key for the person writing: "<channel>:<address>", e.g. "console:1"
    person: str = Field(primary_key=True, max_length=128)
    tokens: float
    updated: float = Field(index=True)  # when the person sent the last counted message (epoch s)
    notified: bool = False  # this flood already got its one notice
    admitted: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class RateLimitRefusal(SQLModel, table=True):
    """How many messages of one person the rate limit refused on one day (for the coordinator)."""

    __tablename__ = "rate_limit_refusal"

    person: str = Field(primary_key=True, max_length=128)
    day: date = Field(primary_key=True)
    refused: int = 0
