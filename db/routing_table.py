"""The staff-maintained routing table: the one place where routes, departments, contacts change.

Every change writes an audit row in the caller's transaction. The CLI, the Telegram staff
handlers and the web page all call these keyword-only functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import yaml
from sqlmodel import Session, col, select

from db.audit import record
from db.crud import department_by_key, department_mailbox, is_absent
from db.models import Contact, Department, DepartmentChannels, Route, utcnow
from db.phrases import N_, Phrase
from db.routing_file import ParsedTable as ParsedTable
from db.routing_file import Problem as Problem
from db.routing_file import RasaDomainFileError as RasaDomainFileError
from db.routing_file import load_domain_intents as load_domain_intents
from db.routing_file import parse_table as parse_table
from db.routing_file import routable as routable
from db.routing_file import validate_table as validate_table
from db.sla import LOCAL
from db.validation import (
    ABSENCE_ORDER_PROBLEM,
    DEPARTMENT_PROBLEM,
    FIELD_PROBLEM,
    INTENT_PROBLEM,
    KIND_PROBLEM,
    NO_CONTACT_PROBLEM,
    ROLE_TEXT_PROBLEM,
    ROUTE_PROBLEM,
    ValidationProblem,
    check_channels,
    check_email,
    check_handles,
    check_phone,
    check_positive_int,
    clean_text,
    parse_telegram_id,
)

CONTACT_KINDS = ("contact", "deputy")
CONTACT_FIELDS = ("role", "email", "phone", "hours", "telegram_chat_id")
DEPARTMENT_FIELDS = (
    "name",
    "name_en",
    "sla_hours",
    "telegram_chat_id",
    "channels",
    "mailbox",
    "handles",
)


# --- dates: the YAML and the CLI speak in local (Swedish) calendar days ----------------------


def day_start(day: date) -> datetime:
    """Return the UTC moment a local calendar day begins."""
    return datetime.combine(day, time(0), tzinfo=LOCAL).astimezone(UTC)


def local_day(moment: datetime) -> date:
    """Return the local calendar day of a moment."""
    return moment.astimezone(LOCAL).date()


def _absence_start(value: date | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return _aware(value)
    return day_start(value)


def _absence_end(value: date | datetime | None) -> datetime | None:
    """Turn an inclusive last day into the exclusive end moment (a datetime is kept as is)."""
    if value is None or isinstance(value, datetime):
        return _aware(value)
    return day_start(value + timedelta(days=1))


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
    return value


def _last_absent_day(moment: datetime | None) -> date | None:
    if moment is None:
        return None
    return (moment.astimezone(LOCAL) - timedelta(microseconds=1)).date()


# --- snapshots (audit) and the exported representation -----------------------------------


def department_snapshot(department: Department) -> dict[str, Any]:
    """Return the audited fields of a department."""
    return {"key": department.key, **{f: getattr(department, f) for f in DEPARTMENT_FIELDS}}


def contact_snapshot(contact: Contact, department_key: str) -> dict[str, Any]:
    """Return the audited fields of a contact."""
    return {
        "department": department_key,
        "kind": contact.kind,
        **{f: getattr(contact, f) for f in CONTACT_FIELDS},
        "absent_from": contact.absent_from,
        "absent_until": contact.absent_until,
    }


def route_snapshot(route: Route, department_key: str) -> dict[str, Any]:
    """Return the audited fields of a route."""
    return {
        "intent": route.intent,
        "department": department_key,
        "description": route.description,
        "owner": route.owner,
        "last_verified_at": route.last_verified_at,
        "review_interval_days": route.review_interval_days,
    }


def _contact_out(contact: Contact) -> dict[str, Any]:
    return {
        "role": contact.role,
        "email": contact.email,
        "phone": contact.phone,
        "hours": contact.hours,
        "absent_from": local_day(contact.absent_from) if contact.absent_from else None,
        "absent_until": _last_absent_day(contact.absent_until),
    }


def _department_out(department: Department, contacts: Mapping[str, Contact]) -> dict[str, Any]:
    main = contacts.get("contact")
    deputy = contacts.get("deputy")
    return {
        "key": department.key,
        "name": department.name,
        "name_en": department.name_en,
        "sla_hours": department.sla_hours,
        "telegram_chat_id": department.telegram_chat_id,
        "channels": department.channels,
        "mailbox": department.mailbox,
        "handles": list(department.handles or []),
        "contact": _contact_out(main) if main else None,
        "deputy": _contact_out(deputy) if deputy else None,
    }


def _route_out(route: Route, department_key: str) -> dict[str, Any]:
    return {
        "intent": route.intent,
        "department": department_key,
        "description": route.description,
        "owner": route.owner,
        "last_verified": local_day(route.last_verified_at) if route.last_verified_at else None,
        "review_interval_days": route.review_interval_days,
    }


def _contacts_by_department(session: Session) -> dict[int, dict[str, Contact]]:
    found: dict[int, dict[str, Contact]] = {}
    for contact in session.exec(select(Contact)).all():
        found.setdefault(contact.department_id, {})[contact.kind] = contact
    return found


def export_table(*, session: Session) -> dict[str, Any]:
    """Return the whole routing table (departments with contacts, and routes) as plain data."""
    departments = session.exec(select(Department).order_by(col(Department.key))).all()
    contacts = _contacts_by_department(session)
    keys = {d.id: d.key for d in departments}
    routes = session.exec(select(Route).order_by(col(Route.intent))).all()
    return {
        "departments": [_department_out(d, contacts.get(d.id or 0, {})) for d in departments],
        "routes": [_route_out(r, keys[r.department_id]) for r in routes],
    }


EXPORT_HEADER = """\
# Lotsen routing table. Edit, then `lotsen routes import FILE` (the whole file is checked
# first; nothing changes when any line is wrong). Routes missing from the file are removed.
# Dates are Swedish calendar days (YYYY-MM-DD); absent_from/absent_until are inclusive.
"""


def dump_table(data: Mapping[str, Any]) -> str:
    """Return the table as YAML text with an explanatory header."""
    body = yaml.safe_dump(
        dict(data), allow_unicode=True, sort_keys=False, default_flow_style=False, width=100
    )
    return EXPORT_HEADER + body


# --- audited changes (the single place where the table changes) ---------------------------


def _department(session: Session, key: str) -> Department:
    department = department_by_key(session=session, key=key)
    if department is None or department.id is None:
        raise ValidationProblem("department", DEPARTMENT_PROBLEM, value=key)
    return department


def _contact(session: Session, department: Department, kind: str) -> Contact | None:
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
    """Change a department's name, SLA hours, Telegram chat, channels, mailbox or what it
    handles (the list associations see when Lotsen describes the department) (audited)."""
    department = _department(session, department_key)
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in DEPARTMENT_FIELDS:
            raise ValidationProblem(name, FIELD_PROBLEM, value=name)
        if name == "sla_hours":
            clean[name] = check_positive_int(value, name)
        elif name == "telegram_chat_id":
            clean[name] = None if clean_text(value) is None else parse_telegram_id(value, name)
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
    _apply_department(session, department, clean, actor, now or utcnow())
    return department


def _apply_department(
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
    department = _department(session, department_key)
    contact = _contact(session, department, kind)
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in CONTACT_FIELDS:
            raise ValidationProblem(name, FIELD_PROBLEM, value=name)
        if name == "email":
            clean[name] = check_email(value, name)
        elif name == "phone":
            clean[name] = check_phone(value, name)
        elif name == "telegram_chat_id":
            clean[name] = None if clean_text(value) is None else parse_telegram_id(value, name)
        else:
            clean[name] = clean_text(value)
    if "role" in clean and clean["role"] is None:
        raise ValidationProblem("role", ROLE_TEXT_PROBLEM)
    if contact is None and not clean.get("role"):
        raise ValidationProblem("role", ROLE_TEXT_PROBLEM)
    return _apply_contact(session, department, kind, contact, clean, actor, now or utcnow())


def _apply_contact(
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


def _delete_contact(
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


def set_absence(
    *,
    session: Session,
    department_key: str,
    absent_from: date | datetime | None,
    absent_until: date | datetime | None,
    actor: str,
    kind: str = "contact",
    now: datetime | None = None,
) -> Contact:
    """Mark a contact absent (dates are inclusive local days; None and None clears it)."""
    department = _department(session, department_key)
    contact = _contact(session, department, kind)
    if contact is None:
        raise ValidationProblem(
            "department",
            NO_CONTACT_PROBLEM,
            value=department_key,
        )
    start, end = _absence_start(absent_from), _absence_end(absent_until)
    if start is not None and end is not None and end <= start:
        raise ValidationProblem("absent_until", ABSENCE_ORDER_PROBLEM)
    values = {"absent_from": start, "absent_until": end}
    return _apply_contact(session, department, kind, contact, values, actor, now or utcnow())


def clear_absence(
    *,
    session: Session,
    department_key: str,
    actor: str,
    kind: str = "contact",
    now: datetime | None = None,
) -> Contact:
    """Mark a contact present again."""
    return set_absence(
        session=session,
        department_key=department_key,
        absent_from=None,
        absent_until=None,
        actor=actor,
        kind=kind,
        now=now,
    )


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
    department = _department(session, department_key)
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
    keys = _department_keys(session)
    _apply_route(session, intent, route, values, keys, actor, now)
    found = route_by_intent(session=session, intent=intent)
    assert found is not None
    return found


def _department_keys(session: Session) -> dict[int, str]:
    return {d.id: d.key for d in session.exec(select(Department)).all() if d.id is not None}


def _apply_route(
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
        before=route_snapshot(route, _department_keys(session)[route.department_id]),
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
    keys = _department_keys(session)
    _apply_route(session, intent, route, values, keys, actor, now, action="verify")
    return route


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
    keys = _department_keys(session)
    found: list[OverdueRoute] = []
    for route in session.exec(select(Route)).all():
        basis = route.last_verified_at or route.changed_at
        due = basis + timedelta(days=route.review_interval_days)
        if due <= now:
            found.append(OverdueRoute(route, keys[route.department_id], due))
    return sorted(found, key=lambda o: (o.due_at, o.route.intent))


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
    contacts = _contacts_by_department(session)
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


# --- import ---------------------------------------------------------------------------------

# Translators: lines of `lotsen routes import`; {kind} is the file's key, contact or deputy.
CONTACT_ADDED = N_("{department}/{kind}: tillagd")
# Translators: a line of `lotsen routes import`; {kind} is contact or deputy.
CONTACT_REMOVED = N_("{department}/{kind}: borttagen")
# Translators: a line of `lotsen routes import`; {fields} names the changed fields (email, …).
CONTACT_CHANGED = N_("{department}/{kind}: ändrade fält: {fields}")
DEPARTMENT_ADDED = N_("förvaltning {key}: tillagd")
DEPARTMENT_CHANGED = N_("förvaltning {key}: ändrad")
ROUTE_ADDED = N_("väg {intent}: tillagd")
ROUTE_CHANGED = N_("väg {intent}: ändrad")
ROUTE_REMOVED = N_("väg {intent}: borttagen")


def _change(message: str, /, **values: str) -> Phrase:
    """Return one line of an import's list of changes."""
    return Phrase(message, values)


