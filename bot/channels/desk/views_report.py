"""The public transparency report at /rapport, with CSV and JSON downloads of the same figures."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from markupsafe import Markup

from bot.channels.desk.charts import Bar, bar_chart
from bot.channels.desk.pages import PageTexts
from bot.channels.desk.stats import SUPPRESS_BELOW, TABLES, csv_rows, public_report
from bot.channels.desk.web import now_of, render, run_db, texts_of
from db.models import EscalationReason
from db.people.departments import departments_described
from db.plumbing.phrases import N_, Phrase

REASON_NAMES = {
    # Translators: why questions went to the coordinator, in the public report's "Reasons" column.
    EscalationReason.UNSURE: Phrase(N_("osäker tolkning")),
    EscalationReason.OUT_OF_SCOPE: Phrase(N_("utanför kommunens uppdrag")),
    EscalationReason.HUMAN: Phrase(N_("ville tala med en människa")),
    EscalationReason.NOT_OURS: Phrase(N_("fel förvaltning")),
    EscalationReason.NOT_HELPED: Phrase(N_("svaret hjälpte inte")),
    EscalationReason.SLA: Phrase(N_("inte besvarad i tid")),
    EscalationReason.UNAVAILABLE: Phrase(N_("tjänsten otillgänglig")),
    EscalationReason.FAILED: Phrase(N_("kunde inte hanteras")),
    EscalationReason.UNREACHABLE: Phrase(N_("förvaltningen kunde inte nås")),
    EscalationReason.MISREFERRED: Phrase(N_("hänvisningen stämde inte")),
    EscalationReason.NOT_LISTED: Phrase(N_("valde något annat")),
    EscalationReason.UNCONFIRMED: Phrase(N_("valde ingen förvaltning")),
    EscalationReason.ERASURE: Phrase(N_("begäran om radering")),
    # Translators: reasons each below the smallest number shown, counted together.
    "other": Phrase(N_("övriga orsaker tillsammans")),
}
# Translators: the title of a chart (read out by screen readers); {department} is its name.
RECEIVED_TITLE = N_("Inkomna frågor per månad: {department}")
# Translators: the title of a chart (read out by screen readers); {department} is its name.
SLA_TITLE = N_("Andel besvarade inom tidsgränsen per månad: {department}")
# Translators: the title of a chart of questions written in one language; {language} its name.
LANGUAGE_TITLE = N_("Frågor per månad på {language}")
# Translators: the description of a chart for screen readers: each month and its value.
CHART_VALUES = N_("Värde per månad: {values}.")
# Translators: a month in a chart's description whose value is not published.
HIDDEN = N_("dold")
DEFAULT_MONTHS = 12
MAX_MONTHS = 36
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Figure:
    """One of the report's figures: its key in a row, its chart title and how it is shown."""

    key: str
    title: str
    percent: bool = False


FIGURES = (
    # Translators: a chart title in the public report (all departments together).
    Figure("received", N_("Inkomna frågor per månad")),
    # Translators: a chart title in the public report (all departments together).
    Figure(
        "routed_without_coordinator_share",
        N_("Andel som nådde rätt förvaltning utan samordnaren, per månad"),
        percent=True,
    ),
    # Translators: a chart title in the public report (all departments together).
    Figure(
        "out_of_scope_or_referred_share",
        N_("Andel utanför kommunens uppdrag eller hänvisade, per månad"),
        percent=True,
    ),
    # Translators: a chart title in the public report (all departments together).
    Figure(
        "escalated_past_deadline_share",
        N_("Andel som gick till samordnaren när tidsgränsen passerats, per månad"),
        percent=True,
    ),
    # Translators: a chart title in the public report (all departments together).
    Figure(
        "median_hours_to_first_answer",
        N_("Mediantid till förvaltningens första svar (timmar), per månad"),
    ),
    # Translators: a chart title in the public report (all departments together).
    Figure(
        "satisfied_share", N_("Andel nöjda av de föreningar som gav betyg, per månad"), percent=True
    ),
)


