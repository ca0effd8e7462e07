"""One description of where personal data is held: which tables and columns, how a person's
rows are found, how long they are kept (the retention setting and the disposal decision's kind
of data), how they are erased and under which name the export (`/mydata`, `lotsen privacy
export`) lists them.

`STORES` drives the purge and erasure of the channels' own stores (inbound e-mail, web chats)
through `matching`, `dispose` and `rows_of`, and the README's table of what is kept
(`readme_table`); the other stores' rules are written out in retention.py, erasure.py and
personal_data.py and described here (tests/test_privacy_catalogue.py checks both ways: every
table is described or listed in `NO_PERSONAL_DATA`, every column named exists, every kind is a
disposal kind, every setting a setting, every export name in the export).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, update
from sqlmodel import Session, SQLModel, col, select

from db.models import (
    AnswerRecord,
    Association,
    AssociationUser,
    AuditEntry,
    ChannelIdentity,
    DeskLoginThrottle,
    DeskLoginToken,
    DeskSession,
    Enquiry,
    EnquiryEvent,
    Escalation,
    Feedback,
    InboundMail,
    InboundMailState,
    InboxUpdate,
    OutboxMessage,
    RateLimitBucket,
    RateLimitRefusal,
    StaffIdentity,
    StaffInvite,
    StaffMember,
    StaffPerson,
    TrainingCandidate,
    WebChat,
    WebChatEntry,
)

PURGED = "[gallrad]"
USER_ID = "person_id"  # the column of staff roles and desk sign-ins naming the staff person


class Found(enum.StrEnum):
    """How a person's rows of a table are found."""

    PERSON = "the person's row (association_user)"
    IDENTITY = "channel_identity.person_id"
    ENQUIRY = "the person's enquiries (enquiry.user_id)"
    CHAT_USER_ID = "the person's chat-app user ids (their channel_identity rows)"
    STAFF = "the staff person behind the person's chat-app user ids (staff_identity)"
    EMAIL = "the person's e-mail addresses (channel_identity, channel email) or enquiries"
    WEB_VISITOR = "the person's web-chat visitor ids (channel_identity, channel web)"
    PERSON_KEY = "the rate limit's person key (channel:address of an identity)"
    NOT_BY_PERSON = "not by person (kept under its own retention only)"


class Erasure(enum.StrEnum):
    """What an erasure does with a person's rows."""

    DELETE = "delete"
    BLANK = "blank"  # the row stays (a public record, statistics), the columns are blanked
    MARK = "mark"  # the person's row stays with erased_at set
    KEEP = "keep"  # not erased (staff roles: removed with `lotsen staff remove`)


@dataclass(frozen=True)
class Store:
    """One table holding personal data."""

    model: type[SQLModel]
    columns: tuple[str, ...]
    found: Found
    erasure: Erasure
    export: str | None  # the key in the export, None when it is not exported
    setting: str | None = None  # the retention setting (days), None: kept while needed
    kind: str | None = None  # the disposal decision's kind of data
    blanked: dict[str, Any] = field(default_factory=dict)  # Erasure.BLANK: column → value
    note: str = ""

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)


