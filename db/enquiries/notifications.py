"""Channel-neutral notifications: who is told what, written to the outbox with the change.

The domain decides that someone must hear of something and records it here, in the caller's
transaction: an outbox row per recipient and channel holding a message *kind* and its
parameters (ids and short facts, never rendered text). Channels render the kinds in the row's
language and resolve the recipient to an address when they send:

- an association user: the channel the user writes from (the chat app, the web chat, e-mail or
  the console);
- a department: every channel it uses (`department_channels`: its chat group, its functional
  mailbox, or both);
- the coordinators: their chat group (the queue itself is in the desk and the CLI), and the
  coordinator's mailbox for the daily digest and for alerts about mail that cannot be delivered;
- a staff member: a private chat on the chat app.

`dedupe_key` makes a reply to one inbound message exactly-once: the same key never makes a
second row, so handling a redelivered message again sends nothing twice.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from db.models import (
    BY_GROUP_CHAT,
    BY_MAIL,
    AssociationUser,
    Department,
    Enquiry,
    Escalation,
    OutboxMessage,
    utcnow,
)

# The channels (db/models/enums.py), re-exported: notifications travel on them.
from db.models import CHAT_APP as CHAT_APP
from db.models import Channel as Channel
from db.people.staff_identities import staff_address
from db.plumbing.keys import older_keys

STAFF_LANGUAGE = "sv"


class Recipient(enum.StrEnum):
    """Whom a notification is for (resolved to an address by the channel)."""

    ASSOCIATION = "association"
    DEPARTMENT = "department"
    COORDINATORS = "coordinators"
    STAFF = "staff"
    CASE_SYSTEM = "case_system"  # the municipality's errand system (SupportManagement)
    REGISTRAR = "registrar"  # the registrar's mailbox (REGISTRAR_EMAIL)
    MAILBOX = "mailbox"  # the one address in params["to"]: an answer to a mail that was refused


class Kind(enum.StrEnum):
    """Every message Lotsen sends; README lists them with their parameters."""

    # To an association, replying to what it wrote or did.
    WELCOME = "welcome"
    WELCOME_BACK = "welcome_back"
    LANGUAGE_CHOICE = "language_choice"
    LANGUAGE_SET = "language_set"
    ASK_ASSOCIATION = "ask_association"
    ASSOCIATION_SAVED = "association_saved"
    ASSOCIATION_INVALID = "association_invalid"
    HELP = "help"
    CANCELLED = "cancelled"
    STATUS = "status"
    EMPTY_MESSAGE = "empty_message"
    TOO_LONG = "too_long"
    NON_TEXT = "non_text"
    RATE_LIMITED = "rate_limited"
    SMALLTALK = "smalltalk"
    ROUTED = "routed"
    ESCALATED = "escalated"
    REFERRED = "referred"  # a question for another authority: where to turn (routing/referral.py)
    CONFIRM = "confirm"  # choose between two departments or "something else"
    PERSONAL_DATA = "personal_data"  # a document: everything held about the user (/mydata)
    ERASURE_REQUESTED = "erasure_requested"
    # To an association, about its enquiry's way through the municipality.
    ANSWER = "answer"
    FEEDBACK_CLOSED = "feedback_closed"
    FEEDBACK_REOPENED = "feedback_reopened"
    # After the tap in a chat: an optional comment (skip button), thanks, or "too long".
    FEEDBACK_COMMENT = "feedback_comment"
    FEEDBACK_THANKS = "feedback_thanks"
    FEEDBACK_COMMENT_TOO_LONG = "feedback_comment_too_long"
    CLOSED = "closed"
    REROUTED = "rerouted"
    FOLLOW_UP_ADDED = "follow_up_added"  # what it wrote more was added to its enquiry
    # To a department.
    FORWARD = "forward"
    REMINDER = "reminder"
    PROMPT = "prompt"
    FOLLOW_UP = "follow_up"  # the association wrote more about an enquiry the department has
    # To a department's mailbox: its enquiry went back to the coordinator, to another
    # department, or to one colleague (the chat group sees these steps where they happen).
    RETURNED = "returned"
    REASSIGNED = "reassigned"
    ASSIGNED = "assigned"
    # To the coordinators.
    CARD = "card"
    MAIL_FAILED = "mail_failed"
    DIGEST = "digest"
    MAIL_HELD = "mail_held"  # an inbound e-mail held for the coordinator (`lotsen inbox mail`)
    # To the sender of an inbound e-mail that was refused (a reply with a bad token, no text).
    MAIL_REFUSED = "mail_refused"
    # To the registrar: an enquiry the case system would not take, to register by hand.
    ERRAND_FAILED = "errand_failed"
    # To a staff member.
    ROUTE_REVIEW = "route_review"
    ASSIGNED_TO_YOU = "assigned_to_you"
    # To the case system: file the enquiry as an errand (rendered by the errand channel).
    FILE_ERRAND = "file_errand"
    # A text written elsewhere (by Rasa, or carried over from an older outbox): params hold it.
    TEXT = "text"


def _add(session: Session, message: OutboxMessage) -> OutboxMessage | None:
    """Add a row unless its dedupe key was used already; return it (None when deduplicated)."""
    if message.dedupe_key is not None:
        found = session.exec(
            select(OutboxMessage).where(
                col(OutboxMessage.dedupe_key).in_(older_keys(message.dedupe_key))
            )
        ).first()
        if found is not None:
            return None
    session.add(message)
    session.flush()
    return message


def to_association(
    *,
    session: Session,
    user: AssociationUser,
    kind: Kind,
    language: str,
    enquiry: Enquiry | None = None,
    dedupe_key: str | None = None,
    **params: Any,
) -> OutboxMessage | None:
    """Tell an association user something, on the channel the user writes from."""
    assert user.id is not None
    return _add(
        session,
        OutboxMessage(
            kind=kind,
            channel=user.channel,
            recipient=Recipient.ASSOCIATION,
            recipient_id=user.id,
            language=language,
            params=params,
            dedupe_key=dedupe_key,
            enquiry_id=enquiry.id if enquiry is not None else None,
        ),
    )


def to_enquirer(
    *, session: Session, enquiry: Enquiry, kind: Kind, language: str, **params: Any
) -> OutboxMessage | None:
    """Tell the association user behind an enquiry something about it (None without a user)."""
    user = session.get(AssociationUser, enquiry.user_id) if enquiry.user_id else None
    if user is None or user.erased_at is not None:
        return None  # an anonymous (channel-less) or erased person: nobody to tell
    return to_association(
        session=session, user=user, kind=kind, language=language, enquiry=enquiry, **params
    )


def department_channels(department: Department) -> list[Channel]:
    """Return the channels on which a department takes enquiries.

    The chat app when the department chose it (alone or with e-mail) and has a group; e-mail
    when it chose it. Mail waits in the outbox while e-mail is switched off (`lotsen routes check`
    names the departments nobody can then reach) and names no address until it is sent.
    """
    chosen = department.channels
    channels = []
    if chosen in BY_GROUP_CHAT and department.group_chat is not None:
        channels.append(CHAT_APP)
    if chosen in BY_MAIL:
        channels.append(Channel.EMAIL)
    return channels


def forwarded_on(*, session: Session, enquiry: Enquiry, department: Department) -> list[Channel]:
    """Return the channels the enquiry's forwards to the department were queued on."""
    found = session.exec(
        select(OutboxMessage.channel).where(
            OutboxMessage.enquiry_id == enquiry.id,
            OutboxMessage.recipient == Recipient.DEPARTMENT,
            OutboxMessage.recipient_id == department.id,
            OutboxMessage.kind == Kind.FORWARD,
        )
    ).all()
    return [channel for channel in Channel if channel in set(found)]  # the chat app first


