"""The register (diarium): every enquiry's public-records facts, derived from the lifecycle.

An association's question is an allmän handling the moment it arrives (offentlighets- och
sekretesslagen 5 kap.). The register's facts are not copied at arrival: they are read from the
enquiry row (received, reference, sender, department, outcome), its append-only history (each
forward, escalation and answer as a record of its own, incoming or outgoing) and the routing
table (the public description: the topic in plain words, never the question's text). What the
lifecycle does not know is kept beside it: a mark that a text holds personal data or may be
secret (`RegisterMark`, set by staff; the masking detector marks texts it finds personal data in).

`public_entry` is what anyone may see (/diarium): no text, no person, no secret topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from db.enquiries.sla import LOCAL
from db.models import (
    Association,
    Department,
    Enquiry,
    EnquiryEvent,
    EnquiryStatus,
    EventKind,
    RegisterMark,
    Route,
    utcnow,
)
from db.privacy.masking import mask_personal_data
from db.privacy.retention import PURGED

RECORD_KINDS: dict[str, tuple[str, str]] = {
    EventKind.RECEIVED: ("question", "incoming"),
    EventKind.FORWARDED: ("forward", "internal"),
    EventKind.ESCALATED: ("escalation", "internal"),
    EventKind.ANSWERED: ("answer", "outgoing"),
}
"""History steps that are records of their own: (what the record is, its direction)."""

OUTCOMES = {
    EnquiryStatus.RECEIVED: "open",
    EnquiryStatus.ROUTED: "open",
    EnquiryStatus.FORWARDED: "open",
    EnquiryStatus.ESCALATED: "open",
    EnquiryStatus.ANSWERED: "answered",
    EnquiryStatus.CLOSED: "closed",
}
PAGE = 50
MAX_TEXT_FILTER = 64


@dataclass(frozen=True)
class RegisterRecord:
    """One record of a case: the question, a forward, an escalation, or an answer."""

    number: int  # its running number within the case (1 is the question)
    kind: str  # question | forward | escalation | answer
    direction: str  # incoming | outgoing | internal
    at: datetime
    sender: str | None  # who sent it: the association, a department's name, "coordinator"
    receiver: str | None  # who received it: a department's name, the association, …


@dataclass
class RegisterEntry:
    """One enquiry's register facts (a case with its records)."""

    enquiry_id: int
    reference: str
    received_at: datetime
    sender: str | None  # the association's name; None for a person writing for no association
    intent: str | None
    description: str | None  # the topic in plain words from the routing table
    department_key: str | None
    department_name: str | None
    outcome: str  # open | answered | closed
    outcome_at: datetime | None
    language: str
    personal_data: bool
    secret: bool
    records: list[RegisterRecord] = field(default_factory=list)
    private_person: bool = False  # the sender is one private person (db/records/private_person)


@dataclass(frozen=True)
class PublicEntry:
    """What the public register shows of one enquiry."""

    reference: str
    received_on: date
    description: str | None  # None: held back (may be secret) or no topic
    department_name: str | None
    outcome: str
    outcome_on: date | None
    sender: str | None  # None: no association, held back (secret), or a private person
    answers: int
    personal_data: bool
    secret: bool
    private_person: bool = False  # shown as "Privatperson", never by name


def short_description(description: str | None) -> str | None:
    """Return the routing table's topic in a few plain words (before its details)."""
    if not description:
        return None
    head = description.split(" – ")[0].split(" (")[0].strip()
    return head[:120] or None


def holds_personal_data(text: str) -> bool:
    """Tell whether the masking detector finds personal data (ids, addresses, numbers)."""
    return text != PURGED and mask_personal_data(text) != text


@dataclass(frozen=True)
class Search:
    """A search of the register: all fields optional, combined with AND."""

    date_from: date | None = None
    date_to: date | None = None
    department: str | None = None  # a department key
    topic: str | None = None  # an intent of the routing table
    reference: str | None = None  # a reference or its beginning
    page: int = 1


def _local_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LOCAL)


