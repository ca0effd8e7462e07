"""Consistency checks of the routing table (`lotsen routes check`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlmodel import Session, col, select

from db.models import Contact, Department, DepartmentChannels, Route, utcnow
from db.people.departments import department_mailbox, is_absent
from db.plumbing.phrases import N_, Phrase
from db.routing.export import contacts_by_department
from db.routing.routing_file import (
    routable,
)


def check_table(
    *,
    session: Session,
    domain_intents: Iterable[str],
    now: datetime | None = None,
    email_enabled: bool = True,
) -> list[Phrase]:
    """Return problems: unrouted topic intents, routes to unknown intents, contactless units,
    and departments that take enquiries by e-mail but cannot be reached that way."""
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
        problems += _contact_problems(mine, department.key, now)
        problems += _mail_problems(session, department, email_enabled, now)
    return problems


def _mail_problems(
    session: Session, department: Department, email_enabled: bool, now: datetime
) -> list[Phrase]:
    """Return why a department that chose e-mail gets no mail (nothing when it does)."""
    if department.channels not in (DepartmentChannels.EMAIL, DepartmentChannels.BOTH):
        return []
    key = {"key": department.key}
    if not department_mailbox(session=session, department=department, now=now):
        return [
            Phrase(
                N_("förvaltningen '{key}' ska få frågor per e-post men har ingen e-postadress"),
                key,
            )
        ]
    if email_enabled:
        return []
    telegram = department.channels == DepartmentChannels.BOTH and department.telegram_chat_id
    if telegram:
        return []
    return [
        Phrase(
            # Translators: SMTP_HOST is a setting's name; keep it as it is.
            N_(
                "förvaltningen '{key}' kan inte nås: e-posten är avstängd (SMTP_HOST saknas) "
                "och förvaltningen har ingen Telegram-grupp; frågorna väntar i utkorgen"
            ),
            key,
        )
    ]


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
