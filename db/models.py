"""The data model: municipality, departments, routes, associations, enquiries and their history."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC (the storage convention)."""
    return datetime.now(UTC)


class EnquiryStatus(enum.StrEnum):
    """Where an enquiry stands."""

    RECEIVED = "received"
    ROUTED = "routed"
    FORWARDED = "forwarded"
    ANSWERED = "answered"
    ESCALATED = "escalated"
    CLOSED = "closed"
    # Another authority's question: the association was told where to turn (routing/referral.py).
    REFERRED = "referred"
    # Waiting for the association to choose between two departments (routing/confirmation.py).
    CONFIRMING = "confirming"


OPEN_STATUSES = (
    EnquiryStatus.RECEIVED,
    EnquiryStatus.ROUTED,
    EnquiryStatus.FORWARDED,
    EnquiryStatus.ESCALATED,
    EnquiryStatus.CONFIRMING,
)


class EventKind(enum.StrEnum):
    """What happened to an enquiry (the append-only history)."""

    RECEIVED = "received"
    ROUTED = "routed"
    FORWARDED = "forwarded"
    REMINDED = "reminded"
    ANSWERED = "answered"
    ESCALATED = "escalated"
    CLAIMED = "claimed"
    REROUTED = "rerouted"
    ASSIGNED = "assigned"  # a department clerk handed the enquiry to a colleague
    NOTE = "note"  # an internal note of the department's, never sent to the association
    FEEDBACK = "feedback"
    REOPENED = "reopened"
    CLOSED = "closed"
    REFERRED = "referred"  # named another authority to the association
    CONFIRM_ASKED = "confirm_asked"  # asked the association to choose between two departments
    CHOSEN = "chosen"  # the association chose a department (or "something else")
    FOLLOW_UP = "follow_up"  # the association wrote more about it (a mail in its thread)


class EscalationReason(enum.StrEnum):
    """Why an enquiry landed with the coordinator."""

    UNSURE = "unsure"
    OUT_OF_SCOPE = "out_of_scope"
    HUMAN = "human"
    NOT_OURS = "not_ours"
    NOT_HELPED = "not_helped"
    SLA = "sla"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"  # the message kept failing: kept as a dead letter, the case is here
    ERASURE = "erasure"  # a request to erase personal data, for the coordinator to decide
    UNREACHABLE = "unreachable"  # routed, but no channel reaches the department
    MISREFERRED = "misreferred"  # the association says the authority named is not right
    NOT_LISTED = "not_listed"  # the association chose "something else" over two departments
    UNCONFIRMED = "unconfirmed"  # the association did not choose a department in time


class StaffRole(enum.StrEnum):
    """What a staff member may do."""

    STAFF = "staff"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


class DepartmentChannels(enum.StrEnum):
    """Where a department takes its enquiries: its Telegram group, its mailbox, or both."""

    TELEGRAM = "telegram"
    EMAIL = "email"
    BOTH = "both"


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
    telegram_chat_id: int | None = Field(default=None, sa_type=BigInteger)
    # Where forwarded enquiries go (DepartmentChannels) and the functional mailbox for e-mail;
    # without a mailbox, the e-mail address of the contact who answers today is used.
    channels: str = Field(
        default=DepartmentChannels.TELEGRAM,
        max_length=16,
        sa_column_kwargs={"server_default": DepartmentChannels.TELEGRAM.value},
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
    telegram_chat_id: int | None = Field(default=None, sa_type=BigInteger)
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


class AuditEntry(SQLModel, table=True):
    """An append-only record of a change to the routing table or to contacts."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str
    entity: str
    entity_key: str
    action: str
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class Association(SQLModel, table=True):
    """A civil-society association (förening)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    org_number: str | None = Field(default=None, max_length=16)
    # Set by staff: the "association" is one private person, so the register never publishes
    # its name (db/records/private_person.py).
    private_person: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    created_at: datetime = Field(default_factory=utcnow)


class AssociationUser(SQLModel, table=True):
    """A person who writes for an association, from one or more channel identities.

    The person is reached on `channel`, the channel they last wrote from; their addresses on
    each channel are their `ChannelIdentity` rows. An erased person keeps the row (enquiry
    statistics) with `erased_at` set and no identities left.
    """

    __tablename__ = "association_user"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(default="telegram", max_length=16)  # where answers go (last written from)
    association_id: int | None = Field(default=None, foreign_key="association.id", index=True)
    language: str = "sv"
    awaiting: str | None = None  # what the bot asked for and waits on, e.g. "association"
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    erased_at: datetime | None = None


class ChannelIdentity(SQLModel, table=True):
    """One address of a person on one channel: a Telegram user, the console, a web-chat
    visitor, an e-mail address. `conversation` is where replies go back within the channel
    (a Telegram chat, a web chat's conversation, an e-mail thread's root Message-ID)."""

    __tablename__ = "channel_identity"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="association_user.id", index=True)
    channel: str = Field(max_length=16)
    address: str = Field(max_length=320)
    conversation: str | None = Field(default=None, max_length=998)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)


