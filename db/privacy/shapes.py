"""How rows appear in a person's export (`/mydata`, `lotsen export-user`): the catalogue's
`shown` of a store, when it is not simply all its columns."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, SQLModel, col, select

from db.models import (
    AnswerRecord,
    DeskLoginToken,
    EnquiryEvent,
    Escalation,
    InboundMail,
    WebChat,
    WebChatEntry,
)
from db.plumbing.audit import jsonable

DESK_SECRETS = {"token_hash", "session_hash", "csrf_token"}
"""Columns of the desk's sign-in rows that are credentials, not facts about the person."""


def row(model: SQLModel | None) -> dict[str, Any] | None:
    """Return a model row as JSON-friendly data."""
    return jsonable(model.model_dump()) if model is not None else None


def plain(_: Session, model: SQLModel) -> Any:
    """All of a row's columns."""
    return row(model)


def sign_in(_: Session, model: SQLModel) -> dict[str, Any]:
    """A desk sign-in link or session without its secrets."""
    data = {k: v for k, v in (row(model) or {}).items() if k not in DESK_SECRETS}
    return {"kind": "link" if isinstance(model, DeskLoginToken) else "session", **data}


def mail(_: Session, model: SQLModel) -> dict[str, Any]:
    """An inbound e-mail with its raw message as text (as it arrived)."""
    assert isinstance(model, InboundMail)
    data: dict[str, Any] = jsonable(model.model_dump(exclude={"raw"}))
    data["raw"] = model.raw.decode("utf-8", "replace")
    return data


def chat(session: Session, model: SQLModel) -> dict[str, Any]:
    """A web chat (without its secret's hash) and its transcript."""
    assert isinstance(model, WebChat)
    data: dict[str, Any] = jsonable(model.model_dump(exclude={"token_hash"}))
    entries = select(WebChatEntry).where(WebChatEntry.chat_id == model.id)
    data["entries"] = [row(e) for e in session.exec(entries.order_by(col(WebChatEntry.id)))]
    return data


def enquiry(session: Session, model: SQLModel) -> dict[str, Any]:
    """One enquiry with its history, queue entries and answers."""
    data = row(model) or {}
    events = select(EnquiryEvent).where(EnquiryEvent.enquiry_id == getattr(model, "id", None))
    data["events"] = [
        row(event)
        for event in session.exec(events.order_by(col(EnquiryEvent.at), col(EnquiryEvent.id)))
    ]
    queue = select(Escalation).where(Escalation.enquiry_id == getattr(model, "id", None))
    data["escalations"] = [row(e) for e in session.exec(queue.order_by(col(Escalation.id)))]
    answers = select(AnswerRecord).where(AnswerRecord.enquiry_id == getattr(model, "id", None))
    data["answers"] = [row(a) for a in session.exec(answers.order_by(col(AnswerRecord.number)))]
    return data
