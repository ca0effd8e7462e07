"""A clerk's reply to a forward becomes the department's answer.

The reply address names the enquiry and the department (`reply_address.py`). The text above
the quoted forward and the signature (stripped by `mail-parser-reply`, which knows Swedish,
English and other languages' quote headers) is given to the same domain function as an answer
written in the desk (`workflow.answer_enquiry`): it reaches the association in its channel and
is logged like one. A reply from an address that is not the department's mailbox or one of its
contacts is held for the coordinator; a changed or expired address is refused politely.
"""

from __future__ import annotations

from datetime import datetime

from mailparser_reply import EmailReplyParser
from sqlmodel import Session

from bot.channels.email.inbound import hold, refuse
from bot.channels.email.parse import Incoming
from bot.channels.email.reply_address import BadToken, read_reply_address
from bot.settings import Settings
from db.enquiries import workflow
from db.models import Department, Enquiry, InboundMail, InboundMailState, utcnow
from db.records.inbound_mail import answering_addresses

QUOTE_LANGUAGES = ["sv", "en", "de", "fi", "pl"]
_LEAD = "\u200b\n"
"""The languages whose quote headers and signature openings are recognised."""


def answer_text(text: str) -> str:
    """Return the reply's own text: without the quoted mail and without the signature."""
    parser = EmailReplyParser(languages=QUOTE_LANGUAGES, default_language="sv")
    try:
        # The library never takes the very first line for a signature's opening; a mail that
        # is only a signature ("Med vänliga hälsningar / Anna") must still come out empty.
        replies = parser.read(text=_LEAD + text).replies
    except Exception:  # the library's regular expressions on a strange text: keep it whole
        return text.strip()
    if not replies:
        return text.strip()
    return (replies[0].body or "").replace("\u200b", "").strip()


class DepartmentReplies:
    """Turn replies to forwards into answers (in the transaction that records the mail)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(
        self, session: Session, mail: InboundMail, incoming: Incoming, now: datetime | None = None
    ) -> tuple[str, str | None]:
        now = now or utcnow()
        try:
            token = read_reply_address(self.settings, mail.recipient or "", now=now)
        except BadToken as bad:
            return refuse(session, mail, incoming, bad.reason, self.settings)
        enquiry = session.get(Enquiry, token.enquiry_id)
        department = session.get(Department, token.department_id)
        if enquiry is None or department is None:
            return refuse(session, mail, incoming, "bad_token", self.settings)
        mail.enquiry_id = enquiry.id
        released = mail.reason == "released"
        allowed = answering_addresses(session=session, department=department)
        if not released and (incoming.sender or "") not in allowed:
            return hold(session, mail, incoming, "foreign_sender")
        text = answer_text(incoming.text or "")
        if not text:
            return refuse(session, mail, incoming, "empty", self.settings)
        if len(text) > workflow.MAX_ANSWER_CHARS:
            return refuse(session, mail, incoming, "too_long", self.settings)
        if enquiry.department_id != department.id or enquiry.status not in (
            workflow.WAITING_STATUSES
        ):
            return refuse(session, mail, incoming, "not_open", self.settings)
        workflow.answer_enquiry(
            session=session,
            enquiry=enquiry,
            text=text,
            actor=f"email:{incoming.sender}",
            now=now,
        )
        return InboundMailState.DONE, None