class Enquiry(SQLModel, table=True):
    """A question from an association, from arrival to closing."""

    id: int | None = Field(default=None, primary_key=True)
    reference: str | None = Field(
        default=None, sa_column=Column(String(32), unique=True, nullable=True, index=True)
    )
    message_key: str | None = Field(
        default=None, sa_column=Column(String(64), unique=True, nullable=True)
    )
    user_id: int | None = Field(default=None, foreign_key="association_user.id", index=True)
    association_id: int | None = Field(default=None, foreign_key="association.id", index=True)
    chat_id: int | None = Field(default=None, sa_type=BigInteger)
    text: str = Field(sa_type=Text)
    language: str = "sv"  # the language the association is answered in for this enquiry
    # What the text is written in (ISO 639-1, any language), None when too short to tell.
    detected_language: str | None = Field(default=None, max_length=8, index=True)
    intent: str | None = None
    confidence: float | None = None
    guesses: list[list[Any]] = Field(default_factory=list, sa_type=JSON)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    status: str = Field(default=EnquiryStatus.RECEIVED, max_length=16, index=True)
    answer_text: str | None = Field(default=None, sa_type=Text)
    answered_by: str | None = None
    # The department colleague the enquiry is assigned to (a Telegram user id, or minus a desk
    # account's id); None while nobody in particular has it.
    assigned_to: int | None = Field(default=None, sa_type=BigInteger)
    helpful: bool | None = None
    # The other authority the association was referred to (an Authority key), if any.
    referred_to: str | None = Field(default=None, max_length=64, index=True)
    sla_due_at: datetime | None = None
    reminder_due_at: datetime | None = None
    reminded_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)
    routed_at: datetime | None = None
    forwarded_at: datetime | None = None
    answered_at: datetime | None = None
    escalated_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class EnquiryEvent(SQLModel, table=True):
    """One step in an enquiry's history. Rows are only ever added."""

    __tablename__ = "enquiry_event"

    id: int | None = Field(default=None, primary_key=True)
    enquiry_id: int = Field(foreign_key="enquiry.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    kind: str = Field(max_length=16)
    actor: str
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class Escalation(SQLModel, table=True):
    """An enquiry in the coordinator's queue."""

    id: int | None = Field(default=None, primary_key=True)
    enquiry_id: int = Field(foreign_key="enquiry.id", index=True)
    reason: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    claimed_by: int | None = Field(default=None, sa_type=BigInteger)
    claimed_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None


class StaffMember(SQLModel, table=True):
    """A municipal employee known to the bot by numeric Telegram user id."""

    __tablename__ = "staff_member"
    __table_args__ = (UniqueConstraint("telegram_user_id", "role", "department_id"),)

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = Field(sa_type=BigInteger, index=True)
    name: str | None = None
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
    used_by: int | None = Field(default=None, sa_type=BigInteger)


class InboxUpdate(SQLModel, table=True):
    """A Telegram update, stored before it is acknowledged and processed from here.

    An update that keeps failing becomes a dead letter (`dead_at`): kept with its error, out
    of the processing until `lotsen inbox retry` puts it back or `lotsen inbox drop` ends it.
    """

    __tablename__ = "inbox_update"

    update_id: int = Field(sa_type=BigInteger, primary_key=True)
    payload: dict[str, Any] = Field(sa_type=JSON)
    chat_id: int | None = Field(default=None, sa_type=BigInteger, index=True)  # its lane
    # Who sent it, as channel:address (the person key), written at intake: erasure and export
    # find a person's updates by it without reading the channel's format.
    sender: str | None = Field(default=None, max_length=128, index=True)
    received_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = Field(default=None, index=True)
    claimed_until: datetime | None = None  # a bot process works on it until then (claims.py)
    claimed_by: str | None = Field(default=None, max_length=64)  # which process ("host:pid")
    attempts: int = 0
    error: str | None = None
    dead_at: datetime | None = None


class OutboxMessage(SQLModel, table=True):
    """A notification for one recipient on one channel: a message kind and its parameters.

    Written in the same transaction as the change it reports; a channel's dispatcher resolves
    the recipient to an address (a chat id, a mailbox), renders the kind in the row's language
    and sends it once. Rows never hold rendered text (see db/enquiries/notifications.py).
    """

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    channel: str = Field(default="telegram", max_length=16, index=True)
    recipient: str = Field(max_length=16)
    recipient_id: int | None = Field(default=None, sa_type=BigInteger)
    language: str = Field(default="sv", max_length=8)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    dedupe_key: str | None = Field(
        default=None, sa_column=Column(String(128), unique=True, nullable=True)
    )
    enquiry_id: int | None = Field(default=None, foreign_key="enquiry.id", index=True)
    escalation_id: int | None = Field(default=None, foreign_key="escalation.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    not_before: datetime | None = None
    claimed_until: datetime | None = None  # a bot process sends it until then (claims.py)
    claimed_by: str | None = Field(default=None, max_length=64)  # which process ("host:pid")
    attempts: int = 0
    # Set when a send starts; cleared when it certainly did not arrive. Set without `sent_at`
    # after a crash or a timeout: the message may have arrived (the channel checks first).
    sending_at: datetime | None = None
    sent_at: datetime | None = Field(default=None, index=True)
    address: str | None = Field(default=None, max_length=320)
    external_id: str | None = Field(default=None, max_length=64)
    error: str | None = None


class TrainingCandidate(SQLModel, table=True):
    """A corrected question proposed as a training example; used only after review."""

    __tablename__ = "training_candidate"

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_type=Text)
    intent: str
    enquiry_id: int | None = Field(default=None, foreign_key="enquiry.id")
    created_at: datetime = Field(default_factory=utcnow)
    reviewed_at: datetime | None = None
    reviewed_by: str | None = None
    accepted: bool | None = None


class DeskAccount(SQLModel, table=True):
    """A local desk login for a machine without Telegram; carries its own role and department."""

    __tablename__ = "desk_account"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    password_hash: str = Field(sa_type=Text)
    role: str = Field(max_length=16)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    created_at: datetime = Field(default_factory=utcnow)
    disabled_at: datetime | None = None


class DeskLoginToken(SQLModel, table=True):
    """A one-time desk sign-in link (only the token's hash is stored).

    Either a staff member's link sent through Telegram (`telegram_user_id`), or a signed link
    in a department's e-mail that opens one enquiry for that mailbox (`enquiry_id`, `mailbox`).
    """

    __tablename__ = "desk_login_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    telegram_user_id: int | None = Field(default=None, sa_type=BigInteger)
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
    telegram_user_id: int | None = Field(default=None, sa_type=BigInteger)
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


# The register (db/records): what the lifecycle does not hold. Its facts are read from the
# enquiries and their history; only marks, disposal decisions and errands are kept here.
class RegisterMark(SQLModel, table=True):
    """What the register must hold back about one enquiry's texts (set by staff or detected).

    `personal_data`: the text names or identifies a person; `secret`: it may be covered by
    secrecy (offentlighets- och sekretesslagen) and is shown to nobody before a review.
    """

    __tablename__ = "register_mark"

    id: int | None = Field(default=None, primary_key=True)
    enquiry_id: int = Field(foreign_key="enquiry.id", unique=True)
    personal_data: bool = False
    secret: bool = False
    marked_by: str = Field(max_length=64)
    marked_at: datetime = Field(default_factory=utcnow)


class DisposalDecision(SQLModel, table=True):
    """A formal decision (gallringsbeslut) that allows kinds of data to be disposed of."""

    __tablename__ = "disposal_decision"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    decided_on: date
    # The kinds of data it covers (db/privacy/disposal.py KINDS), each with its period in days.
    covers: dict[str, int] = Field(default_factory=dict, sa_type=JSON)
    note: str = ""
    recorded_by: str = Field(max_length=64)
    recorded_at: datetime = Field(default_factory=utcnow)


class DisposalLog(SQLModel, table=True):
    """One disposal: what kind, how many, under which decision (never what was disposed of)."""

    __tablename__ = "disposal_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    kind: str = Field(max_length=32)
    count: int
    decision_id: int = Field(foreign_key="disposal_decision.id", index=True)


class ErrandFiling(SQLModel, table=True):
    """An enquiry filed as an errand in the municipality's case system (SupportManagement)."""

    __tablename__ = "errand_filing"

    id: int | None = Field(default=None, primary_key=True)
    enquiry_id: int = Field(foreign_key="enquiry.id", unique=True)
    errand_id: str = Field(max_length=64)
    errand_number: str | None = Field(default=None, max_length=64)
    filed_at: datetime = Field(default_factory=utcnow)


class AnswerRecord(SQLModel, table=True):
    """One answer (or revised answer) to an association, its text kept as a record of its own.

    Written with the answer (db/enquiries/answers.py); its text is disposed of with the
    enquiry's texts, under a disposal decision.
    """

    __tablename__ = "answer_record"
    __table_args__ = (UniqueConstraint("enquiry_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    enquiry_id: int = Field(foreign_key="enquiry.id", index=True)
    number: int  # 1 for the first answer, 2 for the next (a revised answer), …
    text: str = Field(sa_type=Text)
    by: str = Field(max_length=64)  # the department's key, or "coordinator"
    actor: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, index=True)


class Feedback(SQLModel, table=True):
    """An association's feedback on one answer: one tap (helped or not), an optional comment.

    The comment may hold personal data: it is masked when written, shown to the department and
    the coordinator, never published, and disposed of under a disposal decision
    (`feedback_comments`).
    """

    __tablename__ = "feedback"

    id: int | None = Field(default=None, primary_key=True)
    enquiry_id: int = Field(foreign_key="enquiry.id", index=True)
    answer_id: int | None = Field(default=None, foreign_key="answer_record.id", unique=True)
    helpful: bool
    channel: str = Field(max_length=16)  # the channel it was given in (a chat, or a link)
    given_at: datetime = Field(default_factory=utcnow, index=True)
    comment: str | None = Field(default=None, sa_type=Text)
    comment_at: datetime | None = None


class RateLimitBucket(SQLModel, table=True):
    """One person's inbound token bucket, shared by every bot worker and channel."""

    __tablename__ = "rate_limit_bucket"

    # A channel-neutral key for the person writing: "telegram:<user id>", "console:<n>", …
    person: str = Field(primary_key=True, max_length=128)
    tokens: float
    updated: float = Field(index=True)  # when the person sent the last counted message (epoch s)
    notified: bool = False  # this flood already got its one notice
    admitted: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class RateLimitRefusal(SQLModel, table=True):
    """How many messages of one person the rate limit refused on one day (for the coordinator)."""

    __tablename__ = "rate_limit_refusal"

    person: str = Field(primary_key=True, max_length=128)
    day: date = Field(primary_key=True)
    refused: int = 0


class WebChat(SQLModel, table=True):
    """A conversation in the web chat on the municipality's site (bot/channels/webchat).

    `key` is the chat's id (the writer's conversation), `visitor` the visitor's id (the writer's
    address); the browser holds a secret whose hash is `token_hash` (its first-party cookie).
    """

    __tablename__ = "web_chat"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    visitor: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    email: str | None = Field(default=None, max_length=320)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)


class WebChatEntry(SQLModel, table=True):
    """One message of a web chat's transcript: what the visitor wrote, or what Lotsen said.

    An outbound entry is an outbox row delivered into the chat (`outbox_id`: each row once),
    rendered in the row's language; an inbound one is keyed by the visitor's message
    (`message_key`: a message posted twice is recorded once) and holds it masked.
    """

    __tablename__ = "web_chat_entry"

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(foreign_key="web_chat.id", index=True)
    outbound: bool = False
    outbox_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, unique=True, nullable=True)
    )
    message_key: str | None = Field(
        default=None, sa_column=Column(String(128), unique=True, nullable=True)
    )
    text: str = Field(sa_type=Text)
    choices: list[Any] = Field(default_factory=list, sa_type=JSON)
    language: str = Field(default="sv", max_length=8)
    action: str | None = Field(default=None, max_length=64)  # the button a visitor pressed
    handled: bool = Field(default=True, index=True)  # the visitor's message was handed in
    created_at: datetime = Field(default_factory=utcnow)


