"""Public transparency figures, per department and month and per language and month.

Small counts are suppressed so that no cell can be worked out from the others (README,
"Published figures"): a month's figures count only its *published questions*, those whose
department has at least SUPPRESS_BELOW of them that month **and** whose language has at least
SUPPRESS_BELOW of them that month (repeated until both hold: leaving out the questions of a
small language can make a department small, and the other way round). Every published number
(a cell, a month's total, a department's or language's total over the period) is a sum over
published questions only, so two tables, two periods or a table and its download never differ
by a hidden number: a subtraction gives a published cell or nothing. Cells are calendar
months whatever `?months=` is, so a period only chooses which published months are added up.

Sub-counts of published cells are published only where no cell is below the threshold:
- the reasons questions went to the coordinator are published per month (all departments, not
  per department): a reason with at least SUPPRESS_BELOW that month by name, the rest together
  as "other" (and when that rest would be below the threshold, the smallest named reason joins
  it), so no reason's count below the threshold is shown or left to subtract;
- questions referred to another authority are counted in sub-cells of one authority and one
  month; a sub-cell below the threshold is hidden, and the month's `referred` and every
  authority's total over the period add up published sub-cells only.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.i18n import LANGUAGES, t
from bot.messages.languages import UNDETERMINED, language_label
from db.enquiries.crud import get_municipality
from db.enquiries.sla import LOCAL, add_working_hours
from db.models import (
    Department,
    Enquiry,
    EnquiryEvent,
    Escalation,
    EscalationReason,
    EventKind,
    utcnow,
)
from db.plumbing.phrases import N_
from db.routing.authorities import list_authorities, name_in

SUPPRESS_BELOW = 5
NO_DEPARTMENT = ""
# Translators: the department column of the public report for questions no department got.
NOT_ROUTED = N_("Ej fördelade")
REFERRED = "referred"
"""The status (and event kind) of an enquiry referred elsewhere (issue 24), counted if present."""
OTHER_REASONS = "other"
"""The escalation reasons of a month published together (each below the threshold alone)."""
ROUTING_REASONS = frozenset(
    {
        EscalationReason.UNSURE,
        EscalationReason.OUT_OF_SCOPE,
        EscalationReason.HUMAN,
        EscalationReason.NOT_OURS,
        EscalationReason.UNAVAILABLE,
        EscalationReason.FAILED,
        EscalationReason.ERASURE,
    }
)
"""Escalations that mean the coordinator had to place the question (not a late or unhelpful
answer, which come after a department had it)."""


@dataclass
class Facts:
    """What the report needs to know about one enquiry."""

    enquiry: Enquiry
    department_key: str
    month: str
    language: str
    reasons: list[str] = field(default_factory=list)
    referred: bool = False


@dataclass
class Cell:
    """The figures of one department in one month (or of all of a month's published questions)."""

    department_key: str
    department_name: str
    department_name_en: str
    month: str
    received: int = 0
    answered: int = 0
    on_time: int = 0
    late: int = 0
    hours_to_answer: list[float] = field(default_factory=list)
    escalations: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    referred: int = 0  # told to turn to another authority, in published sub-cells (months)
    direct: int = 0  # reached its department without the coordinator
    caught: int = 0  # out of scope, or referred elsewhere
    past_deadline: int = 0  # escalated because the deadline passed
    feedback: int = 0  # answers the association rated
    satisfied: int = 0  # of those, rated helpful
    hidden: bool = False  # a cell with questions, none of them published

    @property
    def suppressed(self) -> bool:
        """Tell whether the cell is too small to publish."""
        return self.hidden or self.received < SUPPRESS_BELOW

    @property
    def sla_share(self) -> float | None:
        """Return the share answered within the deadline, of those answered or overdue."""
        judged = self.on_time + self.late
        return self.on_time / judged if judged else None

    @property
    def median_hours(self) -> float | None:
        """Return the median hours from arrival to the first answer."""
        return statistics.median(self.hours_to_answer) if self.hours_to_answer else None

    @property
    def satisfaction(self) -> float | None:
        """Return the share of rated answers rated helpful (None below the threshold)."""
        if self.feedback < SUPPRESS_BELOW:
            return None
        return self.satisfied / self.feedback

    def share(self, count: int) -> float | None:
        """Return a count as a share of the received questions."""
        return round(count / self.received, 4) if self.received else None

    def public(self) -> dict[str, Any]:
        """Return the publishable figures: values of a suppressed cell are left out."""
        row: dict[str, Any] = {
            "department": self.department_key or None,
            "department_name": self.department_name,
            "department_name_en": self.department_name_en,
            "month": self.month,
            "suppressed": self.suppressed,
        }
        if self.suppressed:
            return row
        share, median = self.sla_share, self.median_hours
        enough_answers = len(self.hours_to_answer) >= SUPPRESS_BELOW
        satisfaction = self.satisfaction
        row.update(
            received=self.received,
            answered=self.answered,
            answered_within_sla_share=None if share is None else round(share, 4),
            median_hours_to_first_answer=None
            if median is None or not enough_answers
            else round(median, 1),
            escalations=self.escalations,
            routed_without_coordinator_share=self.share(self.direct),
            out_of_scope_or_referred_share=self.share(self.caught),
            escalated_past_deadline_share=self.share(self.past_deadline),
            feedback_given=self.feedback if self.feedback >= SUPPRESS_BELOW else None,
            satisfied_share=None if satisfaction is None else round(satisfaction, 4),
        )
        return row


@dataclass
class Total:
    """How many published questions one department or one language had over the period."""

    key: str
    name: str
    name_en: str
    received: int = 0  # published questions only
    hidden: int = 0  # months with questions of which none could be published

    @property
    def suppressed(self) -> bool:
        """Tell whether nothing of it could be published although it had questions."""
        return self.received == 0 and self.hidden > 0

    def public(self, kind: str) -> dict[str, Any]:
        """Return the publishable total; a suppressed one is left out."""
        row: dict[str, Any] = {
            kind: self.key or None,
            f"{kind}_name": self.name,
            f"{kind}_name_en": self.name_en,
            "suppressed": self.suppressed,
            "hidden_months": self.hidden,
        }
        if not self.suppressed:
            row["received"] = self.received
        return row


@dataclass
class ReferralTotal(Total):
    """How many published questions were referred to one other authority over the period: the
    sum of its published months (an authority-month below the threshold is hidden, counted in
    `hidden`), so a total is 0 or at least the threshold and two periods differ by published
    months only."""

    def public(self, kind: str) -> dict[str, Any]:
        """Return the publishable count (months are not hidden per authority)."""
        row = super().public(kind)
        del row["hidden_months"]
        return row


def month_of(moment: datetime) -> str:
    """Return the local (Swedish) calendar month of a moment as YYYY-MM."""
    return moment.astimezone(LOCAL).strftime("%Y-%m")


def first_month(now: datetime, months: int) -> str:
    """Return the first month of a window of `months` months ending with now's month."""
    local = now.astimezone(LOCAL)
    index = local.year * 12 + local.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1).strftime("%Y-%m")


