"""Public transparency figures: per department and month, and per department and language over
the period (every department, also a silent one), small counts suppressed."""

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
from db.models import Department, Enquiry, EnquiryEvent, Escalation, EventKind, utcnow
from db.plumbing.phrases import N_
from db.routing.authorities import list_authorities, name_in

SUPPRESS_BELOW = 5
NO_DEPARTMENT = ""
# Translators: the department column of the public report for questions no department got.
NOT_ROUTED = N_("Ej fördelade")


@dataclass
class Cell:
    """The figures of one department in one month (before suppression)."""

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
    referred: int = 0  # told to turn to another authority (db/routing/referral.py)

    @property
    def suppressed(self) -> bool:
        """Tell whether the cell is too small to publish."""
        return self.received < SUPPRESS_BELOW

    @property
    def sla_share(self) -> float | None:
        """Return the share answered within the deadline, of those answered or overdue."""
        judged = self.on_time + self.late
        return self.on_time / judged if judged else None

    @property
    def median_hours(self) -> float | None:
        """Return the median hours from arrival to the first answer."""
        return statistics.median(self.hours_to_answer) if self.hours_to_answer else None

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
        row.update(
            received=self.received,
            answered=self.answered,
            answered_within_sla_share=None if share is None else round(share, 4),
            median_hours_to_first_answer=None if median is None else round(median, 1),
            escalations=self.escalations,
            escalation_reasons=dict(sorted(self.reasons.items())),
            referred=self.referred,
        )
        return row


@dataclass
class Total:
    """How many enquiries one department or one language had over the whole period."""

    key: str
    name: str
    name_en: str
    received: int = 0

    @property
    def suppressed(self) -> bool:
        """Tell whether the count is too small to publish (none at all is published: 0)."""
        return 0 < self.received < SUPPRESS_BELOW

    def public(self, kind: str) -> dict[str, Any]:
        """Return the publishable total; a suppressed count is left out."""
        row: dict[str, Any] = {
            kind: self.key or None,
            f"{kind}_name": self.name,
            f"{kind}_name_en": self.name_en,
            "suppressed": self.suppressed,
        }
        if not self.suppressed:
            row["received"] = self.received
        return row


def month_of(moment: datetime) -> str:
    """Return the local (Swedish) calendar month of a moment as YYYY-MM."""
    return moment.astimezone(LOCAL).strftime("%Y-%m")


def first_month(now: datetime, months: int) -> str:
    """Return the first month of a window of `months` months ending with now's month."""
    local = now.astimezone(LOCAL)
    index = local.year * 12 + local.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1).strftime("%Y-%m")


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


def report_cells(*, session: Session, now: datetime | None = None, months: int = 12) -> list[Cell]:
    """Return one cell per department and month with enquiries, oldest month first."""
    now = now or utcnow()
    municipality = get_municipality(session=session)
    window = {
        "day_start": municipality.workday_start_hour,
        "day_end": municipality.workday_end_hour,
    }
    departments = {d.id: d for d in session.exec(select(Department)).all()}
    enquiries = period_enquiries(session=session, now=now, months=months)
    ids = [e.id for e in enquiries if e.id is not None]
    routed = _routed_deadlines(session, ids)
    escalations: dict[int, list[Escalation]] = {}
    if ids:
        for esc in session.exec(select(Escalation).where(col(Escalation.enquiry_id).in_(ids))):
            escalations.setdefault(esc.enquiry_id, []).append(esc)
    cells: dict[tuple[str, str], Cell] = {}
    for enquiry in enquiries:
        department = departments.get(enquiry.department_id)
        key = department.key if department else NO_DEPARTMENT
        created = _aware(enquiry.created_at)
        month = month_of(created)
        cell = cells.get((key, month))
        if cell is None:
            cell = cells[(key, month)] = Cell(
                department_key=key,
                department_name=department.name if department else NOT_ROUTED,
                department_name_en=(department.name_en or department.name)
                if department
                else t("en", NOT_ROUTED),
                month=month,
            )
        cell.received += 1
        hours = (department.sla_hours if department else 0) or municipality.default_sla_hours
        due = _deadline(
            enquiry, routed.get(enquiry.id or 0, []), add_working_hours(created, hours, **window)
        )
        if enquiry.answered_at is not None:
            answered = _aware(enquiry.answered_at)
            cell.answered += 1
            cell.hours_to_answer.append((answered - created).total_seconds() / 3600)
            if answered <= due:
                cell.on_time += 1
            else:
                cell.late += 1
        elif enquiry.closed_at is None and due < now:
            cell.late += 1
        for esc in escalations.get(enquiry.id or 0, []):
            cell.escalations += 1
            cell.reasons[esc.reason] += 1
        if enquiry.referred_to is not None:
            cell.referred += 1
    return sorted(cells.values(), key=lambda c: (c.month, c.department_key == "", c.department_key))


