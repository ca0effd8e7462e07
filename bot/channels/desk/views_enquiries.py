"""The enquiry log: search by reference, association, department, state, language and date."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.channels.desk.auth import Principal
from bot.channels.desk.dates import DateProblem, parse_day
from bot.channels.desk.views_register import register_marks
from bot.channels.desk.web import not_found, render, require, run_db, texts_of
from bot.i18n import CHANNEL_NAMES, LANGUAGES
from bot.messages.languages import UNDETERMINED, enquiry_languages, language_label
from bot.messages.mail import REASONS
from db.enquiries import queue
from db.enquiries.answers import answers_of
from db.enquiries.queue_facts import association_name
from db.feedback import feedback_of
from db.models import Association, Department, Enquiry, EnquiryEvent, EnquiryStatus
from db.plumbing.phrases import N_, Phrase
from db.records.mail_thread import thread_of, written_in
from db.routing.dates import day_start

MAX_RESULTS = 200
STATUSES = tuple(s.value for s in EnquiryStatus)


@dataclass
class Hit:
    """One enquiry in the search results."""

    enquiry: Enquiry
    association: str | None
    department: Department | None


def search_days(criteria: dict[str, str]) -> tuple[date | None, date | None]:
    """Return the search's first and last day, or raise DateProblem for an unusable date."""
    return parse_day(criteria.get("from", ""), "from"), parse_day(criteria.get("to", ""), "to")


def search_enquiries(
    *, session: Session, principal: Principal, criteria: dict[str, str]
) -> list[Hit]:
    """Return matching enquiries, newest first; staff see only their own departments'."""
    query = select(Enquiry)
    if not principal.is_coordinator:
        if not principal.department_ids:
            return []
        query = query.where(col(Enquiry.department_id).in_(sorted(principal.department_ids)))
    reference = criteria.get("reference", "").strip().upper()
    if reference:
        query = query.where(col(Enquiry.reference).contains(reference))
    association = criteria.get("association", "").strip().lower()
    if association:
        query = query.join(Association, col(Association.id) == Enquiry.association_id).where(
            func.lower(Association.name).contains(association)
        )
    key = criteria.get("department", "").strip()
    if key:
        query = query.join(Department, col(Department.id) == Enquiry.department_id).where(
            Department.key == key
        )
    status = criteria.get("status", "")
    if status in STATUSES:
        query = query.where(Enquiry.status == status)
    language = criteria.get("language", "").strip()
    if language == UNDETERMINED:
        query = query.where(col(Enquiry.detected_language).is_(None))
    elif language:
        query = query.where(Enquiry.detected_language == language)
    start, end = search_days(criteria)
    if start is not None:
        query = query.where(col(Enquiry.created_at) >= day_start(start))
    if end is not None:
        query = query.where(col(Enquiry.created_at) < day_start(end + timedelta(days=1)))
    query = query.order_by(col(Enquiry.created_at).desc(), col(Enquiry.id).desc())
    departments = {d.id: d for d in session.exec(select(Department)).all()}
    return [
        Hit(
            enquiry=e,
            association=association_name(session=session, enquiry=e),
            department=departments.get(e.department_id),
        )
        for e in session.exec(query.limit(MAX_RESULTS)).all()
    ]


def language_options(session: Session, language: str) -> list[tuple[str, str]]:
    """Return the language filter's choices: the reply languages and every language written in.

    Each is (code, name in `language`, the page's), by name; "cannot tell" comes last.
    """
    written = session.exec(
        select(Enquiry.detected_language)
        .where(col(Enquiry.detected_language).is_not(None))
        .distinct()
    ).all()
    codes = {code for code in written if code} | set(LANGUAGES)
    named = sorted(((code, language_label(code, language)) for code in codes), key=lambda o: o[1])
    return [*named, (UNDETERMINED, language_label(UNDETERMINED, language))]


def _visible_departments(session: Session, principal: Principal) -> Sequence[Department]:
    rows = session.exec(select(Department).order_by(col(Department.name))).all()
    return [d for d in rows if principal.may_edit_department(d.id)]


async def enquiries_page(request: web.Request) -> web.StreamResponse:
    """Show the search form and, when asked, the matching enquiries."""
    principal = await require(request)
    criteria = {
        k: request.query.get(k, "")
        for k in ("reference", "association", "department", "status", "language", "from", "to")
    }
    searched = any(criteria.values()) or "go" in request.query
    errors: dict[str, Phrase] = {}
    try:
        search_days(criteria)
    except DateProblem as exc:
        errors[exc.field] = exc.phrase
        searched = False
    page_language = texts_of(request).view.main

    def load(
        session: Session,
    ) -> tuple[list[Hit], Sequence[Department], list[tuple[str, str]]]:
        hits = (
            search_enquiries(session=session, principal=principal, criteria=criteria)
            if searched
            else []
        )
        return (
            hits,
            _visible_departments(session, principal),
            language_options(session, page_language),
        )

    hits, departments, languages = await run_db(request, load)
    return render(
        request,
        "enquiries.html",
        status=400 if errors else 200,
        errors=errors,
        hits=hits,
        searched=searched,
        criteria=criteria,
        departments=departments,
        statuses=STATUSES,
        language_choices=languages,
        limit=MAX_RESULTS,
    )


MAIL_STATES: dict[str, str] = {
    # Translators: what became of a mail in an enquiry's e-mail thread (the desk).
    "new": N_("inte hanterat än"),
    "done": N_("hanterat"),
    "ignored": N_("ignorerat (automatiskt svar eller massutskick)"),
    "refused": N_("besvarat med en förklaring, inte vidareskickat"),
    "held": N_("hålls kvar för samordnaren"),
    "failed": N_("kunde inte hanteras"),
    "sent": N_("skickat"),
    "waiting": N_("väntar på att skickas"),
}


async def enquiry_page(request: web.Request) -> web.StreamResponse:
    """Show one enquiry and its history (staff: only their own departments')."""
    principal = await require(request)
    reference = request.match_info["reference"].upper()

    def load(session: Session) -> dict[str, Any] | None:
        enquiry = session.exec(select(Enquiry).where(Enquiry.reference == reference)).first()
        if enquiry is None or not principal.may_edit_department(enquiry.department_id):
            return None
        assert enquiry.id is not None
        events: Sequence[EnquiryEvent] = queue.history(session=session, enquiry=enquiry)
        department = (
            session.get(Department, enquiry.department_id) if enquiry.department_id else None
        )
        return {
            "enquiry": enquiry,
            "events": events,
            "department": department,
            "association": association_name(session=session, enquiry=enquiry),
            "enquiry_languages": enquiry_languages(session=session, enquiry=enquiry),
            "register": register_marks(session, enquiry),
            "answers": answers_of(session=session, enquiry_ids=[enquiry.id]).get(enquiry.id, []),
            "feedback": feedback_of(session=session, enquiry_id=enquiry.id),
            "channel": CHANNEL_NAMES.get(str(written_in(enquiry) or "")),
            "thread": thread_of(session=session, enquiry=enquiry),
            "mail_states": MAIL_STATES,
            "mail_reasons": REASONS,
        }

    found = await run_db(request, load)
    if found is None:
        raise not_found(request)
    return render(request, "enquiry.html", done=request.query.get("done"), **found)