def months_between(start: str, end: str) -> list[str]:
    """Return every month from start to end (YYYY-MM, both included)."""
    found, (year, month) = [], (int(start[:4]), int(start[5:]))
    while f"{year:04d}-{month:02d}" <= end:
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def _deadline(
    enquiry: Enquiry, routed: list[tuple[datetime, datetime]], default: datetime
) -> datetime:
    """Return the deadline in force when the enquiry was answered (or now, when it is open)."""
    cutoff = enquiry.answered_at
    due = [d for at, d in routed if cutoff is None or at <= cutoff]
    return due[-1] if due else default


def _routed_deadlines(
    session: Session, ids: list[int]
) -> dict[int, list[tuple[datetime, datetime]]]:
    found: dict[int, list[tuple[datetime, datetime]]] = {}
    if not ids:
        return found
    events = session.exec(
        select(EnquiryEvent)
        .where(
            col(EnquiryEvent.enquiry_id).in_(ids),
            col(EnquiryEvent.kind).in_([EventKind.ROUTED, EventKind.REROUTED]),
        )
        .order_by(col(EnquiryEvent.at), col(EnquiryEvent.id))
    ).all()
    for event in events:
        raw = (event.detail or {}).get("sla_due_at")
        if isinstance(raw, str):
            due = datetime.fromisoformat(raw)
            found.setdefault(event.enquiry_id, []).append((_aware(event.at), _aware(due)))
    return found


