"""The shapes every renderer shares: a choice, a message, and the outbox row being rendered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlmodel import Session

from db.enquiries.notifications import Recipient
from db.models import AssociationUser, Department, Enquiry, Escalation, OutboxMessage
from db.people import departments


@dataclass(frozen=True)
class Choice:
    """One button: what it says and the action string behind it (bot.messages.choices)."""

    label: str
    action: str


@dataclass(frozen=True)
class Document:
    """A file that goes with a message (its text is then the file's caption)."""

    file_name: str
    content: bytes


@dataclass
class Message:
    """A rendered message: its text, rows of choices, and a document for some kinds."""

    text: str
    choices: list[list[Choice]] = field(default_factory=list)
    document: Document | None = None


@dataclass
class Notice:
    """An outbox row being rendered, with lazy access to what it is about.

    `tracker_url` is Rasa's tracker store, for the kinds that show what it holds.
    """

    session: Session
    row: OutboxMessage
    tracker_url: str | None = None

    @property
    def language(self) -> str:
        """Return the language to render in."""
        return self.row.language

    @property
    def params(self) -> dict[str, Any]:
        """Return the kind's parameters."""
        return self.row.params or {}

    @cached_property
    def enquiry(self) -> Enquiry:
        """Return the enquiry the message is about (the row must name one)."""
        enquiry_id = self.row.enquiry_id
        if enquiry_id is None and self.escalation is not None:
            enquiry_id = self.escalation.enquiry_id
        found = self.session.get(Enquiry, enquiry_id) if enquiry_id is not None else None
        if found is None:
            raise LookupError(f"outbox row {self.row.id} names no enquiry")
        return found

    @cached_property
    def escalation(self) -> Escalation | None:
        """Return the escalation the message is about, if any."""
        if self.row.escalation_id is None:
            return None
        return self.session.get(Escalation, self.row.escalation_id)

    @cached_property
    def user(self) -> AssociationUser | None:
        """Return the association user the message is for, if it is for one."""
        if self.row.recipient != Recipient.ASSOCIATION or self.row.recipient_id is None:
            return None
        return self.session.get(AssociationUser, self.row.recipient_id)

    def department(self, key: str | None = None) -> Department | None:
        """Return the department with this key, or the enquiry's department."""
        if key is not None:
            return departments.department_by_key(session=self.session, key=key)
        department_id = self.enquiry.department_id
        return self.session.get(Department, department_id) if department_id else None


Renderer = Callable[[Notice], Message]
