"""Audited changes to the routing table: the single place where departments, contacts and
routes change. Every change writes an audit row in the caller's transaction; the CLI, the
chat app's staff handlers and the desk all call these keyword-only functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from db.models import Contact, Department, Route, utcnow
from db.people.departments import department_by_key
from db.plumbing.audit import record
from db.plumbing.validation import (
    DEPARTMENT_PROBLEM,
    FIELD_PROBLEM,
    INTENT_PROBLEM,
    KIND_PROBLEM,
    ROLE_TEXT_PROBLEM,
    ROUTE_PROBLEM,
    ValidationProblem,
    check_channels,
    check_email,
    check_group_chat,
    check_handles,
    check_phone,
    check_positive_int,
    clean_text,
    parse_chat_id,
)
from db.routing.export import (
    CONTACT_FIELDS,
    CONTACT_KINDS,
    DEPARTMENT_FIELDS,
    contact_snapshot,
    department_snapshot,
    route_snapshot,
)

# --- audited changes (the single place where the table changes) ---------------------------


def department_named(session: Session, key: str) -> Department:
    department = department_by_key(session=session, key=key)
    if department is None or department.id is None:
        raise ValidationProblem("department", DEPARTMENT_PROBLEM, value=key)
    return department


def contact_of_kind(session: Session, department: Department, kind: str) -> Contact | None:
    if kind not in CONTACT_KINDS:
        raise ValidationProblem("kind", KIND_PROBLEM, value=kind)
    return session.exec(
        select(Contact).where(Contact.department_id == department.id, Contact.kind == kind)
    ).first()


def update_department(
    *,
    session: Session,
    department_key: str,
    changes: Mapping[str, Any],
    actor: str,
    now: datetime | None = None,
) -> Department:
    """Change a department's name, SLA hours, chat group, channels, mailbox or what it
    handles (the list associations see when Lotsen describes the department) (audited)."""
    department = department_named(session, department_key)
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in DEPARTMENT_FIELDS:
            raise ValidationProblem(name, FIELD_PROBLEM, value=name)
        if name == "sla_hours":
            clean[name] = check_positive_int(value, name)
        elif name == "group_chat":
            clean[name] = check_group_chat(value, name)
        elif name == "channels":
            clean[name] = check_channels(value, name)
        elif name == "mailbox":
            clean[name] = check_email(value, name)
        elif name == "handles":
            clean[name] = check_handles(value, name)
        elif name == "name":
            text = clean_text(value)
            if text is None:
                raise ValidationProblem(name, FIELD_PROBLEM, value=name)
            clean[name] = text
        else:
            clean[name] = clean_text(value)
    apply_department(session, department, clean, actor, now or utcnow())
    return department


def apply_department(
    session: Session, department: Department, values: Mapping[str, Any], actor: str, now: datetime
) -> bool:
    diff = {k: v for k, v in values.items() if getattr(department, k) != v}
    if not diff:
        return False
    before = department_snapshot(department)
    for name, value in diff.items():
        setattr(department, name, value)
    session.add(department)
    record(
        session=session,
        actor=actor,
        entity="department",
        key=department.key,
        action="update",
        before=before,
        after=department_snapshot(department),
        now=now,
    )
    return True


def update_contact(
    *,
    session: Session,
    department_key: str,
    kind: str,
    changes: Mapping[str, Any],
    actor: str,
    now: datetime | None = None,
) -> Contact:
    """Change (or create) a department's contact or deputy; checks e-mail and phone (audited)."""
    department = department_named(session, department_key)
    contact = contact_of_kind(session, department, kind)
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in CONTACT_FIELDS:
            raise ValidationProblem(name, FIELD_PROBLEM, value=name)
        if name == "email":
            clean[name] = check_email(value, name)
        elif name == "phone":
            clean[name] = check_phone(value, name)
        elif name == "chat":
            clean[name] = None if clean_text(value) is None else str(parse_chat_id(value, name))
        else:
            clean[name] = clean_text(value)
    if "role" in clean and clean["role"] is None:
        raise ValidationProblem("role", ROLE_TEXT_PROBLEM)
    if contact is None and not clean.get("role"):
        raise ValidationProblem("role", ROLE_TEXT_PROBLEM)
    return apply_contact(session, department, kind, contact, clean, actor, now or utcnow())


