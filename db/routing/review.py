"""Review reminders: routes whose review date has passed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from db.models import Route, utcnow
from db.routing.edits import department_keys

# --- review reminders and consistency checks ----------------------------------------------


@dataclass(frozen=True)
class OverdueRoute:
    """A route whose review date has passed."""

    route: Route
    department_key: str
    due_at: datetime

    @property
    def never_verified(self) -> bool:
        """Tell whether nobody has verified the route yet."""
        return self.route.last_verified_at is None


def overdue_routes(*, session: Session, now: datetime | None = None) -> list[OverdueRoute]:
    """Return routes not verified within their review interval, most overdue first."""
    now = now or utcnow()
    keys = department_keys(session)
    found: list[OverdueRoute] = []
    for route in session.exec(select(Route)).all():
        basis = route.last_verified_at or route.changed_at
        due = basis + timedelta(days=route.review_interval_days)
        if due <= now:
            found.append(OverdueRoute(route, keys[route.department_id], due))
    return sorted(found, key=lambda o: (o.due_at, o.route.intent))
