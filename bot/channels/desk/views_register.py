"""The public register at /diarium: anyone may search it, and ask the registrar for a record.

Staff mark, on an enquiry's page in the desk, what the register must hold back about it.

Server-rendered, no sign-in, no JavaScript. It shows the register's public facts only
(db/records/register.py `public_entry`): never a text, never a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web
from sqlmodel import Session, select

from bot.channels.desk.auth import Principal
from bot.channels.desk.web import (
    SETTINGS,
    checked_form,
    not_found,
    render,
    require,
    run_db,
    see_other,
    texts_of,
)
from bot.i18n import translate
from bot.settings import Settings
from db.enquiries.crud import get_municipality
from db.models import Association, Department, Enquiry, RegisterMark
from db.plumbing.phrases import N_, Phrase
from db.records.private_person import set_private_person
from db.records.register import (
    MAX_TEXT_FILTER,
    PAGE,
    PublicEntry,
    Search,
    count_entries,
    entries_of,
    mark,
    public_entry,
    search,
    topics,
)

OUTCOMES = {
    # Translators: where an enquiry stands, in the public register.
    "open": Phrase(N_("Pågår")),
    "answered": Phrase(N_("Besvarat")),
    "closed": Phrase(N_("Avslutat")),
}
MAX_PAGE = 10_000


@dataclass
class Form:
    """The search as typed (kept in the form), its search, and what was wrong with it."""

    values: dict[str, str]
    search: Search
    problems: list[Phrase]


def _date(value: str, problems: list[Phrase], label: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        # Translators: {field} is the name of a search field, e.g. "Från och med".
        problems.append(
            Phrase(N_("{field}: skriv datumet som 2026-03-31."), {"field": Phrase(label)})
        )
        return None


def read_form(query: Any, departments: set[str], intents: set[str]) -> Form:
    """Read the search from the query string; a bad field is left out and named."""
    values = {
        name: str(query.get(name, "")).strip()[:MAX_TEXT_FILTER]
        for name in ("from", "to", "department", "topic", "reference", "page")
    }
    problems: list[Phrase] = []
    start = _date(values["from"], problems, N_("Från datum"))
    end = _date(values["to"], problems, N_("Till datum"))
    if start and end and end < start:
        problems.append(Phrase(N_("Slutdatumet ligger före startdatumet.")))
        end = None
    department = values["department"] if values["department"] in departments else None
    topic = values["topic"] if values["topic"] in intents else None
    try:
        page = min(max(int(values["page"] or 1), 1), MAX_PAGE)
    except ValueError:
        page = 1
    reference = "".join(c for c in values["reference"] if c.isalnum() or c == "-") or None
    return Form(values, Search(start, end, department, topic, reference, page), problems)


def _request_link(address: str | None, reference: str | None, language: str) -> str | None:
    """Return a mailto: link asking the registrar for a record (or for the register)."""
    if not address:
        return None
    subject = translate(
        language,
        # Translators: the subject of an e-mail asking the registrar for a public record.
        Phrase(N_("Begäran om allmän handling {reference}"), {"reference": reference or ""}),
    ).strip()
    return f"mailto:{quote(address, safe='@')}?{urlencode({'subject': subject}, quote_via=quote)}"


def registrar_address(session: Session, settings: Settings) -> str | None:
    """Return where requests for records go: REGISTRAR_EMAIL, else the coordinator's mailbox."""
    for value in (settings.registrar_email, settings.coordinator_email):
        if value and value.strip():
            return value.strip()
    return get_municipality(session=session).coordinator_email