def apply_contact(
    session: Session,
    department: Department,
    kind: str,
    contact: Contact | None,
    values: Mapping[str, Any],
    actor: str,
    now: datetime,
) -> Contact:
    assert department.id is not None
    if contact is None:
        contact = Contact(
            department_id=department.id,
            kind=kind,
            role=values.get("role") or "",
            updated_by=actor,
            updated_at=now,
        )
        for name, value in values.items():
            setattr(contact, name, value)
        session.add(contact)
        record(
            session=session,
            actor=actor,
            entity="contact",
            key=f"{department.key}/{kind}",
            action="create",
            before=None,
            after=contact_snapshot(contact, department.key),
            now=now,
        )
        return contact
    diff = {k: v for k, v in values.items() if getattr(contact, k) != v}
    if not diff:
        return contact
    before = contact_snapshot(contact, department.key)
    for name, value in diff.items():
        setattr(contact, name, value)
    contact.updated_by = actor
    contact.updated_at = now
    session.add(contact)
    record(
        session=session,
        actor=actor,
        entity="contact",
        key=f"{department.key}/{kind}",
        action="update",
        before=before,
        after=contact_snapshot(contact, department.key),
        now=now,
    )
    return contact


def delete_contact(
    session: Session, department: Department, contact: Contact, actor: str, now: datetime
) -> None:
    record(
        session=session,
        actor=actor,
        entity="contact",
        key=f"{department.key}/{contact.kind}",
        action="delete",
        before=contact_snapshot(contact, department.key),
        after=None,
        now=now,
    )
    session.delete(contact)


def route_by_intent(*, session: Session, intent: str) -> Route | None:
    """Return the route for an intent, or None."""
    return session.exec(select(Route).where(Route.intent == intent)).first()


def set_route(
    *,
    session: Session,
    intent: str,
    department_key: str,
    actor: str,
    domain_intents: Iterable[str] | None = None,
    description: str | None = None,
    owner: str | None = None,
    review_interval_days: int | None = None,
    now: datetime | None = None,
) -> Route:
    """Send an intent to a department, creating the route if needed (audited)."""
    now = now or utcnow()
    intent = intent.strip()
    if domain_intents is not None and intent not in set(domain_intents):
        raise ValidationProblem("intent", INTENT_PROBLEM, value=intent)
    department = department_named(session, department_key)
    values: dict[str, Any] = {"department_id": department.id}
    if description is not None:
        values["description"] = description.strip()
    if owner is not None:
        values["owner"] = clean_text(owner)
    if review_interval_days is not None:
        values["review_interval_days"] = check_positive_int(
            review_interval_days, "review_interval_days"
        )
    route = route_by_intent(session=session, intent=intent)
    keys = department_keys(session)
    apply_route(session, intent, route, values, keys, actor, now)
    found = route_by_intent(session=session, intent=intent)
    assert found is not None
    return found


def department_keys(session: Session) -> dict[int, str]:
    return {d.id: d.key for d in session.exec(select(Department)).all() if d.id is not None}


def apply_route(
    session: Session,
    intent: str,
    route: Route | None,
    values: Mapping[str, Any],
    keys: Mapping[int, str],
    actor: str,
    now: datetime,
    action: str = "update",
) -> bool:
    if route is None:
        route = Route(intent=intent, changed_by=actor, changed_at=now, **values)
        session.add(route)
        record(
            session=session,
            actor=actor,
            entity="route",
            key=intent,
            action="create",
            before=None,
            after=route_snapshot(route, keys[route.department_id]),
            now=now,
        )
        session.flush()
        return True
    diff = {k: v for k, v in values.items() if getattr(route, k) != v}
    if not diff:
        return False
    before = route_snapshot(route, keys[route.department_id])
    for name, value in diff.items():
        setattr(route, name, value)
    route.changed_by = actor
    route.changed_at = now
    session.add(route)
    record(
        session=session,
        actor=actor,
        entity="route",
        key=intent,
        action=action,
        before=before,
        after=route_snapshot(route, keys[route.department_id]),
        now=now,
    )
    return True


def remove_route(*, session: Session, intent: str, actor: str, now: datetime | None = None) -> None:
    """Delete a route (its intent then goes to the coordinator) (audited)."""
    route = route_by_intent(session=session, intent=intent)
    if route is None:
        raise ValidationProblem("intent", ROUTE_PROBLEM, value=intent)
    record(
        session=session,
        actor=actor,
        entity="route",
        key=intent,
        action="delete",
        before=route_snapshot(route, department_keys(session)[route.department_id]),
        after=None,
        now=now,
    )
    session.delete(route)


def mark_verified(
    *,
    session: Session,
    intent: str,
    actor: str,
    owner: str | None = None,
    now: datetime | None = None,
) -> Route:
    """Record that someone checked a route is still right (resets its review clock)."""
    now = now or utcnow()
    route = route_by_intent(session=session, intent=intent)
    if route is None:
        raise ValidationProblem("intent", ROUTE_PROBLEM, value=intent)
    values: dict[str, Any] = {"last_verified_at": now}
    if owner is not None:
        values["owner"] = clean_text(owner)
    keys = department_keys(session)
    apply_route(session, intent, route, values, keys, actor, now, action="verify")
    return route
