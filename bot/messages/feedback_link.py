"""The feedback link in an answer sent by e-mail or in the web chat (db/feedback.py).

A channel that cannot show Telegram's Yes/No buttons calls `with_feedback_url` before it
renders an `answer` row: the row's params get `feedback_url`, the signed link to the public
page /svar/<token> (in the enquiry's language), and the answer's text says "answer with one
tap" with that link instead of the buttons. The link is the same each time the row is rendered.
"""

from __future__ import annotations

from sqlmodel import Session

from bot.settings import Settings
from db.enquiries.notifications import Kind, Recipient
from db.feedback import link_token
from db.models import AnswerRecord, OutboxMessage

FEEDBACK_PATH = "/svar/"


def feedback_url(*, settings: Settings, answer: AnswerRecord, language: str) -> str:
    """Return the signed link to the feedback page of one answer, in the association's language."""
    token = link_token(secret=settings.link_signing_key(), answer=answer)
    return f"{settings.desk_url}{FEEDBACK_PATH}{token}?lang={language}"


def with_feedback_url(session: Session, row: OutboxMessage, settings: Settings) -> str | None:
    """Give an association's `answer` row its feedback link (params `feedback_url`); return it.

    None for other rows, and for answers kept before answers were records (no `answer` param).
    """
    if row.kind != Kind.ANSWER or row.recipient != Recipient.ASSOCIATION:
        return None
    params = row.params or {}
    found = params.get("feedback_url")
    if isinstance(found, str):
        return found
    answer_id = params.get("answer")
    answer = session.get(AnswerRecord, answer_id) if isinstance(answer_id, int) else None
    if answer is None:
        return None
    url = feedback_url(settings=settings, answer=answer, language=row.language)
    row.params = {**params, "feedback_url": url}
    return url
