"""Import of a whole routing table file: checked first, then applied as audited changes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from db.models import Contact, Department, Route, utcnow
from db.plumbing.audit import record
from db.plumbing.phrases import N_, Phrase
from db.routing.dates import absence_end, absence_start, day_start, local_day
from db.routing.edits import (
    apply_contact,
    apply_department,
    apply_route,
    delete_contact,
    remove_route,
)
from db.routing.export import (
    CONTACT_KINDS,
    DEPARTMENT_FIELDS,
    _contact_out,
    contacts_by_department,
    department_snapshot,
)
from db.routing.file_nodes import Problem
from db.routing.routing_file import ParsedTable, parse_table

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
            diff[name] = absence_start(value)
        elif name == "absent_until":
            diff[name] = absence_end(value)
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
                delete_contact(session, department, contact, actor, now)
                changes.append(_change(CONTACT_REMOVED, department=department.key, kind=kind))
            continue
        values = _contact_values(wanted)
        if contact is None:
            values["absent_from"] = absence_start(values["absent_from"])
            values["absent_until"] = absence_end(values["absent_until"])
            apply_contact(session, department, kind, None, values, actor, now)
            changes.append(_change(CONTACT_ADDED, department=department.key, kind=kind))
            continue
        diff = _contact_diff(contact, values)
        if diff:
            apply_contact(session, department, kind, contact, diff, actor, now)
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
    contacts = contacts_by_department(session)
    for item in table.departments:
        values = {f: item[f] for f in DEPARTMENT_FIELDS}
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
        elif apply_department(session, department, values, actor, now):
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
        if apply_route(session, item["intent"], route, wanted, keys, actor, now):
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