def _aware(moment: datetime) -> datetime:
    """Return the moment with UTC attached when the backend dropped the zone (SQLite)."""
    from datetime import UTC

    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def period_enquiries(*, session: Session, now: datetime, months: int) -> list[Enquiry]:
    """Return the enquiries that arrived in the report's period (up to now)."""
    start = first_month(now, months)
    return [
        e
        for e in session.exec(select(Enquiry).where(col(Enquiry.created_at) <= now)).all()
        if month_of(_aware(e.created_at)) >= start
    ]


def _facts(session: Session, enquiries: list[Enquiry]) -> list[Facts]:
    departments = {d.id: d.key for d in session.exec(select(Department)).all()}
    ids = [e.id for e in enquiries if e.id is not None]
    reasons: dict[int, list[str]] = {}
    referred: set[int] = set()
    if ids:
        for esc in session.exec(select(Escalation).where(col(Escalation.enquiry_id).in_(ids))):
            reasons.setdefault(esc.enquiry_id, []).append(esc.reason)
        referred = set(
            session.exec(
                select(EnquiryEvent.enquiry_id).where(
                    col(EnquiryEvent.enquiry_id).in_(ids), EnquiryEvent.kind == REFERRED
                )
            ).all()
        )
    return [
        Facts(
            enquiry=e,
            department_key=departments.get(e.department_id, NO_DEPARTMENT),
            month=month_of(_aware(e.created_at)),
            language=e.detected_language or UNDETERMINED,
            reasons=reasons.get(e.id or 0, []),
            referred=e.status == REFERRED or (e.id in referred),
        )
        for e in enquiries
    ]


def published(facts: list[Facts]) -> list[Facts]:
    """Return the published questions: in a department-month and a language-month of at least
    SUPPRESS_BELOW published questions each (repeated until nothing more drops out)."""
    shown = list(facts)
    while True:
        departments = Counter((f.month, f.department_key) for f in shown)
        languages = Counter((f.month, f.language) for f in shown)
        kept = [
            f
            for f in shown
            if departments[(f.month, f.department_key)] >= SUPPRESS_BELOW
            and languages[(f.month, f.language)] >= SUPPRESS_BELOW
        ]
        if len(kept) == len(shown):
            return kept
        shown = kept