async def diarium_page(request: web.Request) -> web.StreamResponse:
    """Show the public register, searched by date, department, topic and reference."""
    settings = request.app[SETTINGS]

    def load(session: Session) -> dict[str, Any]:
        departments = [
            (d.key, d.name, d.name_en)
            for d in session.exec(select(Department).order_by(Department.name)).all()
        ]
        topic_list = topics(session=session)
        form = read_form(request.query, {d[0] for d in departments}, {t[0] for t in topic_list})
        total = count_entries(session=session, query=form.search)
        entries = [public_entry(e) for e in search(session=session, query=form.search)]
        return {
            "form": form,
            "departments": departments,
            "topics": topic_list,
            "entries": entries,
            "total": total,
            "registrar": registrar_address(session, settings),
        }

    data = await run_db(request, load)
    form: Form = data["form"]
    page, total = form.search.page, data["total"]
    base = {k: v for k, v in form.values.items() if v and k != "page"}

    def page_link(number: int) -> str:
        return "/diarium?" + urlencode({**base, "page": number})

    entries: list[PublicEntry] = data["entries"]
    language = texts_of(request).view.main
    return render(
        request,
        "diarium.html",
        public=True,
        form=form,
        departments=data["departments"],
        topics=data["topics"],
        entries=entries,
        total=total,
        outcomes=OUTCOMES,
        ask_link=_request_link(data["registrar"], None, language),
        ask_links={
            e.reference: _request_link(data["registrar"], e.reference, language) for e in entries
        },
        previous=page_link(page - 1) if page > 1 else None,
        next=page_link(page + 1) if page * PAGE < total else None,
        page=page,
    )


def register_marks(session: Session, enquiry: Enquiry) -> dict[str, bool]:
    """Return what the register holds back about an enquiry: staff's marks and the detector's,
    and whether its association is one private person (None: no association)."""
    entry = entries_of(session=session, enquiries=[enquiry])[0]
    stored = session.exec(select(RegisterMark).where(RegisterMark.enquiry_id == enquiry.id)).first()
    association = (
        session.get(Association, enquiry.association_id) if enquiry.association_id else None
    )
    return {
        "personal_data": bool(stored and stored.personal_data),
        "secret": bool(stored and stored.secret),
        "detected": entry.personal_data and not (stored and stored.personal_data),
        "has_association": association is not None,
        "private_person": bool(association and association.private_person),
    }


def _editable(session: Session, principal: Principal, reference: str) -> Enquiry | None:
    """Return the enquiry staff of its department (or a coordinator) may mark; None otherwise."""
    enquiry = session.exec(select(Enquiry).where(Enquiry.reference == reference)).first()
    if enquiry is None or not principal.may_edit_department(enquiry.department_id):
        return None
    return enquiry


async def mark_enquiry(request: web.Request) -> web.StreamResponse:
    """Set the register's marks on an enquiry (staff of its department, or a coordinator)."""
    principal = await require(request)
    form = await checked_form(request, principal)
    reference = request.match_info["reference"].upper()

    def act(session: Session) -> bool:
        enquiry = _editable(session, principal, reference)
        if enquiry is None:
            return False
        mark(
            session=session,
            enquiry=enquiry,
            personal_data=form.get("personal_data") == "1",
            secret=form.get("secret") == "1",
            actor=principal.actor,
        )
        return True

    if not await run_db(request, act):
        raise not_found(request)
    raise see_other(f"/desk/enquiries/{reference}?done=register#register")


async def mark_private_person(request: web.Request) -> web.StreamResponse:
    """Say whether an enquiry's association is one private person (audited; staff of its
    department or a coordinator). The register then never publishes its name."""
    principal = await require(request)
    form = await checked_form(request, principal)
    reference = request.match_info["reference"].upper()

    def act(session: Session) -> bool:
        enquiry = _editable(session, principal, reference)
        if enquiry is None:
            return False
        association = (
            session.get(Association, enquiry.association_id) if enquiry.association_id else None
        )
        if association is None:
            return False
        set_private_person(
            session=session,
            association=association,
            private_person=form.get("private_person") == "1",
            actor=principal.actor,
        )
        return True

    if not await run_db(request, act):
        raise not_found(request)
    raise see_other(f"/desk/enquiries/{reference}?done=private_person#register")
