"""Enquiries, their history, the coordinator's queue, answers and feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from db.models.base import utcnow
from db.models.enums import EnquiryStatus


class Enquiry(SQLModel, table=True):
    """A question from an association, from arrival to closing."""

    id: int | None = Field(default=None, primary_key=True)
    reference: str | None = Field(
        default=None, sa_column=Column(String(32), unique=True, nullable=True, index=True)
    )
    message_key: str | None = Field(
        default=None, sa_column=Column(String(64), unique=True, nullable=True)
    )
    user_id: int | None = Field(default=None, foreign_key="association_user.id", index=True)
    association_id: int | None = Field(default=None, foreign_key="association.id", index=True)
    chat_id: int | None = Field(default=None, sa_type=BigInteger)
    text: str = Field(sa_type=Text)
    language: str = "sv"  # the language the association is answered in for this enquiry
    # What the text is written in (ISO 639-1, any language), None when too short to tell.
    detected_language: str | None = Field(default=None, max_length=8, index=True)
    intent: str | None = None
    confidence: float | None = None
    guesses: list[list[Any]] = Field(default_factory=list, sa_type=JSON)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    status: str = Field(default=EnquiryStatus.RECEIVED, max_length=16, index=True)
    answer_text: str | None = Field(default=None, sa_type=Text)
    answered_by: str | None = None
    # The department colleague (a staff person) the enquiry is assigned to; None while nobody
    # in particular has it.
    assigned_to: int | None = Field(default=None, foreign_key="staff_person.id")
    helpful: bool | None = None
    # The other authority the association was referred to (an Authority key), if any.
    referred_to: str | None = Field(default=None, max_length=64, index=True)
    sla_due_at: datetime | None = None
    reminder_due_at: datetime | None = None
    reminded_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)
    routed_at: datetime | None = None
    forwarded_at: datetime | None = None
    answered_at: datetime | None = None
    escalated_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class EnquiryEvent(SQLModel, table=True):
    """One step in an enquiry's history. Rows are only ever added."""

    __tablename__ = "enquiry_event"

    id: int | None = Field(default=None, primary_key=True)
    enquiry_id: int = Field(foreign_key="enquiry.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    kind: str = Field(max_length=16)
    actor: str
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class Escalation(SQLModel, table=True):
    """An enquiry in the coordinator's queue."""

    id: int | None = Field(default=None, primary_key=True)
    enquiry_id: int = Field(foreign_key="enquiry.id", index=True)
    reason: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    claimed_by: int | None = Field(default=None, foreign_key="staff_person.id")  # a staff person
    claimed_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None


class AnswerRecord(SQLModel, table=True):
    """One answer (or revised answer) to an association, its text kept as a record of its own.

    Written with the answer (db/enquiries/answers.py); its text is disposed of with the
    enquiry's texts, under a disposal decision.
    """

    __tablename__ = "answer_record"
    __table_args__ = (UniqueConstraint("enquiry_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    enquiry_id: int = Field(foreign_key="enquiry.id", index=True)
    number: int  # 1 for the first answer, 2 for the next (a revised answer), …
    text: str = Field(sa_type=Text)
    by: str = Field(max_length=64)  # the department's key, or "coordinator"
    actor: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, index=True)


class Feedback(SQLModel, table=True):
    """An association's feedback on one answer: one tap (helped or not), an optional comment.

    The comment may hold personal data: it is masked when written, shown to the department and
    the coordinator, never published, and disposed of under a disposal decision
    (`feedback_comments`).
    """

    __tablename__ = "feedback"

    id: int | None = Field(default=None, primary_key=True)
    enquiry_id: int = Field(foreign_key="enquiry.id", index=True)
    answer_id: int | None = Field(default=None, foreign_key="answer_record.id", unique=True)
    helpful: bool
    channel: str = Field(max_length=16)  # the channel it was given in (a chat, or a link)
    given_at: datetime = Field(default_factory=utcnow, index=True)
    comment: str | None = Field(default=None, sa_type=Text)
    comment_at: datetime | None = None


class TrainingCandidate(SQLModel, table=True):
    """A corrected question proposed as a training example; used only after review."""

    __tablename__ = "training_candidate"

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_type=Text)
    intent: str
    enquiry_id: int | None = Field(default=None, foreign_key="enquiry.id")
    created_at: datetime = Field(default_factory=utcnow)
    reviewed_at: datetime | None = None
    reviewed_by: str | None = None
    accepted: bool | None = None