class _Counter:
    """Adds enquiries to cells: deadlines, answers, escalations and feedback."""

    def __init__(self, session: Session, facts: list[Facts], now: datetime) -> None:
        municipality = get_municipality(session=session)
        self.window = {
            "day_start": municipality.workday_start_hour,
            "day_end": municipality.workday_end_hour,
        }
        self.default_hours = municipality.default_sla_hours
        self.departments = {d.key: d for d in session.exec(select(Department)).all()}
        self.routed = _routed_deadlines(session, [f.enquiry.id for f in facts if f.enquiry.id])
        self.now = now

    def new_cell(self, key: str, month: str) -> Cell:
        department = self.departments.get(key)
        return Cell(
            department_key=key,
            department_name=department.name if department else NOT_ROUTED,
            department_name_en=(department.name_en or department.name)
            if department
            else t("en", NOT_ROUTED),
            month=month,
        )

    def add(self, cell: Cell, facts: Facts) -> None:
        enquiry, department = facts.enquiry, self.departments.get(facts.department_key)
        created = _aware(enquiry.created_at)
        cell.received += 1
        hours = (department.sla_hours if department else 0) or self.default_hours
        due = _deadline(
            enquiry,
            self.routed.get(enquiry.id or 0, []),
            add_working_hours(created, hours, **self.window),
        )
        if enquiry.answered_at is not None:
            answered = _aware(enquiry.answered_at)
            cell.answered += 1
            cell.hours_to_answer.append((answered - created).total_seconds() / 3600)
            if answered <= due:
                cell.on_time += 1
            else:
                cell.late += 1
        elif enquiry.closed_at is None and due < self.now:
            cell.late += 1
        for reason in facts.reasons:
            cell.escalations += 1
            cell.reasons[reason] += 1
        if department is not None and not ROUTING_REASONS.intersection(facts.reasons):
            cell.direct += 1
        if facts.referred or EscalationReason.OUT_OF_SCOPE in facts.reasons:
            cell.caught += 1
        if EscalationReason.SLA in facts.reasons:
            cell.past_deadline += 1
        if enquiry.helpful is not None:
            cell.feedback += 1
            cell.satisfied += int(enquiry.helpful)


def _sort_key(cell: Cell) -> tuple[str, bool, str]:
    return (cell.month, cell.department_key == "", cell.department_key)


def report_cells(
    *, session: Session, now: datetime | None = None, months: int = 12, only_published: bool = False
) -> list[Cell]:
    """Return one cell per department and month with enquiries, oldest month first.

    All questions are counted (the figures before suppression) unless `only_published`: then
    the published questions, and a hidden cell for a department-month none of whose questions
    could be published.
    """
    now = now or utcnow()
    facts = _facts(session, period_enquiries(session=session, now=now, months=months))
    counter = _Counter(session, facts, now)
    counted = published(facts) if only_published else facts
    cells: dict[tuple[str, str], Cell] = {}
    for found in counted:
        key = (found.department_key, found.month)
        cell = cells.get(key) or cells.setdefault(key, counter.new_cell(*key))
        counter.add(cell, found)
    for found in facts:
        key = (found.department_key, found.month)
        if key not in cells:
            cells[key] = counter.new_cell(*key)
            cells[key].hidden = True
    return sorted(cells.values(), key=_sort_key)


def month_figures(
    *, session: Session, now: datetime, months: int, facts: list[Facts] | None = None
) -> list[Cell]:
    """Return every month of the period with the figures of all its published questions."""
    if facts is None:
        facts = _facts(session, period_enquiries(session=session, now=now, months=months))
    counter = _Counter(session, facts, now)
    cells = {
        m: counter.new_cell("*", m) for m in months_between(first_month(now, months), month_of(now))
    }
    for found in published(facts):
        counter.add(cells[found.month], found)
    return list(cells.values())


def department_totals(*, session: Session, facts: list[Facts]) -> list[Total]:
    """Return every department's published questions over the period, by name (silent ones
    too, as 0). Enquiries no department has are counted last, when there are any."""
    departments = session.exec(select(Department).order_by(col(Department.name))).all()
    totals = {d.key: Total(d.key, d.name, d.name_en or d.name) for d in departments}
    unrouted = Total(NO_DEPARTMENT, NOT_ROUTED, t("en", NOT_ROUTED))
    shown = published(facts)
    for found in shown:
        totals.get(found.department_key, unrouted).received += 1
    shown_cells = {(f.department_key, f.month) for f in shown}
    for key, _month in {(f.department_key, f.month) for f in facts} - shown_cells:
        totals.get(key, unrouted).hidden += 1
    has_unrouted = any(f.department_key == NO_DEPARTMENT for f in facts)
    return [*totals.values(), *([unrouted] if has_unrouted else [])]


