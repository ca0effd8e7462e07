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
from db.plumbing.phrases import N_, Phrase

REASON_NAMES = {
    # Translators: why questions went to the coordinator, in the public report's "Reasons" column.
    "unsure": Phrase(N_("osäker tolkning")),
    "out_of_scope": Phrase(N_("utanför kommunens uppdrag")),
    "human": Phrase(N_("ville tala med en människa")),
    "not_ours": Phrase(N_("fel förvaltning")),
    "not_helped": Phrase(N_("svaret hjälpte inte")),
    "sla": Phrase(N_("inte besvarad i tid")),
    "unavailable": Phrase(N_("tjänsten otillgänglig")),
    "failed": Phrase(N_("kunde inte hanteras")),
    "unreachable": Phrase(N_("förvaltningen kunde inte nås")),
}
# Translators: the title of a chart (read out by screen readers); {department} is its name.
RECEIVED_TITLE = N_("Inkomna frågor per månad: {department}")
# Translators: the title of a chart (read out by screen readers); {department} is its name.
SLA_TITLE = N_("Andel besvarade inom tidsgränsen per månad: {department}")
DEFAULT_MONTHS = 12
MAX_MONTHS = 36
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: str) -> str:
    """Keep a spreadsheet from reading a cell as a formula (OWASP: prefix a single quote)."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


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


def _charts(report: dict[str, Any], texts: PageTexts) -> list[DepartmentCharts]:
    rows = report["rows"]
    months = sorted({r["month"] for r in rows})
    peak = max((r["received"] for r in rows if not r["suppressed"]), default=0)
    found: list[DepartmentCharts] = []
    keys: list[str] = []
    for row in rows:
        key = row["department"] or "-"
        if key not in keys:
            keys.append(key)
    for index, key in enumerate(sorted(keys)):
        mine = {r["month"]: r for r in rows if (r["department"] or "-") == key}
        if all(r["suppressed"] for r in mine.values()):
            continue
        first = next(iter(mine.values()))
        received, sla = [], []
        for month in months:
            row = mine.get(month)
            label = month[2:]
            if row is None:
                received.append(Bar(label, 0, "0"))
                sla.append(Bar(label, None, "–"))
            elif row["suppressed"]:
                received.append(Bar(label, None, f"<{SUPPRESS_BELOW}"))
                sla.append(Bar(label, None, f"<{SUPPRESS_BELOW}"))
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
                received=bar_chart(
                    title=texts.plain(Phrase(RECEIVED_TITLE, department)),
                    bars=received,
                    maximum=peak,
                    chart_id=f"chart-received-{index}",
                ),
                sla=bar_chart(
                    title=texts.plain(Phrase(SLA_TITLE, department)),
                    bars=sla,
                    maximum=100,
                    chart_id=f"chart-sla-{index}",
                ),
            )
        )
    return found


async def report_page(request: web.Request) -> web.StreamResponse:
    """Show the public report (no sign-in needed)."""
    report = await _report(request)
    return render(
        request,
        "report.html",
        report=report,
        charts=_charts(report, texts_of(request)),
        months=_months(request),
        threshold=SUPPRESS_BELOW,
        reason_names=REASON_NAMES,
        public=True,
    )


async def report_csv(request: web.Request) -> web.StreamResponse:
    """Download one of the report's tables as CSV (suppressed values left empty).

    `?table=` picks it: months (per department and month, the default), departments,
    languages or authorities (the period's totals; authorities: enquiries referred to each).
    """
    table = request.query.get("table", TABLES[0])
    table = table if table in TABLES else TABLES[0]
    buffer = io.StringIO()
    rows = csv_rows(await _report(request), table)
    csv.writer(buffer, lineterminator="\n").writerows(
        [[neutralise_cell(cell) for cell in row] for row in rows]
    )
    return web.Response(
        text=buffer.getvalue(),
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
