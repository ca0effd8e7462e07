"""Staff: people of the municipality, their channel identities, roles and invitations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.models.base import utcnow
from db.models.enums import StaffRole


class StaffPerson(SQLModel, table=True):
    """A municipal employee: one person, whatever channels they reach Lotsen from.

    Their addresses are their `StaffIdentity` rows (a chat-app user, an e-mail address, the
    command line), their desk accounts point here, and their roles are `StaffMember` rows.
    Enquiries are assigned to, and escalations claimed by, a staff person.
    """

    __tablename__ = "staff_person"

    id: int | None = Field(default=None, primary_key=True)
    name: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    erased_at: datetime | None = None


class StaffIdentity(SQLModel, table=True):
    """One address of a staff person on one channel (unique across staff)."""

    __tablename__ = "staff_identity"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="staff_person.id", index=True)
    channel: str = Field(max_length=16)
    address: str = Field(max_length=320)
    created_at: datetime = Field(default_factory=utcnow)


class StaffMember(SQLModel, table=True):
    """A role a staff person holds (staff of a department, coordinator, admin)."""

    __tablename__ = "staff_member"
    __table_args__ = (UniqueConstraint("person_id", "role", "department_id"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="staff_person.id", index=True)
    role: str = Field(max_length=16)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = "cli"


class StaffInvite(SQLModel, table=True):
    """A one-time code that lets a new staff member join a department."""

    __tablename__ = "staff_invite"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    role: str = Field(default=StaffRole.STAFF, max_length=16)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    expires_at: datetime
    used_at: datetime | None = None
    used_by: int | None = Field(default=None, foreign_key="staff_person.id")
