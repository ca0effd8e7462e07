"""The data model's vocabularies: statuses, event kinds, reasons, roles."""

from __future__ import annotations

import enum


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


class Channel(enum.StrEnum):
    """How a message travels: where a person writes from and where a notification goes.

    The values are the channels' names in message keys, Rasa sender ids, identities and
    outbox rows; the chat app's value is the one place the domain names that app.
    """

    TELEGRAM = "telegram"
    CONSOLE = "console"
    EMAIL = "email"
    WEB = "web"  # the web chat for associations
    ERRAND = "errand"  # filed in the case system over HTTP (bot/channels/errand)


CHAT_APP = Channel.TELEGRAM
"""The chat app that carries departments' and coordinators' groups and staff's private chats."""


class DepartmentChannels(enum.StrEnum):
    """Where a department takes its enquiries: its chat group, its mailbox, or both.

    The values are what operators write (`channels:` in the routing file, the desk, the CLI):
    the chat app's channel value for its group, "email" or "both".
    """

    GROUP_CHAT = CHAT_APP.value
    EMAIL = Channel.EMAIL.value
    BOTH = "both"


DEFAULT_DEPARTMENT_CHANNELS = DepartmentChannels.GROUP_CHAT
"""What a department takes when nothing else is chosen: its chat group, as every department did
before e-mail (a routing file written then has no `channels`). A department without a group is
still reached: the forward goes to its mailbox by e-mail (db/enquiries/reach.py)."""
BY_GROUP_CHAT = frozenset({DepartmentChannels.GROUP_CHAT, DepartmentChannels.BOTH})
"""The choices that forward to the department's chat group (`Department.group_chat`)."""
BY_MAIL = frozenset({DepartmentChannels.EMAIL, DepartmentChannels.BOTH})
"""The choices that forward to the department's mailbox."""


class InboundMailState(enum.StrEnum):
    """Where an inbound e-mail stands (db/records/inbound_mail.py)."""

    NEW = "new"  # stored, not yet handled (a crash after storing leaves it here)
    DONE = "done"  # handled: an enquiry, a follow-up or a department's answer
    IGNORED = "ignored"  # an auto-reply, a bounce, bulk mail or our own: never answered
    REFUSED = "refused"  # answered politely and not relayed (expired token, no text, too big)
    HELD = "held"  # kept for the coordinator (`lotsen inbox mail`), not relayed
    FAILED = "failed"  # handling kept failing; kept for the coordinator
    DROPPED = "dropped"  # the coordinator dropped it