def department_totals(*, session: Session, enquiries: list[Enquiry]) -> list[Total]:
    """Return every department's count over the period, by name (silent ones too, as 0).

    Enquiries no department has are counted last, when there are any.
    """
    departments = session.exec(select(Department).order_by(col(Department.name))).all()
    totals = {d.id: Total(d.key, d.name, d.name_en or d.name) for d in departments}
    unrouted = Total(NO_DEPARTMENT, NOT_ROUTED, t("en", NOT_ROUTED))
    for enquiry in enquiries:
        totals.get(enquiry.department_id, unrouted).received += 1
    return [*totals.values(), *([unrouted] if unrouted.received else [])]


def authority_totals(*, session: Session, enquiries: list[Enquiry]) -> list[Total]:
    """Return how many enquiries were referred to each other authority over the period.

    Every authority in the table is listed (none referred: 0), by key; one removed since
    keeps its count under its key.
    """
    totals = {
        a.key: Total(a.key, name_in(a, "sv"), name_in(a, "en"))
        for a in list_authorities(session=session)
    }
    for enquiry in enquiries:
        key = enquiry.referred_to
        if key is not None:
            totals.setdefault(key, Total(key, key, key)).received += 1
    return list(totals.values())


def language_totals(enquiries: list[Enquiry]) -> list[Total]:
    """Return the count per language written in over the period.

    The reply languages are always listed (in their order), then any other language by count,
    then the enquiries too short to tell.
    """
    counts = Counter(e.detected_language or UNDETERMINED for e in enquiries)
    others = sorted(
        (code for code in counts if code not in LANGUAGES and code != UNDETERMINED),
        key=lambda code: (-counts[code], code),
    )
    return [
        Total(code, language_label(code, "sv"), language_label(code, "en"), counts[code])
        for code in [*LANGUAGES, *others, *([UNDETERMINED] if counts[UNDETERMINED] else [])]
    ]


def public_report(
    *, session: Session, now: datetime | None = None, months: int = 12
) -> dict[str, Any]:
    """Return the publishable report: period, threshold, one row per department and month,
    and the period's totals per department and per language."""
    now = now or utcnow()
    cells = report_cells(session=session, now=now, months=months)
    enquiries = period_enquiries(session=session, now=now, months=months)
    return {
        "generated_at": now.isoformat(),
        "period": {"from_month": first_month(now, months), "to_month": month_of(now)},
        "suppression_threshold": SUPPRESS_BELOW,
        "rows": [c.public() for c in cells],
        "departments": [
            t.public("department") for t in department_totals(session=session, enquiries=enquiries)
        ],
        "languages": [t.public("language") for t in language_totals(enquiries)],
        "authorities": [
            t.public("authority") for t in authority_totals(session=session, enquiries=enquiries)
        ],
    }


CSV_COLUMNS = (
    "month",
    "department",
    "department_name",
    "suppressed",
    "received",
    "answered",
    "answered_within_sla_share",
    "median_hours_to_first_answer",
    "escalations",
    "escalation_reasons",
)


def _csv_values(row: dict[str, Any], columns: list[str]) -> list[str]:
    values = {**row, "suppressed": "yes" if row["suppressed"] else "no"}
    return ["" if values.get(c) is None else str(values[c]) for c in columns]


TOTAL_COLUMNS = ("{kind}", "{kind}_name", "suppressed", "received")
TABLES = ("months", "departments", "languages", "authorities")
"""The report's tables as CSV: per department and month, and the period's totals."""


def csv_rows(report: dict[str, Any], table: str = "months") -> list[list[str]]:
    """Return one of the report's tables as CSV rows (header first); suppressed values empty."""
    if table != "months":
        kind = "authority" if table == "authorities" else table.removesuffix("s")
        columns = [c.format(kind=kind) for c in TOTAL_COLUMNS]
        return [columns] + [_csv_values(row, columns) for row in report[table]]
    rows = [list(CSV_COLUMNS)]
    for row in report["rows"]:
        reasons = row.get("escalation_reasons")
        values = {
            **row,
            "department": row["department"] or "",
            "suppressed": "yes" if row["suppressed"] else "no",
            "escalation_reasons": ";".join(f"{k}={v}" for k, v in reasons.items())
            if reasons
            else "",
        }
        rows.append(["" if values.get(c) is None else str(values.get(c)) for c in CSV_COLUMNS])
    return rows
