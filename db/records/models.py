"""The tables of the register: marks on records, disposal decisions and their log, errands.

The register's facts themselves are not copied: they are read from the enquiry, its history
and the routing table (db/records/register.py). Only what the lifecycle does not hold is kept
here.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, String
from sqlmodel import Field, SQLModel

from db.models import utcnow


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
    # The kinds of data it covers (db/records/disposal.py KINDS), each with its period in days.
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
