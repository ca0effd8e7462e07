"""The register (db/records): marks, disposal decisions, errands, inbound mail."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Column,
    LargeBinary,
    String,
    Text,
)
from sqlmodel import Field, SQLModel

from db.models.base import utcnow
from db.models.enums import InboundMailState


# The register (db/records): what the lifecycle does not hold. Its facts are read from the
# enquiries and their history; only marks, disposal decisions and errands are kept here.
class RegisterMark(SQLModel, table=True):
    """What the register must hold back about one enquiry's texts (set by staff or detected).

    `personal_data`: the text names or identifies a person; `secret`: it may be covered by
    secrecy (offentlighets- och sekretesslagen) and is shown to nobody before a review.
    """

    __tablename__ = "register_mark"

    id: int | None = Field(default=None, primary_key=True)
    enquiry_id: int = Field(foreign_key="enquiry.id", unique=True)
    personal_data: bool = False
    secret: bool = False
    marked_by: str = Field(max_length=64)
    marked_at: datetime = Field(default_factory=utcnow)


class DisposalDecision(SQLModel, table=True):
    """A formal decision (gallringsbeslut) that allows kinds of data to be disposed of."""

    __tablename__ = "disposal_decision"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    decided_on: date
    # The kinds of data it covers (db/privacy/disposal.py KINDS), each with its period in days.
    covers: dict[str, int] = Field(default_factory=dict, sa_type=JSON)
    note: str = ""
    recorded_by: str = Field(max_length=64)
    recorded_at: datetime = Field(default_factory=utcnow)


class DisposalLog(SQLModel, table=True):
    """One disposal: what kind, how many, under which decision (never what was disposed of)."""

    __tablename__ = "disposal_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    kind: str = Field(max_length=32)
    count: int
    decision_id: int = Field(foreign_key="disposal_decision.id", index=True)


class ErrandFiling(SQLModel, table=True):
    """An enquiry filed as an errand in the municipality's case system (SupportManagement)."""

    __tablename__ = "errand_filing"

    id: int | None = Field(default=None, primary_key=True)
    enquiry_id: int = Field(foreign_key="enquiry.id", unique=True)
    errand_id: str = Field(max_length=64)
    errand_number: str | None = Field(default=None, max_length=64)
    filed_at: datetime = Field(default_factory=utcnow)


class InboundMail(SQLModel, table=True):
    """One e-mail that reached Lotsen (over IMAP or the SMTP listener), kept as it arrived.

    Keyed by its Message-ID: the same mail arriving twice (a poll after a crash, the gateway
    delivering again) is stored and handled once. The raw message is an allmän handling.
    """

    __tablename__ = "inbound_mail"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(255), unique=True, nullable=False))
    source: str = Field(max_length=8)  # "imap" or "smtp"
    sender: str | None = Field(default=None, max_length=320)  # the From address, lower-cased
    recipient: str | None = Field(default=None, max_length=320)  # the address it was sent to
    subject: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    size: int = 0
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, index=True)
    state: str = Field(default=InboundMailState.NEW, max_length=16, index=True)
    reason: str | None = Field(default=None, max_length=32)  # why ignored, refused or held
    enquiry_id: int | None = Field(default=None, foreign_key="enquiry.id", index=True)
    handled_at: datetime | None = None
    attempts: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
