"""A department's page for its staff: routes, contact and deputy, absence, checks, audit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlmodel import Session, col, select

from bot.channels.desk.auth import Principal
from bot.channels.desk.dates import DateProblem, parse_day
from bot.channels.desk.web import (
    checked_form,
    not_found,
    now_of,
    render,
    require,
    run_db,
    see_other,
)
from db.models import AuditEntry, Contact, Department, Route
from db.people.departments import department_by_key, is_absent
from db.plumbing.phrases import N_, Phrase
from db.plumbing.validation import (
    ROUTE_PROBLEM,
    ValidationProblem,
)
from db.routing import absences, edits, export

CONTACT_FORM_FIELDS = ("role", "email", "phone", "hours")
AUDIT_SCAN = 1000
AUDIT_SHOWN = 50
DONE = {
    "contact": Phrase(N_("Kontaktuppgifterna är sparade.")),
    "absence": Phrase(N_("Frånvaron är sparad.")),
    "verify": Phrase(N_("Vägen är markerad som kontrollerad.")),
    "channels": Phrase(N_("Kanalerna är sparade. De gäller från nästa fråga.")),
}


@dataclass
class RouteRow:
    """A route with its review due date."""

    route: Route
    review_due: datetime
    overdue: bool


@dataclass
class DepartmentPage:
    """Everything the department page shows."""

    department: Department
    contacts: dict[str, Contact]
    absent: dict[str, bool]
    routes: list[RouteRow]
    audit: list[AuditEntry]


def department_audit(
    *, session: Session, department_key: str, limit: int = AUDIT_SHOWN
) -> list[AuditEntry]:
    """Return the newest audit rows about a department, its contacts and its routes."""
    rows = session.exec(
        select(AuditEntry)
        .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
        .limit(AUDIT_SCAN)
    ).all()

    def concerns(row: AuditEntry) -> bool:
        if row.entity_key == department_key or row.entity_key.startswith(f"{department_key}/"):
            return row.entity in ("department", "contact")
        if row.entity != "route":
            return False
        sides = [row.before or {}, row.after or {}]
        return any(side.get("department") == department_key for side in sides)

    return [r for r in rows if concerns(r)][:limit]


def _load(session: Session, key: str, principal: Principal, now: datetime) -> DepartmentPage | None:
    """Return the page's data; None when the department is missing or not the person's."""
    department = department_by_key(session=session, key=key)
    if department is None or not principal.may_edit_department(department.id):
        return None
    contacts = {
        c.kind: c
        for c in session.exec(select(Contact).where(Contact.department_id == department.id))
    }
    routes = []
    for route in session.exec(
        select(Route).where(Route.department_id == department.id).order_by(col(Route.intent))
    ).all():
        due = (route.last_verified_at or route.changed_at) + timedelta(
            days=route.review_interval_days
        )
        routes.append(RouteRow(route=route, review_due=due, overdue=due <= now))
    return DepartmentPage(
        department=department,
        contacts=contacts,
        absent={kind: is_absent(c, now) for kind, c in contacts.items()},
        routes=routes,
        audit=department_audit(session=session, department_key=department.key),
    )


async def _render(
    request: web.Request, principal: Principal, key: str, status: int = 200, **context: Any
) -> web.Response:
    now = now_of(request)

    page = await run_db(request, lambda session: _load(session, key, principal, now))
    if page is None:
        raise not_found(request)
    return render(
        request,
        "department.html",
        status=status,
        page=page,
        done=DONE.get(request.query.get("done", "")),
        errors=context.pop("errors", {}),
        values=context.pop("values", {}),
        **context,
    )


async def department_index(request: web.Request) -> web.StreamResponse:
    """Go to the person's department page, or list the departments they may open."""
    principal = await require(request)

    def load(session: Session) -> Sequence[Department]:
        rows = session.exec(select(Department).order_by(col(Department.name))).all()
        return [d for d in rows if principal.may_edit_department(d.id)]

    departments = await run_db(request, load)
    if len(departments) == 1:
        raise see_other(f"/desk/department/{departments[0].key}")
    return render(request, "departments.html", departments=departments)


async def department_page(request: web.Request) -> web.StreamResponse:
    """Show a department's routes, contacts, absence and audit history."""
    principal = await require(request)
    return await _render(request, principal, request.match_info["key"])


async def department_edit(request: web.Request) -> web.StreamResponse:
    """Save a contact, an absence, a route check or the channels; problems beside the field."""
    principal = await require(request)
    form = await checked_form(request, principal)
    key = request.match_info["key"]
    what = request.match_info["what"]
    kind = request.match_info.get("kind", "contact")
    if what not in DONE or kind not in export.CONTACT_KINDS:
        raise not_found(request)
    now = now_of(request)

    def save(session: Session) -> tuple[str, Phrase] | bool | None:
        department = department_by_key(session=session, key=key)
        if department is None or not principal.may_edit_department(department.id):
            return False
        try:
            if what == "contact":
                changes = {f: form.get(f, "") for f in CONTACT_FORM_FIELDS}
                edits.update_contact(
                    session=session,
                    department_key=key,
                    kind=kind,
                    changes=changes,
                    actor=principal.actor,
                    now=now,
                )
            elif what == "channels":
                edits.update_department(
                    session=session,
                    department_key=key,
                    changes={f: form.get(f, "") for f in ("channels", "mailbox")},
                    actor=principal.actor,
                    now=now,
                )
            elif what == "absence":
                start = parse_day(form.get("absent_from", ""), "absent_from")
                end = parse_day(form.get("absent_until", ""), "absent_until")
                if form.get("clear"):
                    start = end = None
                absences.set_absence(
                    session=session,
                    department_key=key,
                    absent_from=start,
                    absent_until=end,
                    actor=principal.actor,
                    kind=kind,
                    now=now,
                )
            else:
                intent = form.get("intent", "")
                route = edits.route_by_intent(session=session, intent=intent)
                if route is None or route.department_id != department.id:
                    raise ValidationProblem("intent", ROUTE_PROBLEM, value=intent)
                edits.mark_verified(session=session, intent=intent, actor=principal.actor, now=now)
        except ValidationProblem as exc:
            session.rollback()
            return exc.field, exc.phrase
        except DateProblem as exc:
            session.rollback()
            return exc.field, exc.phrase
        return None

    outcome = await run_db(request, save)
    if outcome is False:
        raise not_found(request)
    if isinstance(outcome, tuple):
        field, message = outcome
        return await _render(
            request,
            principal,
            key,
            status=400,
            errors={f"{what}.{kind}.{field}": message, f"{what}.{kind}": message},
            values={"form": f"{what}.{kind}", **form},
        )
    raise see_other(f"/desk/department/{key}?done={what}#{what}-{kind}")