def _filtered(query: Search) -> SelectOfScalar[Enquiry]:
    statement = select(Enquiry).where(col(Enquiry.reference).is_not(None))
    if query.date_from is not None:
        statement = statement.where(col(Enquiry.created_at) >= _local_start(query.date_from))
    if query.date_to is not None:
        end = _local_start(query.date_to + timedelta(days=1))
        statement = statement.where(col(Enquiry.created_at) < end)
    if query.department:
        statement = statement.join(
            Department, col(Department.id) == col(Enquiry.department_id)
        ).where(Department.key == query.department)
    if query.topic:
        statement = statement.where(Enquiry.intent == query.topic)
    if query.reference:
        wanted = query.reference.strip().upper()[:MAX_TEXT_FILTER]
        pattern = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(col(Enquiry.reference).like(f"{pattern}%", escape="\\"))
    return statement


def count_entries(*, session: Session, query: Search) -> int:
    """Return how many enquiries a search finds."""
    return int(session.exec(select(func.count()).select_from(_filtered(query).subquery())).one())


def search(*, session: Session, query: Search, limit: int = PAGE) -> list[RegisterEntry]:
    """Return one page of the register's entries for a search, the newest first."""
    offset = max(query.page - 1, 0) * limit
    enquiries = session.exec(
        _filtered(query)
        .order_by(col(Enquiry.created_at).desc(), col(Enquiry.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return entries_of(session=session, enquiries=enquiries)


def entries_between(*, session: Session, start: date, end: date) -> list[RegisterEntry]:
    """Return the entries of enquiries received from `start` to `end` (local days), oldest first."""
    enquiries = session.exec(
        _filtered(Search(date_from=start, date_to=end)).order_by(
            col(Enquiry.created_at), col(Enquiry.id)
        )
    ).all()
    return entries_of(session=session, enquiries=enquiries)


def entry_by_reference(*, session: Session, reference: str) -> RegisterEntry | None:
    """Return one enquiry's register entry by its reference (None when unknown)."""
    enquiry = session.exec(
        select(Enquiry).where(Enquiry.reference == reference.strip().upper())
    ).first()
    return entries_of(session=session, enquiries=[enquiry])[0] if enquiry else None


def entries_of(*, session: Session, enquiries: Sequence[Enquiry]) -> list[RegisterEntry]:
    """Return the register entries of these enquiries (in their order)."""
    if not enquiries:
        return []
    ids = [e.id for e in enquiries if e.id is not None]
    departments = {d.id: d for d in session.exec(select(Department)).all()}
    names = {d.key: d.name for d in departments.values()}
    routes = {r.intent: r for r in session.exec(select(Route)).all()}
    association_ids = {e.association_id for e in enquiries if e.association_id is not None}
    associations = {
        a.id: a
        for a in session.exec(
            select(Association).where(col(Association.id).in_(association_ids))
        ).all()
    }
    marks = {
        m.enquiry_id: m
        for m in session.exec(
            select(RegisterMark).where(col(RegisterMark.enquiry_id).in_(ids))
        ).all()
    }
    events: dict[int, list[EnquiryEvent]] = {}
    for event in session.exec(
        select(EnquiryEvent)
        .where(col(EnquiryEvent.enquiry_id).in_(ids))
        .order_by(col(EnquiryEvent.at), col(EnquiryEvent.id))
    ).all():
        events.setdefault(event.enquiry_id, []).append(event)

    found = []
    for enquiry in enquiries:
        assert enquiry.id is not None and enquiry.reference is not None
        department = departments.get(enquiry.department_id) if enquiry.department_id else None
        association = associations.get(enquiry.association_id) if enquiry.association_id else None
        route = routes.get(enquiry.intent) if enquiry.intent else None
        mark = marks.get(enquiry.id)
        sender = association.name if association is not None else None
        outcome = OUTCOMES.get(EnquiryStatus(enquiry.status), "open")
        entry = RegisterEntry(
            enquiry_id=enquiry.id,
            reference=enquiry.reference,
            received_at=enquiry.created_at,
            sender=sender,
            intent=enquiry.intent if route is not None else None,
            description=short_description(route.description) if route is not None else None,
            department_key=department.key if department else None,
            department_name=department.name if department else None,
            outcome=outcome,
            outcome_at=enquiry.closed_at if outcome == "closed" else enquiry.answered_at,
            language=enquiry.language,
            personal_data=bool(mark and mark.personal_data) or holds_personal_data(enquiry.text),
            secret=bool(mark and mark.secret),
            private_person=bool(association and association.private_person),
        )
        entry.records = _records(enquiry, events.get(enquiry.id, []), sender, names)
        found.append(entry)
    return found


def _records(
    enquiry: Enquiry,
    history: Sequence[EnquiryEvent],
    sender: str | None,
    names: dict[str, str],
) -> list[RegisterRecord]:
    """Return the case's records from its history: the question first, then in order.

    Agents are named: the association, a department by its name, "coordinator", "lotsen"
    (which forwards), or "association" for a person writing for no association.
    """
    records: list[RegisterRecord] = []
    association = sender or "association"
    if not any(e.kind == EventKind.RECEIVED for e in history):
        records.append(
            RegisterRecord(1, "question", "incoming", enquiry.created_at, association, None)
        )
    current: str | None = None  # the department the enquiry is with
    for event in history:
        detail = event.detail or {}
        if event.kind in (EventKind.ROUTED, EventKind.REROUTED):
            key = str(detail.get("department") or "")
            current = names.get(key, key) or current
        kind = RECORD_KINDS.get(event.kind)
        if kind is None:
            continue
        what, direction = kind
        number = len(records) + 1
        if what == "question":
            record = RegisterRecord(number, what, direction, event.at, association, current)
        elif what == "forward":
            key = str(detail.get("department") or "")
            to = names.get(key, key) or current
            record = RegisterRecord(number, what, direction, event.at, "lotsen", to)
        elif what == "escalation":
            record = RegisterRecord(number, what, direction, event.at, current, "coordinator")
        else:
            key = str(detail.get("by") or "")
            by = "coordinator" if key == "coordinator" else names.get(key, key) or current
            record = RegisterRecord(number, what, direction, event.at, by, association)
        records.append(record)
    return records


def public_entry(entry: RegisterEntry) -> PublicEntry:
    """Return what may be shown of an entry to anyone.

    Never a text. A possibly secret enquiry shows its reference, date and department only; the
    sender is an association (an organisation), never a person writing for none, and never the
    name of an association that is one private person ("Privatperson").
    """
    return PublicEntry(
        reference=entry.reference,
        received_on=entry.received_at.astimezone(LOCAL).date(),
        description=None if entry.secret else entry.description,
        department_name=entry.department_name,
        outcome=entry.outcome,
        outcome_on=entry.outcome_at.astimezone(LOCAL).date() if entry.outcome_at else None,
        sender=None if entry.secret or entry.private_person else entry.sender,
        answers=sum(1 for r in entry.records if r.kind == "answer"),
        personal_data=entry.personal_data,
        secret=entry.secret,
        private_person=entry.private_person and not entry.secret,
    )


def mark(
    *,
    session: Session,
    enquiry: Enquiry,
    personal_data: bool,
    secret: bool,
    actor: str,
    now: datetime | None = None,
) -> RegisterMark:
    """Set (or change) what the register holds back about an enquiry's texts."""
    assert enquiry.id is not None
    now = now or utcnow()
    found = session.exec(select(RegisterMark).where(RegisterMark.enquiry_id == enquiry.id)).first()
    if found is None:
        found = RegisterMark(enquiry_id=enquiry.id, marked_by=actor[:64], marked_at=now)
        session.add(found)
    found.personal_data, found.secret = personal_data, secret
    found.marked_by, found.marked_at = actor[:64], now
    session.flush()
    return found


def topics(*, session: Session) -> list[tuple[str, str]]:
    """Return the topics one can search for: (intent, plain words), by their words."""
    found = [
        (route.intent, short_description(route.description) or route.intent)
        for route in session.exec(select(Route)).all()
    ]
    return sorted(found, key=lambda pair: pair[1].casefold())