def to_department(
    *,
    session: Session,
    department: Department,
    kind: Kind,
    enquiry: Enquiry,
    only: Channel | None = None,
    escalation: Escalation | None = None,
    channels: Sequence[Channel] | None = None,
    **params: Any,
) -> list[OutboxMessage]:
    """Tell a department something about an enquiry, on every channel it uses (or `only` one).

    `channels` overrides the department's own choice (db/enquiries/reach.py decides it for a
    forward, with the e-mail fallback). What follows a forward (a reminder, a note that the
    enquiry left) goes where the forward went, so a department reached by the e-mail fallback
    hears the rest by e-mail too.
    """
    if channels is None and kind != Kind.FORWARD:
        channels = forwarded_on(session=session, enquiry=enquiry, department=department) or None
    rows = []
    for channel in department_channels(department) if channels is None else channels:
        if only is not None and channel != only:
            continue
        row = _add(
            session,
            OutboxMessage(
                kind=kind,
                channel=channel,
                recipient=Recipient.DEPARTMENT,
                recipient_id=department.id,
                language=STAFF_LANGUAGE,
                params=params,
                enquiry_id=enquiry.id,
                escalation_id=escalation.id if escalation is not None else None,
            ),
        )
        if row is not None:
            rows.append(row)
    return rows


