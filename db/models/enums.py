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


class DepartmentChannels(enum.StrEnum):
    """Where a department takes its enquiries: its chat group, its mailbox, or both."""

    TELEGRAM = "telegram"
    EMAIL = "email"
    BOTH = "both"


DEFAULT_DEPARTMENT_CHANNELS = DepartmentChannels.TELEGRAM
"""What a department takes when nothing else is chosen (every department did before e-mail)."""
BY_GROUP_CHAT = frozenset({DepartmentChannels.TELEGRAM, DepartmentChannels.BOTH})
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
