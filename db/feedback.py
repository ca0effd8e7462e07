"""Satisfaction: after an answer the association says in one tap whether it helped, then may
add a comment. The same in every channel.

- `rate` records the tap (helped or not) for the enquiry's latest answer, once per answer, and
  carries it out through the lifecycle (`record_feedback`: "yes" closes the enquiry, "no"
  reopens it to the coordinator). The channel it came from is kept, so the published
  satisfaction figure counts every channel.
- `add_comment` keeps an optional comment with it: masked like questions are (identity numbers,
  e-mail addresses, phone numbers), at most `MAX_COMMENT` characters, shown to the department
  and the coordinator and never published. Comments may hold personal data: they are disposed
  of under a disposal decision (`feedback_comments`, db/privacy/retention.py).
- In a chat channel the next text after the tap is the comment
  (`ask_in_chat` / `comment_from_chat`, within `COMMENT_WAIT`), or the skip button ends it.
- By e-mail and in the web chat the answer carries a signed link (`link_token`, HMAC-SHA256 with
  the installation's link secret, bound to the answer and its expiry; nothing stored) to the
  public page /svar/<token>: one tap records, then an optional comment form. `read_link`
  tells what a link opens, or why it opens nothing.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from db.enquiries import notifications as notify
from db.enquiries.answers import latest_answer
from db.enquiries.workflow import WorkflowError, record_feedback
from db.models import AnswerRecord, AssociationUser, Enquiry, EnquiryStatus, Feedback, utcnow
from db.plumbing.phrases import N_, DomainError
from db.privacy.masking import mask_personal_data

MAX_COMMENT = 2000
COMMENT_WAIT = timedelta(hours=24)
"""How long after the tap the next text in a chat is taken as the comment."""
LINK_DAYS = 30
"""How long a feedback link in an e-mail or the web chat works after the answer."""
AWAITING = "feedback:"
"""`AssociationUser.awaiting` while a chat waits for a comment: followed by the feedback id."""
_PURPOSE = b"lotsen-feedback-link"


class FeedbackError(DomainError):
    """Feedback that cannot be taken (given already, nothing to rate, an empty comment)."""


def feedback_for(*, session: Session, answer_id: int) -> Feedback | None:
    """Return the feedback given on one answer (None while there is none)."""
    return session.exec(select(Feedback).where(Feedback.answer_id == answer_id)).first()


def feedback_of(*, session: Session, enquiry_id: int) -> list[Feedback]:
    """Return every feedback given on an enquiry's answers, in order (for staff)."""
    return list(
        session.exec(
            select(Feedback)
            .where(Feedback.enquiry_id == enquiry_id)
            .order_by(col(Feedback.given_at), col(Feedback.id))
        ).all()
    )


def rate(
    *,
    session: Session,
    enquiry: Enquiry,
    helpful: bool,
    channel: str,
    actor: str,
    answer: AnswerRecord | None = None,
    now: datetime | None = None,
) -> Feedback:
    """Record one tap on the enquiry's latest answer (or `answer`, which must be the latest).

    Raises `WorkflowError` when the enquiry is not waiting for feedback (rated already,
    reopened, closed) or `answer` is not its latest answer.
    """
    assert enquiry.id is not None
    now = now or utcnow()
    latest = latest_answer(session=session, enquiry_id=enquiry.id)
    if answer is not None and (latest is None or latest.id != answer.id):
        raise WorkflowError(N_("{reference} är redan hanterat."), reference=enquiry.reference)
    if (
        latest is not None
        and latest.id is not None
        and feedback_for(session=session, answer_id=latest.id) is not None
    ):
        raise WorkflowError(N_("{reference} är redan hanterat."), reference=enquiry.reference)
    record_feedback(session=session, enquiry=enquiry, helpful=helpful, actor=actor, now=now)
    feedback = Feedback(
        enquiry_id=enquiry.id,
        answer_id=latest.id if latest is not None else None,
        helpful=helpful,
        channel=channel[:16],
        given_at=now,
    )
    session.add(feedback)
    session.flush()
    return feedback


def add_comment(
    *, session: Session, feedback: Feedback, text: str, now: datetime | None = None
) -> Feedback:
    """Keep the association's comment on its feedback (masked; once)."""
    cleaned = mask_personal_data(text or "").strip()
    if not cleaned:
        raise FeedbackError(N_("Kommentaren är tom."))
    if len(cleaned) > MAX_COMMENT:
        raise FeedbackError(
            N_("Kommentaren har {length} tecken; gränsen är {limit}."),
            length=len(cleaned),
            limit=MAX_COMMENT,
        )
    if feedback.comment is not None:
        raise FeedbackError(N_("Det finns redan en kommentar."))
    feedback.comment = cleaned
    feedback.comment_at = now or utcnow()
    session.flush()
    return feedback


