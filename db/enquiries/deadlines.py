"""The deadline sweep: a reminder to the department, then an escalation to the coordinator.

Every bot worker runs it each minute; each reminder and each escalation is claimed once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from db.enquiries import crud
from db.enquiries import notifications as notify
from db.enquiries.workflow import SYSTEM_ACTOR, WAITING_STATUSES, escalate, iso_moment, reference_of
from db.models import (
    Department,
    Enquiry,
    EnquiryStatus,
    EscalationReason,
    EventKind,
)
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


def _claim_enquiry_row(
    *, session: Session, enquiry: Enquiry, set_values: dict[str, object], extra: object
) -> bool:
    """Update an enquiry only if it is still waiting (and `extra` holds); tell whether it did."""
    result = session.execute(
        update(Enquiry)
        .where(
            col(Enquiry.id) == enquiry.id,
            col(Enquiry.status).in_(list(WAITING_STATUSES)),
            extra,  # type: ignore[arg-type]
        )
        .values(**set_values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def _remind(*, session: Session, enquiry: Enquiry, now: datetime) -> bool:
    if not _claim_enquiry_row(
        session=session,
        enquiry=enquiry,
        set_values={"reminded_at": now},
        extra=col(Enquiry.reminded_at).is_(None),
    ):
        return False
    enquiry.reminded_at = now
    department = session.get(Department, enquiry.department_id) if enquiry.department_id else None
    messages = (
        notify.to_department(
            session=session,
            department=department,
            kind=notify.Kind.REMINDER,
            enquiry=enquiry,
            deadline=iso_moment(enquiry.sla_due_at),
        )
        if department is not None
        else []
    )
    crud.add_event(
        session=session,
        enquiry=enquiry,
        kind=EventKind.REMINDED,
        actor=SYSTEM_ACTOR,
        now=now,
        department=department.key if department else None,
        delivered=bool(messages),
    )
    return True


def _escalate_late(*, session: Session, enquiry: Enquiry, now: datetime) -> bool:
    if not _claim_enquiry_row(
        session=session,
        enquiry=enquiry,
        set_values={"status": EnquiryStatus.ESCALATED.value},
        extra=col(Enquiry.sla_due_at) <= now,
    ):
        return False
    escalate(
        session=session, enquiry=enquiry, reason=EscalationReason.SLA, actor=SYSTEM_ACTOR, now=now
    )
    return True


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
            if _escalate_late(session=session, enquiry=enquiry, now=now):
                report.escalated.append(reference_of(enquiry))
        elif _remind(session=session, enquiry=enquiry, now=now):
            report.reminded.append(reference_of(enquiry))
    return report
