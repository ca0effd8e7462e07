"""The routing table as data: audit snapshots, the exported YAML and the listing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from sqlmodel import Session, col, select

from db.models import Contact, Department, Route
from db.routing.dates import last_absent_day, local_day

CONTACT_KINDS = ("contact", "deputy")
CONTACT_FIELDS = ("role", "email", "phone", "hours", "chat")
DEPARTMENT_FIELDS = (
    "name",
    "name_en",
    "sla_hours",
    "group_chat",
    "channels",
    "mailbox",
    "handles",
)

GROUP_CHAT_FIELD = "telegram_chat_id"
"""The routing file's field for a department's chat group: named after the chat app since the
first files (it says which channel the address is on), so every file written since imports."""

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
        "absent_until": last_absent_day(contact.absent_until),
    }


def _address_out(address: str | None) -> int | str | None:
    """Return an address for the file: a numeric one as a number, as files always had it."""
    if address is not None and address.lstrip("-").isdigit():
        return int(address)
    return address


def _department_out(department: Department, contacts: Mapping[str, Contact]) -> dict[str, Any]:
    main = contacts.get("contact")
    deputy = contacts.get("deputy")
    return {
        "key": department.key,
        "name": department.name,
        "name_en": department.name_en,
        "sla_hours": department.sla_hours,
        GROUP_CHAT_FIELD: _address_out(department.group_chat),
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


def contacts_by_department(session: Session) -> dict[int, dict[str, Contact]]:
    found: dict[int, dict[str, Contact]] = {}
    for contact in session.exec(select(Contact)).all():
        found.setdefault(contact.department_id, {})[contact.kind] = contact
    return found


def export_table(*, session: Session) -> dict[str, Any]:
    """Return the whole routing table (departments with contacts, and routes) as plain data."""
    departments = session.exec(select(Department).order_by(col(Department.key))).all()
    contacts = contacts_by_department(session)
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


def list_table(*, session: Session) -> Sequence[tuple[Route, Department]]:
    """Return every route with its department, ordered by department and intent."""
    return session.exec(
        select(Route, Department)
        .join(Department, col(Route.department_id) == Department.id)
        .order_by(col(Department.key), col(Route.intent))
    ).all()
