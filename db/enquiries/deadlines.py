"""The deadline sweep: a reminder to the department, then an escalation to the coordinator.

Every bot worker runs it each minute; each reminder and each escalation is claimed once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from db.enquiries import lifecycle
from db.enquiries.lifecycle import WAITING_STATUSES, reference_of
from db.models import Enquiry
from db.plumbing.phrases import N_, Phrase


@dataclass
class SweepReport:
    """What one deadline sweep did (references of reminded and escalated enquiries)."""

    reminded: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)

    def summary(self) -> Phrase:
        """Return a one-line summary."""
        return Phrase(
            # Translators: the result of a deadline sweep: how many enquiries got a reminder,
            # and how many went to the coordinator because their deadline passed.
            N_("påminnelser: {reminded}, eskaleringar: {escalated}"),
            {"reminded": len(self.reminded), "escalated": len(self.escalated)},
        )


SWEEP_BATCH = 200


def sweep_deadlines(*, session: Session, now: datetime, limit: int = SWEEP_BATCH) -> SweepReport:
    """Send due reminders and escalate enquiries past their deadline; running twice adds nothing.

    At most `limit` enquiries are handled per call, oldest first, so a backlog after downtime is
    worked off over several sweeps instead of one long transaction that blocks the bot.
    """
    report = SweepReport()
    due = session.exec(
        select(Enquiry)
        .where(
            col(Enquiry.status).in_(list(WAITING_STATUSES)),
            (col(Enquiry.sla_due_at) <= now)
            | ((col(Enquiry.reminder_due_at) <= now) & col(Enquiry.reminded_at).is_(None)),
        )
        .order_by(col(Enquiry.id))
        .limit(limit)
    ).all()
    for enquiry in due:
        if enquiry.sla_due_at is not None and enquiry.sla_due_at <= now:
            # Past the deadline: escalate (a reminder would come too late to help).
            if lifecycle.overdue(session=session, enquiry=enquiry, now=now):
                report.escalated.append(reference_of(enquiry))
        elif lifecycle.reminded(session=session, enquiry=enquiry, now=now):
            report.reminded.append(reference_of(enquiry))
    return report
