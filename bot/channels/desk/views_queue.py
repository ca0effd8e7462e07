"""The coordinator's escalation queue: list with filters, one case with history, and actions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlmodel import Session, col, select

from bot.channels.desk.auth import Principal
from bot.channels.desk.web import (
    SETTINGS,
    checked_form,
    not_found,
    now_of,
    render,
    require,
    run_db,
    see_other,
)
from bot.messages.coordinator import CLOSE_LABELS
from bot.messages.languages import EnquiryLanguages, enquiry_languages
from db.enquiries import queue
from db.enquiries.queue import CLOSE_REASONS
from db.enquiries.queue_facts import QueueItem, association_name, queue_item, staff_name
from db.enquiries.workflow import WorkflowError
from db.feedback import feedback_of
from db.models import Department, Enquiry, EnquiryEvent, Escalation, Feedback
from db.people.limits import refusals_on
from db.plumbing.phrases import N_, Phrase

FILTERS = ("all", "unclaimed", "mine")
SORTS = ("waited", "created")
ACTIONS = ("claim", "answer", "route", "close")
MAX_ROW_ID = 2**31 - 1  # PostgreSQL's integer
DONE = {
    "claim": Phrase(N_("Ärendet är ditt.")),
    "answer": Phrase(N_("Svaret skickas till föreningen.")),
    "route": Phrase(N_("Ärendet skickades till förvaltningen.")),
    "unreachable": Phrase(
        N_(
            "Förvaltningen kan inte nås: ingen av dess kanaler når den. "
            "Ärendet ligger kvar i kön hos samordnaren."
        )
    ),
    "close": Phrase(N_("Ärendet är stängt.")),
}


def _departments(session: Session) -> Sequence[Department]:
    return session.exec(select(Department).order_by(col(Department.name))).all()


async def queue_page(request: web.Request) -> web.StreamResponse:
    """List open escalations with filters (unclaimed/mine/department) and sorting."""
    principal = await require(request, coordinator=True)
    chosen = request.query.get("filter", "all")
    chosen = chosen if chosen in FILTERS else "all"
    sort = request.query.get("sort", "waited")
    sort = sort if sort in SORTS else "waited"
    department = request.query.get("department", "") or None
    now = now_of(request)

    def load(
        session: Session,
    ) -> tuple[list[QueueItem], Sequence[Department], str | None, list[tuple[str, int]]]:
        departments = _departments(session)
        key = department if department in {d.key for d in departments} else None
        items = queue.list_queue(
            session=session,
            now=now,
            filter=chosen,
            staff_user_id=principal.staff_user_id,
            department_key=key,
        )
        if sort == "created":
            items.sort(key=lambda i: i.enquiry.created_at, reverse=True)
        return items, departments, key, refusals_on(session, day=now.date())

    items, departments, key, refused = await run_db(request, load)
    return render(
        request,
        "queue.html",
        items=items,
        departments=departments,
        filter=chosen,
        sort=sort,
        department=key,
        filters=FILTERS,
        refused=", ".join(f"{person} ×{count}" for person, count in refused[:10]),
    )


@dataclass
class Case:
    """One escalation with everything the case page shows."""

    escalation: Escalation
    enquiry: Enquiry
    item: QueueItem | None
    association: str | None
    department: Department | None
    events: Sequence[EnquiryEvent]
    claimed_by_name: str | None
    languages: EnquiryLanguages


def _case(session: Session, escalation_id: int, now: Any) -> Case | None:
    escalation = session.get(Escalation, escalation_id)
    enquiry = session.get(Enquiry, escalation.enquiry_id) if escalation else None
    if escalation is None or enquiry is None:
        return None
    item = (
        queue_item(session=session, escalation=escalation, now=now)
        if escalation.resolved_at is None
        else None
    )
    department = session.get(Department, enquiry.department_id) if enquiry.department_id else None
    return Case(
        escalation=escalation,
        enquiry=enquiry,
        item=item,
        association=association_name(session=session, enquiry=enquiry),
        department=department,
        events=queue.history(session=session, enquiry=enquiry),
        claimed_by_name=staff_name(session=session, person_id=escalation.claimed_by),
        languages=enquiry_languages(session=session, enquiry=enquiry),
    )


async def _render_case(
    request: web.Request,
    principal: Principal,
    escalation_id: int,
    status: int = 200,
    **context: Any,
) -> web.Response:
    now = now_of(request)

    def load(session: Session) -> tuple[Case | None, Sequence[Department], list[Feedback]]:
        case = _case(session, escalation_id, now)
        found = case.enquiry.id if case else None
        given = feedback_of(session=session, enquiry_id=found) if found is not None else []
        return case, _departments(session), given

    case, departments, given = await run_db(request, load)
    if case is None:
        raise not_found(request)
    done = request.query.get("done", "")
    return render(
        request,
        "case.html",
        status=status,
        case=case,
        departments=departments,
        reasons=[(r, Phrase(CLOSE_LABELS.get(r, r))) for r in CLOSE_REASONS],
        done=DONE.get(done),
        mine=case.escalation.claimed_by == principal.staff_user_id,
        feedback=given,
        **context,
    )


def _escalation_id(request: web.Request) -> int:
    """Return the case id in the path; one no database row can have is a 404, not a crash."""
    try:
        value = int(request.match_info["escalation_id"])
    except ValueError:
        raise not_found(request) from None
    if not 0 < value <= MAX_ROW_ID:
        raise not_found(request)
    return value


async def case_page(request: web.Request) -> web.StreamResponse:
    """Show one case: the question, the facts, the full history and the action forms."""
    principal = await require(request, coordinator=True)
    return await _render_case(request, principal, _escalation_id(request))


async def case_action(request: web.Request) -> web.StreamResponse:
    """Claim, answer, route or close a case; a refusal is shown next to its form."""
    principal = await require(request, coordinator=True)
    form = await checked_form(request, principal)
    escalation_id = _escalation_id(request)
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise not_found(request)
    now = now_of(request)
    staff_id = principal.staff_user_id
    email_enabled = request.app[SETTINGS].email_enabled
    back: list[int] = []  # the new case when the department could not be reached

    def act(session: Session) -> Phrase | None:
        try:
            if action == "claim":
                result = queue.claim(
                    session=session, escalation_id=escalation_id, staff_user_id=staff_id, now=now
                )
                return None if result.ok else result.message()
            if action == "answer":
                queue.answer(
                    session=session,
                    escalation_id=escalation_id,
                    text=form.get("text", ""),
                    staff_user_id=staff_id,
                    now=now,
                )
            elif action == "route":
                routed = queue.route(
                    session=session,
                    escalation_id=escalation_id,
                    department_key=form.get("department", ""),
                    staff_user_id=staff_id,
                    email_enabled=email_enabled,
                    now=now,
                )
                if routed.escalation is not None and routed.escalation.id is not None:
                    back.append(routed.escalation.id)
            else:
                queue.close(
                    session=session,
                    escalation_id=escalation_id,
                    reason_code=form.get("reason", ""),
                    staff_user_id=staff_id,
                    now=now,
                )
        except WorkflowError as exc:
            session.rollback()
            return exc.phrase
        return None

    error = await run_db(request, act)
    if error is not None:
        return await _render_case(
            request,
            principal,
            escalation_id,
            status=409,
            errors={action: error},
            values=form,
        )
    if back:  # nobody at the department can be reached: the case is back in the queue
        raise see_other(f"/desk/queue/{back[0]}?done=unreachable")
    raise see_other(f"/desk/queue/{escalation_id}?done={action}")
