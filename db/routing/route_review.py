"""Routes due for review: their department's staff are reminded, at most once a day."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from db.enquiries import notifications as notify
from db.models import OutboxMessage, StaffMember, StaffRole
from db.people import departments
from db.routing.review import overdue_routes

REMINDER_GAP = timedelta(hours=20)


def staff_ids(*, session: Session, department_id: int) -> list[int]:
    """Return the staff people of a department (their ids)."""
    members = session.exec(
        select(StaffMember).where(
            StaffMember.department_id == department_id, StaffMember.role == StaffRole.STAFF
        )
    ).all()
    return sorted({m.person_id for m in members})


def remind_route_reviews(*, session: Session, now: datetime) -> int:
    """Remind each department's staff of its overdue routes (once a day); return reminders."""
    by_department: dict[str, list[str]] = {}
    for overdue in overdue_routes(session=session, now=now):
        by_department.setdefault(overdue.department_key, []).append(overdue.route.intent)
    sent = 0
    for key, intents in by_department.items():
        department = departments.department_by_key(session=session, key=key)
        if department is None or department.id is None:
            continue
        for person_id in staff_ids(session=session, department_id=department.id):
            recent = session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.recipient == notify.Recipient.STAFF,
                    OutboxMessage.recipient_id == person_id,
                    OutboxMessage.kind == notify.Kind.ROUTE_REVIEW,
                    col(OutboxMessage.created_at) > now - REMINDER_GAP,
                )
            ).first()
            if recent is None and notify.to_staff(
                session=session, person_id=person_id, kind=notify.Kind.ROUTE_REVIEW, intents=intents
            ):
                sent += 1
    return sent
