"""The routing table seen topic by topic, and moving a topic (for the coordinator's desk page).

Every topic intent of the model is listed, also one without a route (its questions go to the
coordinator). Moving a topic is `edits.set_route` (the same audited change as
`lotsen routes set`); sending it to the coordinator is `edits.remove_route`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from db.models import AuditEntry, Contact, Department, Enquiry, Route, utcnow
from db.people.departments import active_contact
from db.routing.edits import remove_route, route_by_intent, set_route
from db.routing.routing_file import routable

QUESTION_DAYS = 30
"""How far back the page counts a topic's questions."""


@dataclass(frozen=True)
class TopicRow:
    """One topic: where its questions go, who answers them today, checks and recent questions."""

    intent: str
    route: Route | None
    department: Department | None
    answering: Contact | None
    verified_by: str | None
    questions: int

    @property
    def to_coordinator(self) -> bool:
        """Tell whether the topic's questions go to the coordinator (it has no route)."""
        return self.route is None


def _last_verifiers(session: Session, intents: Iterable[str]) -> dict[str, str]:
    """Return who last confirmed each route ("still right"), from the audit trail."""
    rows = session.exec(
        select(AuditEntry.entity_key, AuditEntry.actor)
        .where(
            AuditEntry.entity == "route",
            AuditEntry.action == "verify",
            col(AuditEntry.entity_key).in_(list(intents)),
        )
        .order_by(col(AuditEntry.at), col(AuditEntry.id))
    ).all()
    return {key: actor for key, actor in rows}  # the newest wins


def _question_counts(session: Session, since: datetime) -> dict[str, int]:
    rows = session.exec(
        select(Enquiry.intent, func.count())
        .where(col(Enquiry.created_at) >= since, col(Enquiry.intent).is_not(None))
        .group_by(col(Enquiry.intent))
    ).all()
    return {str(intent): int(count) for intent, count in rows}


def topic_overview(
    *,
    session: Session,
    domain_intents: Iterable[str],
    department_key: str | None = None,
    search: str | None = None,
    now: datetime | None = None,
) -> list[TopicRow]:
    """Return every topic (the model's topic intents and any routed intent), by name.

    `department_key` keeps the topics of one department ("" or None: all; the coordinator's
    topics with `coordinator`); `search` keeps topics whose name or description contains it.
    """
    now = now or utcnow()
    routes = {r.intent: r for r in session.exec(select(Route)).all()}
    departments = {d.id: d for d in session.exec(select(Department)).all()}
    intents = sorted(set(routable(domain_intents)) | set(routes))
    verifiers = _last_verifiers(session, routes)
    counts = _question_counts(session, now - timedelta(days=QUESTION_DAYS))
    answering: dict[int, Contact | None] = {}
    needle = (search or "").strip().casefold()
    rows: list[TopicRow] = []
    for intent in intents:
        route = routes.get(intent)
        department = departments.get(route.department_id) if route else None
        if department_key == "coordinator" and route is not None:
            continue
        if department_key not in (None, "", "coordinator") and (
            department is None or department.key != department_key
        ):
            continue
        haystack = f"{intent} {route.description if route else ''}".casefold()
        if needle and needle not in haystack:
            continue
        if department is not None and department.id is not None:
            if department.id not in answering:
                answering[department.id] = active_contact(
                    session=session, department=department, now=now
                )
            contact = answering[department.id]
        else:
            contact = None
        rows.append(
            TopicRow(
                intent=intent,
                route=route,
                department=department,
                answering=contact,
                verified_by=verifiers.get(intent),
                questions=counts.get(intent, 0),
            )
        )
    return rows


def move_topic(
    *,
    session: Session,
    intent: str,
    department_key: str | None,
    actor: str,
    domain_intents: Iterable[str] | None,
    now: datetime | None = None,
) -> bool:
    """Send a topic's questions to a department, or (None) to the coordinator; audited.

    `domain_intents` are the model's intents (None: not checked). Returns whether anything
    changed. The change is the routing table's own (`set_route`,
    `remove_route`): it takes effect on the next message, without retraining or restarting.
    """
    route = route_by_intent(session=session, intent=intent)
    if department_key is None:
        if route is None:
            return False
        remove_route(session=session, intent=intent, actor=actor, now=now)
        return True
    before = route.department_id if route is not None else None
    moved = set_route(
        session=session,
        intent=intent,
        department_key=department_key,
        actor=actor,
        domain_intents=domain_intents,
        now=now,
    )
    return before != moved.department_id
