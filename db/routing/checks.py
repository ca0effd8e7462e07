"""Consistency checks of the routing table (`lotsen routes check`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlmodel import Session, col, select

from db.enquiries.reach import reach_problems
from db.models import Contact, Department, Route, utcnow
from db.people.departments import is_absent
from db.plumbing.phrases import N_, Phrase
from db.routing.export import contacts_by_department
from db.routing.routing_file import routable


def check_table(
    *,
    session: Session,
    domain_intents: Iterable[str],
    now: datetime | None = None,
    email_enabled: bool = True,
) -> list[Phrase]:
    """Return problems: unrouted topic intents, routes to unknown intents, contactless units,
    departments that chose e-mail without an address, and departments nobody can reach
    (db/enquiries/reach.py), each with why."""
    now = now or utcnow()
    intents = set(domain_intents)
    routes = session.exec(select(Route)).all()
    routed = {r.intent for r in routes}
    problems = [
        Phrase(N_("ämnet '{intent}' har ingen väg (frågorna går till samordnaren)"), {"intent": i})
        for i in routable(intents)
        if i not in routed
    ]
    problems += [
        Phrase(
            N_("vägen '{intent}' gäller ett ämne som inte längre finns i domain.yml"),
            {"intent": r.intent},
        )
        for r in sorted(routes, key=lambda r: r.intent)
        if r.intent not in intents
    ]
    contacts = contacts_by_department(session)
    for department in session.exec(select(Department).order_by(col(Department.key))).all():
        mine = contacts.get(department.id or 0, {})
        missing = _contact_problems(mine, department.key, now)
        problems += missing
        if "contact" in mine:  # a department without any contact is named once, as such
            problems += reach_problems(
                session=session, department=department, email_enabled=email_enabled, now=now
            )
    return problems


def _contact_problems(mine: Mapping[str, Contact], key: str, now: datetime) -> list[Phrase]:
    """Return why nobody at a department can be reached (nothing when someone can)."""
    main, deputy = mine.get("contact"), mine.get("deputy")
    if main is None:
        return [Phrase(N_("förvaltningen '{key}' har ingen kontakt"), {"key": key})]
    if is_absent(main, now) and (deputy is None or is_absent(deputy, now)):
        return [
            Phrase(
                N_("förvaltningen '{key}': kontakten är borta och ingen ersättare är på plats"),
                {"key": key},
            )
        ]
    return []
