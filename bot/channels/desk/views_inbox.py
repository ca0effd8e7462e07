"""The department inbox: a department's open enquiries, one enquiry, and what staff do with it.

Staff see their own departments' enquiries (coordinators every department's); someone signed
in with an e-mail link sees the one enquiry the link opened. Anything else is the desk's one
404, logged. Every step goes through the same domain functions as Telegram (answer, not ours)
plus assigning to a colleague and internal notes, each in one transaction with its audit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlmodel import Session, col, select

from bot.channels.desk.auth import Principal
from bot.channels.desk.web import (
    checked_form,
    hidden_from,
    not_found,
    now_of,
    render,
    require,
    run_db,
    see_other,
)
from bot.messages.base import Notice
from bot.messages.department import routing_reason
from bot.messages.languages import EnquiryLanguages, enquiry_languages
from db.enquiries import crud, queue, workflow
from db.enquiries.notifications import Kind
from db.enquiries.queue_facts import association_name, association_of, working_hours_between
from db.models import (
    Association,
    Department,
    Enquiry,
    EnquiryEvent,
    EventKind,
    Municipality,
    OutboxMessage,
)
from db.people.staff import Colleague, department_colleagues
from db.plumbing.phrases import N_, Phrase

ACTIONS = ("answer", "notours", "assign", "note")
MAX_LISTED = 500
DONE = {
    "answer": Phrase(N_("Svaret är skickat till föreningen genom Lotsen, på föreningens språk.")),
    "notours": Phrase(N_("Ärendet har gått till samordnaren med ert skäl.")),
    "assign": Phrase(N_("Ärendet är tilldelat.")),
    "note": Phrase(N_("Anteckningen är sparad. Den skickas aldrig till föreningen.")),
}
NOT_OURS_REASON_MISSING = N_(
    "Skriv kort varför frågan inte är er, så vet samordnaren vart den ska."
)


@dataclass
class Row:
    """An open enquiry in the inbox, with the time it has left."""

    enquiry: Enquiry
    association: str | None
    department: Department | None
    hours_left: float | None
    overdue: bool
    assignee: str | None


def _hours_left(enquiry: Enquiry, municipality: Municipality, now: datetime) -> float | None:
    if enquiry.sla_due_at is None:
        return None
    return working_hours_between(
        now,
        enquiry.sla_due_at,
        day_start=municipality.workday_start_hour,
        day_end=municipality.workday_end_hour,
    )


def _names(colleagues: Sequence[Colleague]) -> dict[int, str]:
    return {c.staff_id: c.name for c in colleagues}


def inbox_rows(*, session: Session, principal: Principal, now: datetime) -> list[Row]:
    """Return the open enquiries the person may work, nearest deadline first."""
    query = select(Enquiry).where(col(Enquiry.status).in_(list(workflow.WAITING_STATUSES)))
    if principal.by_link:
        query = query.where(Enquiry.id == principal.enquiry_id)
    elif not principal.is_coordinator:
        if not principal.department_ids:
            return []
        query = query.where(col(Enquiry.department_id).in_(sorted(principal.department_ids)))
    query = query.order_by(
        col(Enquiry.sla_due_at).is_(None), col(Enquiry.sla_due_at), col(Enquiry.id)
    ).limit(MAX_LISTED)
    departments = {d.id: d for d in session.exec(select(Department)).all()}
    municipality = crud.get_municipality(session=session)
    names: dict[int, dict[int, str]] = {}
    rows = []
    enquiries = [e for e in session.exec(query).all() if principal.may_work(e)]
    known = {e.association_id for e in enquiries if e.association_id is not None}
    associations = {
        a.id: a.name
        for a in session.exec(select(Association).where(col(Association.id).in_(known))).all()
    }
    for enquiry in enquiries:
        key = enquiry.department_id or 0
        if key not in names:
            names[key] = _names(department_colleagues(session=session, department_id=key))
        rows.append(
            Row(
                enquiry=enquiry,
                association=associations.get(enquiry.association_id)
                or association_name(session=session, enquiry=enquiry),
                department=departments.get(enquiry.department_id),
                hours_left=_hours_left(enquiry, municipality, now),
                overdue=enquiry.sla_due_at is not None and enquiry.sla_due_at <= now,
                assignee=names[key].get(enquiry.assigned_to or 0),
            )
        )
    return rows


async def inbox_page(request: web.Request) -> web.StreamResponse:
    """List the department's open enquiries, nearest deadline first, with the time left."""
    principal = await require(request, link_ok=True)
    now = now_of(request)
    rows = await run_db(
        request, lambda session: inbox_rows(session=session, principal=principal, now=now)
    )
    return render(request, "inbox.html", rows=rows)


@dataclass
class Case:
    """One enquiry as the inbox shows it: facts, history, notes and who may have it."""

    enquiry: Enquiry
    association: Association | None
    department: Department | None
    languages: EnquiryLanguages
    reason: Phrase | None
    hours_left: float | None
    overdue: bool
    waiting: bool
    events: Sequence[EnquiryEvent]
    notes: list[EnquiryEvent]
    colleagues: list[Colleague]
    assignee: str | None


