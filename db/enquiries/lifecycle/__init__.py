"""The enquiry's lifecycle in one place: one function per state change.

Each writes the status, its event, its audit row and its notifications together, in the
caller's transaction, so that no caller can pair them wrongly. Nothing else in the code base
assigns `Enquiry.status` or adds an `EnquiryEvent` (tests/test_layers.py checks it).

- `received`: status received, event received (the enquiry row is its own record).
- `routed`: routed then forwarded (events routed, forwarded; audit route, forward; the
  forward on every channel that reaches the department), or, when none can, `escalated`
  with the reason unreachable. `routed`, `rerouted` and `chosen` all go through the one rule
  of `arrival.sent_to`.
- `forwarded`: forwarded (event, audit forward, the forward on each channel).
- `escalated`: escalated (the escalation row, event, audit, the coordinators' card; with
  `told`, the association hears that the coordinator has its question).
- `answered`: answered (event, audit answer, the answer with Yes/No buttons).
- `returned`: "not ours" — escalated (audit not_ours, card, the department's mailbox).
- `rerouted`: the coordinator's choice — routed then forwarded (events rerouted, forwarded;
  audit reroute; the previous department and the association told), or, when nothing can
  reach the department, escalated again (unreachable; the association not told "sent").
- `claimed`: the escalation's holder (event claimed, audit claim).
- `closed`: closed (event, audit close; the association told when the caller says how).
- `reopened`: escalated (events reopened, escalated; audit reopen; card).
- `referred`: referred (event, audit refer; the association hears where to turn).
- `confirmation_asked`: confirming (event confirm_asked, audit; the association chooses).
- `chosen`: routed then forwarded, or escalated (event chosen, audit choose; the
  association told).

Steps that change no status but belong to the history: `feedback` (closes or reopens),
`reminded` and `overdue` (the deadline sweep), `assigned`, `noted`, `disputed`,
`unconfirmed`, `take_confirming`, and `follow_up.add_follow_up` (an association's further
mail on its enquiry).
"""

from db.enquiries.lifecycle.arrival import (
    Sent,
    escalated,
    forwarded,
    notify_coordinator,
    received,
    recorded_as_routed,
    routed,
)
from db.enquiries.lifecycle.base import (
    SYSTEM_ACTOR,
    WAITING_STATUSES,
    WorkflowError,
    iso_moment,
    reference_of,
    resolve_open,
)
from db.enquiries.lifecycle.handling import (
    answered,
    assigned,
    claimed,
    closed,
    feedback,
    noted,
    overdue,
    reminded,
    reopened,
    rerouted,
    returned,
)
from db.enquiries.lifecycle.trust import (
    chosen,
    confirmation_asked,
    disputed,
    referred,
    take_confirming,
    unconfirmed,
)

__all__ = [
    "SYSTEM_ACTOR",
    "WAITING_STATUSES",
    "Sent",
    "WorkflowError",
    "answered",
    "assigned",
    "chosen",
    "claimed",
    "closed",
    "confirmation_asked",
    "disputed",
    "escalated",
    "feedback",
    "forwarded",
    "iso_moment",
    "noted",
    "notify_coordinator",
    "overdue",
    "received",
    "recorded_as_routed",
    "reference_of",
    "referred",
    "reminded",
    "reopened",
    "rerouted",
    "resolve_open",
    "returned",
    "routed",
    "take_confirming",
    "unconfirmed",
]