STORES: tuple[Store, ...] = (
    Store(
        AssociationUser,
        ("channel", "language", "awaiting"),
        Found.PERSON,
        Erasure.MARK,
        "association_user",
        note="kept with erased_at (statistics), awaiting cleared",
    ),
    Store(
        Association,
        ("name", "org_number"),
        Found.PERSON,
        Erasure.KEEP,
        "association",
        note="an organisation, or one private person (then never published)",
    ),
    Store(
        ChannelIdentity,
        ("address", "conversation"),
        Found.IDENTITY,
        Erasure.DELETE,
        "channel_identities",
    ),
    Store(
        Enquiry,
        ("text", "answer_text", "chat_id", "message_key"),
        Found.ENQUIRY,
        Erasure.BLANK,
        "enquiries",
        setting="retention_enquiry_text_days",
        kind="enquiry_texts",
        blanked={"text": PURGED, "answer_text": PURGED, "chat_id": None, "message_key": None},
        note="a public record: the row stays, its texts become [gallrad]",
    ),
    Store(
        EnquiryEvent,
        ("detail",),
        Found.ENQUIRY,
        Erasure.BLANK,
        "enquiries",
        setting="retention_enquiry_text_days",
        kind="enquiry_texts",
        blanked={"detail": {"text": PURGED}},
    ),
    Store(
        Escalation,
        ("claimed_by",),
        Found.ENQUIRY,
        Erasure.KEEP,
        "enquiries",
        note="queue entries, exported with their enquiry",
    ),
    Store(
        AnswerRecord,
        ("text",),
        Found.ENQUIRY,
        Erasure.BLANK,
        "enquiries",
        setting="retention_enquiry_text_days",
        kind="enquiry_texts",
        blanked={"text": PURGED},
    ),
    Store(
        Feedback,
        ("comment",),
        Found.ENQUIRY,
        Erasure.BLANK,
        "feedback",
        setting="retention_feedback_comment_days",
        kind="feedback_comments",
        blanked={"comment": PURGED},
        note="the yes/no stays for the figures",
    ),
    Store(
        TrainingCandidate,
        ("text",),
        Found.ENQUIRY,
        Erasure.BLANK,
        None,
        setting="retention_enquiry_text_days",
        kind="enquiry_texts",
        blanked={"text": PURGED},
        note="accepted ones are reviewed training examples and stay",
    ),
    Store(
        InboxUpdate,
        ("payload",),
        Found.CHAT_USER_ID,
        Erasure.DELETE,
        "inbox_updates",
        setting="retention_inbox_days",
        kind="inbox",
    ),
    Store(
        OutboxMessage,
        ("params", "address"),
        Found.PERSON,
        Erasure.BLANK,
        "outbox_messages",
        setting="retention_inbox_days",
        kind="outbox",
        blanked={"params": {}, "address": None},
        note="unsent messages to the person are deleted",
    ),
    Store(
        DeskLoginToken,
        (USER_ID, "mailbox"),
        Found.STAFF,
        Erasure.DELETE,
        "desk_sign_ins",
        setting="retention_inbox_days",
        kind="desk_sign_ins",
    ),
    Store(
        DeskSession,
        (USER_ID,),
        Found.STAFF,
        Erasure.DELETE,
        "desk_sign_ins",
        setting="retention_inbox_days",
        kind="desk_sign_ins",
    ),
    Store(
        DeskLoginThrottle,
        ("key_hash",),
        Found.NOT_BY_PERSON,
        Erasure.KEEP,
        None,
        setting="retention_inbox_days",
        kind="desk_sign_ins",
    ),
    Store(
        RateLimitBucket,
        ("person",),
        Found.PERSON_KEY,
        Erasure.DELETE,
        None,
    ),
    Store(
        RateLimitRefusal,
        ("person",),
        Found.PERSON_KEY,
        Erasure.DELETE,
        None,
        setting="retention_inbox_days",
        kind="inbox",
    ),
    Store(
        StaffPerson,
        ("name",),
        Found.STAFF,
        Erasure.KEEP,
        "staff_person",
        note="a colleague's name; erased when their last role goes (`lotsen staff remove`)",
    ),
    Store(
        StaffIdentity,
        ("address",),
        Found.STAFF,
        Erasure.KEEP,
        "staff_identities",
        note="a colleague's chat-app user id or e-mail address; erased with their last role",
    ),
    Store(
        StaffMember,
        (USER_ID,),
        Found.STAFF,
        Erasure.KEEP,
        "staff_roles",
        note="removed with `lotsen staff remove`",
    ),
    Store(
        StaffInvite,
        ("used_by",),
        Found.NOT_BY_PERSON,
        Erasure.KEEP,
        None,
        note="staff invitations, until used or expired",
    ),
    Store(
        AuditEntry,
        ("before", "after"),
        Found.NOT_BY_PERSON,
        Erasure.KEEP,
        None,
        setting="retention_audit_days",
        kind="audit",
        note="names erased people by pseudonym only",
    ),
    Store(
        InboundMail,
        ("sender", "subject", "raw", "error"),
        Found.EMAIL,
        Erasure.BLANK,
        "inbound_mails",
        setting="retention_inbound_mail_days",
        kind="inbound_mail",
        blanked={"sender": None, "subject": PURGED, "raw": b"", "error": None},
        note="the row (its Message-ID, state, enquiry) stays so a mail is never handled twice",
    ),
    Store(
        WebChat,
        ("visitor", "email"),
        Found.WEB_VISITOR,
        Erasure.DELETE,
        "web_chats",
        setting="retention_web_chat_days",
        kind="web_chats",
        note="with its transcript",
    ),
    Store(
        WebChatEntry,
        ("text", "action"),
        Found.WEB_VISITOR,
        Erasure.DELETE,
        "web_chats",
        setting="retention_web_chat_days",
        kind="web_chats",
    ),
)
"""Every table that holds personal data."""