@dataclass
class ImportResult:
    """What an import did (changes) or why it did nothing (problems)."""

    problems: list[Problem] = field(default_factory=list)
    changes: list[Phrase] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether the file was accepted."""
        return not self.problems


def _contact_values(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "role": item["role"],
        "email": item["email"],
        "phone": item["phone"],
        "hours": item["hours"],
        "absent_from": item["absent_from"],
        "absent_until": item["absent_until"],
    }


def _contact_diff(contact: Contact, wanted: Mapping[str, Any]) -> dict[str, Any]:
    """Return the model values to set, comparing in the exported (file) representation."""
    current = _contact_out(contact)
    diff: dict[str, Any] = {}
    for name, value in wanted.items():
        if current[name] == value:
            continue
        if name == "absent_from":
            diff[name] = _absence_start(value)
        elif name == "absent_until":
            diff[name] = _absence_end(value)
        else:
            diff[name] = value
    return diff


def _import_contacts(
    session: Session,
    department: Department,
    item: Mapping[str, Any],
    have: Mapping[str, Contact],
    actor: str,
    now: datetime,
    changes: list[Phrase],
) -> None:
    for kind in CONTACT_KINDS:
        wanted, contact = item[kind], have.get(kind)
        if wanted is None:
            if contact is not None:
                _delete_contact(session, department, contact, actor, now)
                changes.append(_change(CONTACT_REMOVED, department=department.key, kind=kind))
            continue
        values = _contact_values(wanted)
        if contact is None:
            values["absent_from"] = _absence_start(values["absent_from"])
            values["absent_until"] = _absence_end(values["absent_until"])
            _apply_contact(session, department, kind, None, values, actor, now)
            changes.append(_change(CONTACT_ADDED, department=department.key, kind=kind))
            continue
        diff = _contact_diff(contact, values)
        if diff:
            _apply_contact(session, department, kind, contact, diff, actor, now)
            changes.append(
                _change(
                    CONTACT_CHANGED,
                    department=department.key,
                    kind=kind,
                    fields=", ".join(sorted(diff)),
                )
            )


def _import_departments(
    session: Session, table: ParsedTable, actor: str, now: datetime, changes: list[Phrase]
) -> dict[str, Department]:
    by_key = {d.key: d for d in session.exec(select(Department)).all()}
    contacts = _contacts_by_department(session)
    for item in table.departments:
        values = {f: item[f] for f in DEPARTMENT_FIELDS}
        if values["handles"] is None:  # not in the file: kept as it is (a new one gets none)
            values.pop("handles")
        department = by_key.get(item["key"])
        if department is None:
            department = Department(key=item["key"], created_at=now, **values)
            session.add(department)
            session.flush()
            by_key[department.key] = department
            record(
                session=session,
                actor=actor,
                entity="department",
                key=department.key,
                action="create",
                before=None,
                after=department_snapshot(department),
                now=now,
            )
            changes.append(_change(DEPARTMENT_ADDED, key=department.key))
        elif _apply_department(session, department, values, actor, now):
            changes.append(_change(DEPARTMENT_CHANGED, key=department.key))
        _import_contacts(
            session, department, item, contacts.get(department.id or 0, {}), actor, now, changes
        )
    return by_key


def _import_routes(
    session: Session,
    table: ParsedTable,
    by_key: Mapping[str, Department],
    actor: str,
    now: datetime,
    changes: list[Phrase],
) -> None:
    keys = {d.id: d.key for d in by_key.values() if d.id is not None}
    existing = {r.intent: r for r in session.exec(select(Route)).all()}
    for item in table.routes:
        department = by_key[item["department"]]
        route = existing.get(item["intent"])
        wanted = {
            "department_id": department.id,
            "description": item["description"],
            "owner": item["owner"],
            "review_interval_days": item["review_interval_days"],
        }
        verified = item["last_verified"]
        if route is None or (
            (local_day(route.last_verified_at) if route.last_verified_at else None) != verified
        ):
            wanted["last_verified_at"] = day_start(verified) if verified else None
        if _apply_route(session, item["intent"], route, wanted, keys, actor, now):
            added = route is None
            changes.append(_change(ROUTE_ADDED if added else ROUTE_CHANGED, intent=item["intent"]))
    listed = {item["intent"] for item in table.routes}
    for intent in sorted(set(existing) - listed):
        remove_route(session=session, intent=intent, actor=actor, now=now)
        changes.append(_change(ROUTE_REMOVED, intent=intent))


def import_table(
    *,
    session: Session,
    text: str,
    actor: str,
    domain_intents: Iterable[str],
    now: datetime | None = None,
) -> ImportResult:
    """Check the whole file, then make the table match it; changes nothing on any problem."""
    now = now or utcnow()
    known = [d.key for d in session.exec(select(Department)).all()]
    table = parse_table(text, domain_intents=domain_intents, known_departments=known)
    if table.problems:
        return ImportResult(problems=table.problems)
    changes: list[Phrase] = []
    by_key = _import_departments(session, table, actor, now, changes)
    _import_routes(session, table, by_key, actor, now, changes)
    session.flush()
    return ImportResult(changes=changes)


def list_table(*, session: Session) -> Sequence[tuple[Route, Department]]:
    """Return every route with its department, ordered by department and intent."""
    return session.exec(
        select(Route, Department)
        .join(Department, col(Route.department_id) == Department.id)
        .order_by(col(Department.key), col(Route.intent))
    ).all()


def departments_described(*, session: Session) -> Sequence[Department]:
    """Return every department by name, with what it handles (how Lotsen describes it)."""
    return session.exec(select(Department).order_by(col(Department.name))).all()