# In a chat: the next text is the comment, or the skip button ends the wait.
def ask_in_chat(*, session: Session, user: AssociationUser, feedback: Feedback) -> None:
    """Ask the chat for an optional comment (with a skip button) and wait for the next text."""
    assert feedback.id is not None
    enquiry = session.get(Enquiry, feedback.enquiry_id)
    user.awaiting = f"{AWAITING}{feedback.id}"
    notify.to_association(
        session=session,
        user=user,
        kind=notify.Kind.FEEDBACK_COMMENT,
        language=enquiry.language if enquiry else user.language,
        enquiry=enquiry,
        dedupe_key=f"feedback:{feedback.id}:ask",
        feedback=feedback.id,
    )


def awaited(
    *, session: Session, user: AssociationUser, now: datetime | None = None
) -> Feedback | None:
    """Return the feedback a chat's next text comments on (None when it waits for none)."""
    waiting = user.awaiting or ""
    if not waiting.startswith(AWAITING) or not waiting[len(AWAITING) :].isdigit():
        return None
    feedback = session.get(Feedback, int(waiting[len(AWAITING) :]))
    now = now or utcnow()
    if feedback is None or feedback.comment is not None or feedback.given_at < now - COMMENT_WAIT:
        user.awaiting = None  # waited too long, or answered already: the text is a question
        return None
    return feedback


def comment_from_chat(
    *, session: Session, user: AssociationUser, text: str, now: datetime | None = None
) -> bool:
    """Take a chat's text as the awaited comment; False when no comment is awaited.

    The writer is thanked in the enquiry's language. A comment too long is refused politely
    and the wait goes on.
    """
    feedback = awaited(session=session, user=user, now=now)
    if feedback is None:
        return False
    enquiry = session.get(Enquiry, feedback.enquiry_id)
    language = enquiry.language if enquiry else user.language
    try:
        add_comment(session=session, feedback=feedback, text=text, now=now)
    except FeedbackError:
        notify.to_association(
            session=session,
            user=user,
            kind=notify.Kind.FEEDBACK_COMMENT_TOO_LONG,
            language=language,
            enquiry=enquiry,
            limit=MAX_COMMENT,
        )
        return True
    user.awaiting = None
    notify.to_association(
        session=session,
        user=user,
        kind=notify.Kind.FEEDBACK_THANKS,
        language=language,
        enquiry=enquiry,
        dedupe_key=f"feedback:{feedback.id}:thanks",
    )
    return True


def skip_comment(*, session: Session, user: AssociationUser, feedback_id: int) -> bool:
    """End a chat's wait for a comment on this feedback; False when it was not waiting."""
    if user.awaiting != f"{AWAITING}{feedback_id}":
        return False
    user.awaiting = None
    return True


# By e-mail and in the web chat: a signed link to /svar/<token>.
class LinkRefusal(enum.StrEnum):
    """Why a feedback link opens nothing (nothing is changed)."""

    INVALID = "invalid"  # unknown, altered or cut short
    EXPIRED = "expired"  # older than LINK_DAYS


@dataclass(frozen=True)
class LinkTarget:
    """What a valid feedback link opens: one answer of one enquiry, and what was said so far."""

    enquiry: Enquiry
    answer: AnswerRecord
    feedback: Feedback | None
    latest: bool  # the answer is still the enquiry's latest

    @property
    def may_rate(self) -> bool:
        """Tell whether a tap can still be recorded (the latest answer, waiting for it)."""
        return (
            self.feedback is None and self.latest and self.enquiry.status == EnquiryStatus.ANSWERED
        )


def _signature(secret: bytes, answer_id: int, expires: int) -> str:
    digest = hmac.new(secret + _PURPOSE, f"{answer_id}|{expires}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")


def link_token(*, secret: bytes, answer: AnswerRecord) -> str:
    """Return the signed token of an answer's feedback link (the same answer, the same token)."""
    assert answer.id is not None
    at = answer.at if answer.at.tzinfo else answer.at.replace(tzinfo=UTC)
    expires = int((at + timedelta(days=LINK_DAYS)).timestamp())
    return f"{answer.id}.{expires}.{_signature(secret, answer.id, expires)}"


def read_link(
    *, session: Session, secret: bytes, token: str, now: datetime | None = None
) -> LinkTarget | LinkRefusal:
    """Tell what a feedback link opens, or why it opens nothing (changes nothing)."""
    parts = token.split(".")
    if len(token) > 200 or len(parts) != 3 or not all(p.isdigit() for p in parts[:2]):
        return LinkRefusal.INVALID
    answer_id, expires = int(parts[0]), int(parts[1])
    expected = _signature(secret, answer_id, expires)
    if not hmac.compare_digest(expected.encode(), parts[2].encode("utf-8", "surrogatepass")):
        return LinkRefusal.INVALID
    answer = session.get(AnswerRecord, answer_id)
    enquiry = session.get(Enquiry, answer.enquiry_id) if answer is not None else None
    if answer is None or enquiry is None or enquiry.id is None:
        return LinkRefusal.INVALID
    if expires <= int((now or utcnow()).timestamp()):
        return LinkRefusal.EXPIRED
    latest = latest_answer(session=session, enquiry_id=enquiry.id)
    return LinkTarget(
        enquiry=enquiry,
        answer=answer,
        feedback=feedback_for(session=session, answer_id=answer_id),
        latest=latest is not None and latest.id == answer.id,
    )