def to_coordinators(
    *,
    session: Session,
    kind: Kind,
    escalation: Escalation | None = None,
    enquiry_id: int | None = None,
    channel: Channel = CHAT_APP,
    dedupe_key: str | None = None,
    **params: Any,
) -> OutboxMessage | None:
    """Tell the coordinators something: on their chat group, or by e-mail to their mailbox."""
    return _add(
        session,
        OutboxMessage(
            kind=kind,
            channel=channel,
            recipient=Recipient.COORDINATORS,
            language=STAFF_LANGUAGE,
            params=params,
            dedupe_key=dedupe_key,
            enquiry_id=escalation.enquiry_id if escalation is not None else enquiry_id,
            escalation_id=escalation.id if escalation is not None else None,
        ),
    )


def to_mailbox(
    *,
    session: Session,
    address: str,
    kind: Kind,
    language: str = STAFF_LANGUAGE,
    enquiry_id: int | None = None,
    dedupe_key: str | None = None,
    **params: Any,
) -> OutboxMessage | None:
    """Answer one e-mail address (the sender of a refused inbound mail), by e-mail."""
    return _add(
        session,
        OutboxMessage(
            kind=kind,
            channel=Channel.EMAIL,
            recipient=Recipient.MAILBOX,
            language=language,
            params={**params, "to": address},
            dedupe_key=dedupe_key,
            enquiry_id=enquiry_id,
        ),
    )


def to_staff(
    *,
    session: Session,
    person_id: int,
    kind: Kind,
    dedupe_key: str | None = None,
    enquiry: Enquiry | None = None,
    **params: Any,
) -> OutboxMessage | None:
    """Tell one staff person something (about an enquiry), in a private chat; None if they
    have no identity on the chat channel (e.g. only a desk account)."""
    if staff_address(session=session, person_id=person_id, channel=CHAT_APP) is None:
        return None
    return _add(
        session,
        OutboxMessage(
            kind=kind,
            channel=CHAT_APP,
            recipient=Recipient.STAFF,
            recipient_id=person_id,
            language=STAFF_LANGUAGE,
            params=params,
            dedupe_key=dedupe_key,
            enquiry_id=enquiry.id if enquiry is not None else None,
        ),
    )


def card_sent(*, session: Session, escalation: Escalation) -> bool:
    """Tell whether the escalation's card was queued already."""
    return (
        session.exec(
            select(OutboxMessage).where(
                OutboxMessage.escalation_id == escalation.id, OutboxMessage.kind == Kind.CARD
            )
        ).first()
        is not None
    )


def record_prompt(
    *,
    session: Session,
    recipient: Recipient,
    recipient_id: int | None,
    address: str,
    external_id: str,
    enquiry_id: int | None,
    escalation_id: int | None,
) -> OutboxMessage:
    """Remember a "reply to this message" prompt a channel sent itself, so a reply finds it."""
    row = OutboxMessage(
        kind=Kind.PROMPT,
        channel=CHAT_APP,
        recipient=recipient,
        recipient_id=recipient_id,
        language=STAFF_LANGUAGE,
        enquiry_id=enquiry_id,
        escalation_id=escalation_id,
        sent_at=utcnow(),
        address=address,
        external_id=external_id,
    )
    session.add(row)
    return row


def to_case_system(*, session: Session, enquiry: Enquiry, now: datetime) -> OutboxMessage | None:
    """File an enquiry in the municipality's case system (once: the dedupe key is its id)."""
    return _add(
        session,
        OutboxMessage(
            kind=Kind.FILE_ERRAND,
            channel=Channel.ERRAND,
            recipient=Recipient.CASE_SYSTEM,
            language=STAFF_LANGUAGE,
            dedupe_key=f"errand:{enquiry.id}",
            enquiry_id=enquiry.id,
            created_at=now,
        ),
    )


def to_registrar(
    *, session: Session, enquiry_id: int | None, dedupe_key: str, **params: Any
) -> OutboxMessage | None:
    """Tell the registrar something by e-mail (REGISTRAR_EMAIL, else the coordinator's)."""
    return _add(
        session,
        OutboxMessage(
            kind=Kind.ERRAND_FAILED,
            channel=Channel.EMAIL,
            recipient=Recipient.REGISTRAR,
            language=STAFF_LANGUAGE,
            params=params,
            dedupe_key=dedupe_key,
            enquiry_id=enquiry_id,
        ),
    )