class InboundMailState(enum.StrEnum):
    """Where an inbound e-mail stands (db/records/inbound_mail.py)."""

    NEW = "new"  # stored, not yet handled (a crash after storing leaves it here)
    DONE = "done"  # handled: an enquiry, a follow-up or a department's answer
    IGNORED = "ignored"  # an auto-reply, a bounce, bulk mail or our own: never answered
    REFUSED = "refused"  # answered politely and not relayed (expired token, no text, too big)
    HELD = "held"  # kept for the coordinator (`lotsen inbox mail`), not relayed
    FAILED = "failed"  # handling kept failing; kept for the coordinator
    DROPPED = "dropped"  # the coordinator dropped it


class InboundMail(SQLModel, table=True):
    """One e-mail that reached Lotsen (over IMAP or the SMTP listener), kept as it arrived.

    Keyed by its Message-ID: the same mail arriving twice (a poll after a crash, the gateway
    delivering again) is stored and handled once. The raw message is an allmän handling.
    """

    __tablename__ = "inbound_mail"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(255), unique=True, nullable=False))
    source: str = Field(max_length=8)  # "imap" or "smtp"
    sender: str | None = Field(default=None, max_length=320)  # the From address, lower-cased
    recipient: str | None = Field(default=None, max_length=320)  # the address it was sent to
    subject: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    size: int = 0
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, index=True)
    state: str = Field(default=InboundMailState.NEW, max_length=16, index=True)
    reason: str | None = Field(default=None, max_length=32)  # why ignored, refused or held
    enquiry_id: int | None = Field(default=None, foreign_key="enquiry.id", index=True)
    handled_at: datetime | None = None
    attempts: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
