"""The municipality, its departments and contacts, the routing table, other authorities."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Column,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from db.models.base import utcnow
from db.models.enums import DEFAULT_DEPARTMENT_CHANNELS


class Municipality(SQLModel, table=True):
    """The municipality this installation serves (one row)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str
    languages: list[str] = Field(default_factory=lambda: ["sv", "en"], sa_type=JSON)
    coordinator_role: str = ""
    coordinator_department: str | None = None
    coordinator_email: str | None = None
    coordinator_phone: str | None = None
    default_sla_hours: int = 48
    workday_start_hour: int = 8
    workday_end_hour: int = 16


class Department(SQLModel, table=True):
    """A municipal department that answers associations' questions."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(64), unique=True, nullable=False, index=True))
    name: str
    name_en: str | None = None
    languages: list[str] = Field(default_factory=lambda: ["sv"], sa_type=JSON)
    sla_hours: int = 48
    # The address of the department's group on the chat app (its numeric chat id, as text;
    # the chat channel reads the number back); None when it has no group.
    group_chat: str | None = Field(default=None, max_length=64)
    # Where forwarded enquiries go (DepartmentChannels) and the functional mailbox for e-mail;
    # without a mailbox, the e-mail address of the contact who answers today is used.
    channels: str = Field(
        default=DEFAULT_DEPARTMENT_CHANNELS,
        max_length=16,
        sa_column_kwargs={"server_default": DEFAULT_DEPARTMENT_CHANNELS.value},
    )
    mailbox: str | None = Field(default=None, max_length=320)
    handles: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow)


class Contact(SQLModel, table=True):
    """A functional contact of a department: the main contact or its deputy."""

    __table_args__ = (UniqueConstraint("department_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    kind: str = Field(default="contact", max_length=16)  # "contact" or "deputy"
    role: str
    email: str | None = None
    phone: str | None = None
    hours: str | None = None
    chat: str | None = Field(default=None, max_length=64)  # the contact's own chat address
    absent_from: datetime | None = None
    absent_until: datetime | None = None
    updated_by: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class Route(SQLModel, table=True):
    """One line of the routing table: an intent handled by a department."""

    id: int | None = Field(default=None, primary_key=True)
    intent: str = Field(sa_column=Column(String(128), unique=True, nullable=False, index=True))
    department_id: int = Field(foreign_key="department.id", index=True)
    description: str = ""
    owner: str | None = None
    last_verified_at: datetime | None = None
    review_interval_days: int = 180
    changed_by: str = "seed"
    changed_at: datetime = Field(default_factory=utcnow)


class Authority(SQLModel, table=True):
    """Another authority whose questions people bring to the municipality (staff-kept).

    `names` holds its name per reply language (Swedish required); `intents` the model's
    intents that mean "this is a question for them" (db/routing/authorities.py).
    """

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(64), unique=True, nullable=False, index=True))
    names: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    handles: str = Field(default="", sa_type=Text)
    website: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=32)
    intents: list[str] = Field(default_factory=list, sa_type=JSON)
    changed_by: str = "seed"
    changed_at: datetime = Field(default_factory=utcnow)