def authority_totals(*, session: Session, facts: list[Facts]) -> list[Total]:
    """Return how many published enquiries were referred to each other authority over the period.

    Every authority in the table is listed (none referred: 0), by key; one removed since
    keeps its count under its key. Only published questions count, like every other total.
    """
    totals: dict[str, Total] = {
        a.key: ReferralTotal(a.key, name_in(a, "sv"), name_in(a, "en"))
        for a in list_authorities(session=session)
    }
    for (key, _month), count in referral_cells(facts).items():
        total = totals.setdefault(key, ReferralTotal(key, key, key))
        if count >= SUPPRESS_BELOW:
            total.received += count
        else:
            total.hidden += 1
    return list(totals.values())


def referral_cells(facts: list[Facts]) -> Counter[tuple[str, str]]:
    """Return the published questions referred elsewhere per (authority key, month)."""
    return Counter((f.enquiry.referred_to or "", f.month) for f in published(facts) if f.referred)


def month_referred(facts: list[Facts]) -> dict[str, int]:
    """Return each month's referred questions in published authority-month sub-cells only."""
    found: Counter[str] = Counter()
    for (_key, month), count in referral_cells(facts).items():
        if count >= SUPPRESS_BELOW:
            found[month] += count
    return dict(found)


def pooled_reasons(reasons: Counter[str]) -> dict[str, int]:
    """Return a month's escalation reasons with no count below the threshold: each reason with
    at least SUPPRESS_BELOW by name, the rest together as "other" (0 or at least the threshold
    whenever a named reason can join it)."""
    named = {k: v for k, v in reasons.items() if v >= SUPPRESS_BELOW}
    rest = sum(reasons.values()) - sum(named.values())
    while 0 < rest < SUPPRESS_BELOW and named:
        smallest = min(named, key=lambda k: (named[k], k))
        rest += named.pop(smallest)
    if rest:
        named[OTHER_REASONS] = rest
    return dict(sorted(named.items()))


def language_totals(facts: list[Facts]) -> list[Total]:
    """Return the published questions per language written in over the period.

    The reply languages are always listed (in their order), then any other language by count,
    then the enquiries too short to tell.
    """
    everything = Counter(f.language for f in facts)
    shown = published(facts)
    counts = Counter(f.language for f in shown)
    hidden = Counter(
        language
        for language, _month in {(f.language, f.month) for f in facts}
        - {(f.language, f.month) for f in shown}
    )
    others = sorted(
        (code for code in everything if code not in LANGUAGES and code != UNDETERMINED),
        key=lambda code: (-counts[code], code),
    )
    codes = [*LANGUAGES, *others, *([UNDETERMINED] if everything[UNDETERMINED] else [])]
    return [
        Total(
            code,
            language_label(code, "sv"),
            language_label(code, "en"),
            counts[code],
            hidden[code],
        )
        for code in codes
    ]


def language_months(facts: list[Facts], months: list[str]) -> list[dict[str, Any]]:
    """Return the published questions per language and month (None: hidden that month)."""
    shown = Counter((f.language, f.month) for f in published(facts))
    present = {(f.language, f.month) for f in facts}
    rows = []
    for total in language_totals(facts):
        if not any((total.key, m) in present for m in months):
            continue
        counts: dict[str, int | None] = {}
        for month in months:
            key = (total.key, month)
            counts[month] = shown.get(key, None if key in present else 0)
        rows.append({"language": total.key, "language_name": total.name, "months": counts})
    return rows


def _month_row(cell: Cell, referred: int) -> dict[str, Any]:
    """Return a month's figures over all its published questions (0, or at least the threshold:
    every published department-month has that many), with its sub-counts: the reasons pooled
    so that none is below the threshold, and the referred in published authority-months."""
    row = cell.public()
    del row["department"], row["department_name"], row["department_name_en"]
    if cell.received == 0:
        row.update(dict.fromkeys(FIGURE_COLUMNS), suppressed=False, received=0, answered=0)
        row.update(escalations=0)
    row.update(escalation_reasons=pooled_reasons(cell.reasons), referred=referred)
    return row


