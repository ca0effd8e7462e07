"""The data model: municipality, departments, routes, associations, enquiries and their history.

One module per concept; every name is re-exported here, so `from db.models import X` works.
"""

from __future__ import annotations

from db.models.base import utcnow
from db.models.desk import DeskAccount, DeskLoginThrottle, DeskLoginToken, DeskSession
from db.models.enquiries import (
    AnswerRecord,
    Enquiry,
    EnquiryEvent,
    Escalation,
    Feedback,
    TrainingCandidate,
)
from db.models.enums import (
    BY_GROUP_CHAT,
    BY_MAIL,
    CHAT_APP,
    DEFAULT_DEPARTMENT_CHANNELS,
    OPEN_STATUSES,
    Channel,
    DepartmentChannels,
    EnquiryStatus,
    EscalationReason,
    EventKind,
    InboundMailState,
    StaffRole,
)
from db.models.people import Association, AssociationUser, ChannelIdentity
from db.models.plumbing import (
    AuditEntry,
    InboxUpdate,
    OutboxMessage,
    RateLimitBucket,
    RateLimitRefusal,
)
from db.models.records import DisposalDecision, DisposalLog, ErrandFiling, InboundMail, RegisterMark
from db.models.routing import Authority, Contact, Department, Municipality, Route
from db.models.staff import StaffIdentity, StaffInvite, StaffMember, StaffPerson
from db.models.webchat import WebChat, WebChatEntry

__all__ = [
    "BY_GROUP_CHAT",
    "BY_MAIL",
    "CHAT_APP",
    "DEFAULT_DEPARTMENT_CHANNELS",
    "OPEN_STATUSES",
    "AnswerRecord",
    "Association",
    "AssociationUser",
    "AuditEntry",
    "Authority",
    "Channel",
    "ChannelIdentity",
    "Contact",
    "Department",
    "DepartmentChannels",
    "DeskAccount",
    "DeskLoginThrottle",
    "DeskLoginToken",
    "DeskSession",
    "DisposalDecision",
    "DisposalLog",
    "Enquiry",
    "EnquiryEvent",
    "EnquiryStatus",
    "ErrandFiling",
    "Escalation",
    "EscalationReason",
    "EventKind",
    "Feedback",
    "InboundMail",
    "InboundMailState",
    "InboxUpdate",
    "Municipality",
    "OutboxMessage",
    "RateLimitBucket",
    "RateLimitRefusal",
    "RegisterMark",
    "Route",
    "StaffIdentity",
    "StaffInvite",
    "StaffMember",
    "StaffPerson",
    "StaffRole",
    "TrainingCandidate",
    "WebChat",
    "WebChatEntry",
    "utcnow",
]