def _routing_reason(session: Session, enquiry: Enquiry) -> Phrase | None:
    """Return why the enquiry came to the department, as its latest forward said."""
    forward = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.enquiry_id == enquiry.id, OutboxMessage.kind == Kind.FORWARD)
        .order_by(col(OutboxMessage.id).desc())
    ).first()
    if forward is None:
        return None
    return routing_reason(Notice(session=session, row=forward))


def load_case(session: Session, enquiry: Enquiry, now: datetime) -> Case:
    """Gather what the enquiry page shows."""
    department = session.get(Department, enquiry.department_id) if enquiry.department_id else None
    events = queue.history(session=session, enquiry=enquiry)
    colleagues = (
        department_colleagues(session=session, department_id=department.id)
        if department is not None and department.id is not None
        else []
    )
    return Case(
        enquiry=enquiry,
        association=association_of(session=session, enquiry=enquiry),
        department=department,
        languages=enquiry_languages(session=session, enquiry=enquiry),
        reason=_routing_reason(session, enquiry),
        hours_left=_hours_left(enquiry, crud.get_municipality(session=session), now),
        overdue=enquiry.sla_due_at is not None and enquiry.sla_due_at <= now,
        waiting=enquiry.status in workflow.WAITING_STATUSES,
        events=events,
        notes=[e for e in events if e.kind == EventKind.NOTE],
        colleagues=colleagues,
        assignee=_names(colleagues).get(enquiry.assigned_to or 0),
    )


def _find(session: Session, reference: str) -> Enquiry | None:
    return crud.enquiry_by_reference(session=session, reference=reference)


async def _render_case(
    request: web.Request, principal: Principal, status: int = 200, **context: Any
) -> web.Response:
    reference = request.match_info["reference"]
    now = now_of(request)

    def load(session: Session) -> Case | bool | None:
        enquiry = _find(session, reference)
        if enquiry is None:
            return None
        if not principal.may_work(enquiry):
            return False
        return load_case(session, enquiry, now)

    case = await run_db(request, load)
    if case is None:
        raise not_found(request)
    if case is False:
        raise hidden_from(request, principal, reference)
    assert isinstance(case, Case)
    return render(
        request,
        "inbox_enquiry.html",
        status=status,
        case=case,
        done=DONE.get(request.query.get("done", "")),
        errors=context.pop("errors", {}),
        values=context.pop("values", {}),
        answer_limit=workflow.MAX_ANSWER_CHARS,
        **context,
    )


async def inbox_enquiry_page(request: web.Request) -> web.StreamResponse:
    """Show one enquiry: the question, the association, its history and what can be done."""
    principal = await require(request, link_ok=True)
    return await _render_case(request, principal)


def _act(
    session: Session,
    principal: Principal,
    enquiry: Enquiry,
    action: str,
    form: dict[str, str],
    now: datetime,
) -> None:
    """Do one inbox step with the domain's functions (WorkflowError when it does not fit)."""
    actor = principal.actor
    if action == "note":
        workflow.add_note(
            session=session, enquiry=enquiry, text=form.get("note", ""), actor=actor, now=now
        )
        return
    workflow.ensure_with_department(enquiry)
    if action == "answer":
        workflow.answer_enquiry(
            session=session,
            enquiry=enquiry,
            text=form.get("text", ""),
            actor=actor,
            now=now,
            by_coordinator=enquiry.department_id not in principal.department_ids,
        )
    elif action == "notours":
        reason = form.get("reason", "")
        if not reason.strip():
            raise workflow.WorkflowError(NOT_OURS_REASON_MISSING)
        workflow.not_ours(session=session, enquiry=enquiry, actor=actor, now=now, reason=reason)
    else:
        try:
            staff_id = int(form.get("colleague", ""))
        except ValueError:
            raise workflow.WorkflowError(workflow.NO_COLLEAGUE) from None
        workflow.assign_enquiry(
            session=session, enquiry=enquiry, staff_id=staff_id, actor=actor, now=now
        )


async def inbox_action(request: web.Request) -> web.StreamResponse:
    """Answer, say "not ours", assign or note; a refusal is shown beside its form."""
    principal = await require(request, link_ok=True)
    form = await checked_form(request, principal)
    reference = request.match_info["reference"]
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise not_found(request)
    now = now_of(request)

    def act(session: Session) -> Phrase | bool | None:
        enquiry = _find(session, reference)
        if enquiry is None or not principal.may_work(enquiry):
            return enquiry is None
        try:
            _act(session, principal, enquiry, action, form, now)
        except workflow.WorkflowError as exc:
            session.rollback()
            return exc.phrase
        return None

    outcome = await run_db(request, act)
    if outcome is True:
        raise not_found(request)
    if outcome is False:
        raise hidden_from(request, principal, reference, action)
    if isinstance(outcome, Phrase):
        return await _render_case(
            request, principal, status=409, errors={action: outcome}, values=form
        )
    raise see_other(f"/desk/inbox/{reference}?done={action}#done")