def public_report(
    *, session: Session, now: datetime | None = None, months: int = 12
) -> dict[str, Any]:
    """Return the publishable report: period, threshold, one row per department and month,
    every month's figures, and the period's totals per department and per language."""
    now = now or utcnow()
    facts = _facts(session, period_enquiries(session=session, now=now, months=months))
    cells = report_cells(session=session, now=now, months=months, only_published=True)
    period = months_between(first_month(now, months), month_of(now))
    referred = month_referred(facts)
    return {
        "generated_at": now.isoformat(),
        "period": {"from_month": period[0], "to_month": period[-1]},
        "suppression_threshold": SUPPRESS_BELOW,
        "rows": [c.public() for c in cells],
        "months": [
            _month_row(c, referred.get(c.month, 0))
            for c in month_figures(session=session, now=now, months=months, facts=facts)
        ],
        "departments": [
            t.public("department") for t in department_totals(session=session, facts=facts)
        ],
        "languages": [t.public("language") for t in language_totals(facts)],
        "language_months": language_months(facts, period),
        "authorities": [
            t.public("authority") for t in authority_totals(session=session, facts=facts)
        ],
    }


FIGURE_COLUMNS = (
    "received",
    "routed_without_coordinator_share",
    "out_of_scope_or_referred_share",
    "escalated_past_deadline_share",
    "answered",
    "answered_within_sla_share",
    "median_hours_to_first_answer",
    "feedback_given",
    "satisfied_share",
    "escalations",
)
CSV_COLUMNS = ("month", "department", "department_name", "suppressed", *FIGURE_COLUMNS)
MONTH_COLUMNS = ("month", *FIGURE_COLUMNS, "escalation_reasons", "referred")
TOTAL_COLUMNS = ("{kind}", "{kind}_name", "suppressed", "received", "hidden_months")
TABLES = ("months", "overall", "departments", "languages", "language_months", "authorities")
"""The report's tables as CSV: per department and month, all departments per month, the
period's totals, and per language and month."""


def _csv_values(row: dict[str, Any], columns: tuple[str, ...] | list[str]) -> list[str]:
    reasons = row.get("escalation_reasons")
    values = {
        **row,
        "department": row.get("department") or "",
        "suppressed": "yes" if row.get("suppressed") else "no",
        "escalation_reasons": ";".join(f"{k}={v}" for k, v in reasons.items()) if reasons else "",
    }
    return ["" if values.get(c) is None else str(values[c]) for c in columns]


def csv_rows(report: dict[str, Any], table: str = "months") -> list[list[str]]:
    """Return one of the report's tables as CSV rows (header first); suppressed values empty."""
    if table in ("departments", "languages", "authorities"):
        kind = "authority" if table == "authorities" else table.removesuffix("s")
        columns = [
            c.format(kind=kind)
            for c in TOTAL_COLUMNS
            if not (table == "authorities" and c == "hidden_months")
        ]
        return [columns] + [_csv_values(row, columns) for row in report[table]]
    if table == "overall":
        return [list(MONTH_COLUMNS)] + [_csv_values(r, MONTH_COLUMNS) for r in report["months"]]
    if table == "language_months":
        period = months_between(report["period"]["from_month"], report["period"]["to_month"])
        header = ["language", "language_name", *period]
        return [header] + [
            [
                row["language"],
                row["language_name"],
                *("" if row["months"][m] is None else str(row["months"][m]) for m in period),
            ]
            for row in report["language_months"]
        ]
    return [list(CSV_COLUMNS)] + [_csv_values(row, CSV_COLUMNS) for row in report["rows"]]