def neutralise_cell(value: str) -> str:
    """Keep a spreadsheet from reading a cell as a formula (OWASP: prefix a single quote)."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def write_csv(rows: list[list[str]]) -> str:
    """Return rows as CSV: every cell quoted and neutralised, lines ended by CRLF (RFC 4180).

    Quoting every cell keeps a carriage return or line feed inside a name inside its cell;
    neutralising keeps a cell that starts like a formula text.
    """
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(
        [[neutralise_cell(cell) for cell in row] for row in rows]
    )
    return buffer.getvalue()


def _months(request: web.Request) -> int:
    try:
        value = int(request.query.get("months", DEFAULT_MONTHS))
    except ValueError:
        return DEFAULT_MONTHS
    return min(max(value, 1), MAX_MONTHS)


async def _report(request: web.Request) -> dict[str, Any]:
    now, months = now_of(request), _months(request)
    return await run_db(request, lambda s: public_report(session=s, now=now, months=months))


@dataclass
class DepartmentCharts:
    """The charts of one department over the period."""

    key: str
    name: str
    name_en: str
    received: Markup
    sla: Markup


def _described(texts: PageTexts, bars: list[Bar]) -> str:
    values = ", ".join(f"20{bar.label}: {bar.text}" for bar in bars)
    return texts.plain(Phrase(CHART_VALUES, {"values": values}))


def _chart(texts: PageTexts, title: str, bars: list[Bar], maximum: float, chart_id: str) -> Markup:
    return bar_chart(
        title=title,
        description=_described(texts, bars),
        bars=bars,
        maximum=maximum,
        chart_id=chart_id,
    )


def _bar(label: str, value: float | None, percent: bool, hours: Any) -> Bar:
    if value is None:
        return Bar(label, None, "–")
    if percent:
        return Bar(label, value * 100, f"{round(value * 100)}%")
    return Bar(label, value, hours(value) if isinstance(value, float) else str(value))


def _figure_charts(report: dict[str, Any], texts: PageTexts, hours: Any) -> list[Markup]:
    charts = []
    for index, figure in enumerate(FIGURES):
        bars = [
            _bar(row["month"][2:], row.get(figure.key), figure.percent, hours)
            for row in report["months"]
        ]
        peak = 100.0 if figure.percent else max((b.value or 0 for b in bars), default=0)
        charts.append(_chart(texts, texts.plain(figure.title), bars, peak, f"chart-figure-{index}"))
    return charts


def _language_charts(report: dict[str, Any], texts: PageTexts) -> list[Markup]:
    charts = []
    peak = max(
        (n or 0 for row in report["language_months"] for n in row["months"].values()), default=0
    )
    for index, row in enumerate(report["language_months"]):
        if not any(row["months"].values()):
            continue
        bars = [
            Bar(month[2:], None, texts.plain(HIDDEN)) if n is None else Bar(month[2:], n, str(n))
            for month, n in row["months"].items()
        ]
        title = texts.plain(Phrase(LANGUAGE_TITLE, {"language": texts.language(row["language"])}))
        charts.append(_chart(texts, title, bars, peak, f"chart-language-{index}"))
    return charts


def _charts(report: dict[str, Any], texts: PageTexts) -> list[DepartmentCharts]:
    rows = report["rows"]
    months = [row["month"] for row in report["months"]]
    peak = max((r["received"] for r in rows if not r["suppressed"]), default=0)
    hidden = texts.plain(HIDDEN)
    found: list[DepartmentCharts] = []
    keys = sorted({row["department"] or "-" for row in rows})
    for index, key in enumerate(keys):
        mine = {r["month"]: r for r in rows if (r["department"] or "-") == key}
        if all(r["suppressed"] for r in mine.values()):
            continue
        first = next(iter(mine.values()))
        received, sla = [], []
        for month in months:
            row, label = mine.get(month), month[2:]
            if row is None:
                received.append(Bar(label, 0, "0"))
                sla.append(Bar(label, None, "–"))
            elif row["suppressed"]:
                received.append(Bar(label, None, hidden))
                sla.append(Bar(label, None, hidden))
            else:
                received.append(Bar(label, row["received"], str(row["received"])))
                share = row["answered_within_sla_share"]
                sla.append(
                    Bar(label, None, "–")
                    if share is None
                    else Bar(label, share * 100, f"{round(share * 100)}%")
                )
        department = {"department": first["department_name"]}
        found.append(
            DepartmentCharts(
                key=key,
                name=first["department_name"],
                name_en=first["department_name_en"],
                received=_chart(
                    texts,
                    texts.plain(Phrase(RECEIVED_TITLE, department)),
                    received,
                    peak,
                    f"chart-received-{index}",
                ),
                sla=_chart(
                    texts,
                    texts.plain(Phrase(SLA_TITLE, department)),
                    sla,
                    100,
                    f"chart-sla-{index}",
                ),
            )
        )
    return found


async def report_page(request: web.Request) -> web.StreamResponse:
    """Show the public report (no sign-in needed)."""
    report = await _report(request)
    departments = await run_db(request, lambda s: departments_described(session=s))
    texts = texts_of(request)
    hours = texts.hours
    return render(
        request,
        "report.html",
        report=report,
        departments=departments,
        charts=_charts(report, texts),
        figure_charts=list(zip(FIGURES, _figure_charts(report, texts, hours), strict=True)),
        language_charts=_language_charts(report, texts),
        months=_months(request),
        threshold=SUPPRESS_BELOW,
        reason_names=REASON_NAMES,
        public=True,
    )


async def report_csv(request: web.Request) -> web.StreamResponse:
    """Download one of the report's tables as CSV (suppressed values left empty).

    `?table=` picks it: months (per department and month, the default), overall (all
    departments per month), departments, languages or authorities (the period's totals;
    authorities: published enquiries referred to each) or language_months.
    """
    table = request.query.get("table", TABLES[0])
    table = table if table in TABLES else TABLES[0]
    return web.Response(
        text=write_csv(csv_rows(await _report(request), table)),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_csv_name(table)}"'},
    )


def _csv_name(table: str) -> str:
    return "lotsen-rapport.csv" if table == TABLES[0] else f"lotsen-rapport-{table}.csv"


async def report_json(request: web.Request) -> web.StreamResponse:
    """Download the report's figures as JSON (suppressed values left out)."""
    return web.Response(
        text=json.dumps(await _report(request), ensure_ascii=False, indent=2),
        content_type="application/json",
        charset="utf-8",
    )