NO_PERSONAL_DATA = frozenset(
    {
        "municipality",
        "department",
        "contact",  # departments' functional contacts (staff, public officials)
        "route",
        "authority",
        "desk_account",  # staff accounts (not the people the service is for)
        "register_mark",
        "disposal_decision",
        "disposal_log",
        "errand_filing",
        "alembic_version",
    }
)
"""Tables that hold no personal data of the people writing to Lotsen (checked by a test)."""


def store(model: type[SQLModel]) -> Store:
    """Return the description of a table."""
    return next(s for s in STORES if s.model is model)


HANDLED_MAIL = (
    InboundMailState.DONE,
    InboundMailState.IGNORED,
    InboundMailState.REFUSED,
    InboundMailState.DROPPED,
)
"""Inbound mails whose handling is over (held, failed and new ones wait and are kept)."""


def expired(model: type[SQLModel], cutoff: datetime) -> ColumnElement[bool]:
    """Return the condition for rows of a channel's store past their retention."""
    if model is InboundMail:
        return (
            col(InboundMail.state).in_(list(HANDLED_MAIL))
            & (col(InboundMail.handled_at) < cutoff)
            & (col(InboundMail.size) > 0)
        )
    if model is WebChat:
        return col(WebChat.last_seen_at) < cutoff
    raise KeyError(model)


def of_person(
    model: type[SQLModel], *, identities: Sequence[ChannelIdentity], enquiry_ids: Sequence[int]
) -> ColumnElement[bool]:
    """Return the condition for a person's rows of a channel's store."""
    if model is InboundMail:
        emails = [i.address.lower() for i in identities if i.channel == "email"]
        return or_(
            col(InboundMail.sender).in_(emails), col(InboundMail.enquiry_id).in_(enquiry_ids)
        )
    if model is WebChat:
        visitors = [i.address for i in identities if i.channel == "web"]
        return col(WebChat.visitor).in_(visitors)
    raise KeyError(model)


def count(session: Session, model: type[SQLModel], where: ColumnElement[bool]) -> int:
    """Return how many rows of a channel's store match."""
    from sqlalchemy import func

    return int(session.exec(select(func.count()).select_from(model).where(where)).one())


def dispose(session: Session, model: type[SQLModel], where: ColumnElement[bool]) -> int:
    """Dispose of matching rows of a channel's store as its description says; return how many."""
    described = store(model)
    found = count(session, model, where)
    if not found:
        return 0
    if described.erasure == Erasure.BLANK:
        values = dict(described.blanked)
        if model is InboundMail:
            values["size"] = 0
        session.exec(update(model).where(where).values(**values))
    elif model is WebChat:
        chats = select(WebChat.id).where(where)
        session.exec(delete(WebChatEntry).where(col(WebChatEntry.chat_id).in_(chats)))
        session.exec(delete(WebChat).where(where))
    else:
        session.exec(delete(model).where(where))
    return found


def rows_of(
    session: Session,
    model: type[SQLModel],
    *,
    identities: Sequence[ChannelIdentity],
    enquiry_ids: Sequence[int],
) -> list[SQLModel]:
    """Return a person's rows of a channel's store, oldest first."""
    where = of_person(model, identities=identities, enquiry_ids=enquiry_ids)
    id_column = col(model.id)  # type: ignore[attr-defined]
    return list(session.exec(select(model).where(where).order_by(id_column)).all())


CHANNEL_STORES: tuple[type[SQLModel], ...] = (InboundMail, WebChat)
"""The stores `dispose` handles from their description (purge and erasure)."""


def readme_table() -> list[str]:
    """Return the README's table of what is kept, for how long, how erased and exported."""
    lines = [
        "| table | personal data | found by | kept (setting / decision kind) | erasure | export |",
        "|---|---|---|---|---|---|",
    ]
    for s in STORES:
        kept = f"`{s.setting.upper()}` / `{s.kind}`" if s.setting and s.kind else "while needed"
        erasure = s.erasure.value + (f" ({s.note})" if s.note else "")
        lines.append(
            f"| `{s.table}` | {', '.join(s.columns)} | {s.found.value} | {kept} | {erasure} "
            f"| {f'`{s.export}`' if s.export else '—'} |"
        )
    return lines
