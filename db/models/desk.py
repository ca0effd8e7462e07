"""The desk's accounts, sign-in links, sessions and sign-in throttle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Column,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from db.models.base import utcnow


class DeskAccount(SQLModel, table=True):
    """A desk login with a password (for a machine without a chat app), of one staff person.

    It carries its own role and department; the person behind it (`person_id`) is the colleague
    enquiries are assigned to and escalations claimed by, whichever way they sign in.
    """

    __tablename__ = "desk_account"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="staff_person.id", index=True)
    username: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    password_hash: str = Field(sa_type=Text)
    role: str = Field(max_length=16)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    created_at: datetime = Field(default_factory=utcnow)
    disabled_at: datetime | None = None


class DeskLoginToken(SQLModel, table=True):
    """A one-time desk sign-in link (only the token's hash is stored).

    Either a staff person's link sent to them in a chat (`person_id`), or a signed link in a
    department's e-mail that opens one enquiry for that mailbox (`enquiry_id`, `mailbox`).
    """

    __tablename__ = "desk_login_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    person_id: int | None = Field(default=None, foreign_key="staff_person.id")
    enquiry_id: int | None = Field(default=None, foreign_key="enquiry.id")
    mailbox: str | None = Field(default=None, max_length=320)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


class DeskSession(SQLModel, table=True):
    """A signed-in desk browser: the cookie holds a random id, the row holds its hash."""

    __tablename__ = "desk_session"

    id: int | None = Field(default=None, primary_key=True)
    session_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    # Signed in with a one-time link (the staff person's roles) or a password (`account_id`).
    person_id: int | None = Field(default=None, foreign_key="staff_person.id")
    account_id: int | None = Field(default=None, foreign_key="desk_account.id")
    # A session opened with an e-mail link: it may see and work this one enquiry only.
    enquiry_id: int | None = Field(default=None, foreign_key="enquiry.id")
    mailbox: str | None = Field(default=None, max_length=320)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    ended_at: datetime | None = None
    # Digest of the roles and departments the session was opened with; a change ends it.
    grants: str | None = Field(default=None, max_length=64)


class DeskLoginThrottle(SQLModel, table=True):
    """Recent password sign-in attempts for one username or one client address (hashed)."""

    __tablename__ = "desk_login_throttle"
    __table_args__ = (UniqueConstraint("scope", "key_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=16)
    key_hash: str = Field(sa_column=Column(String(64), nullable=False))
    attempts: int = 0
    window_started_at: datetime = Field(default_factory=utcnow, index=True)
    locked_until: datetime | None = None
