"""No suppressed cell of the public report can be worked out from its pages and downloads.

The proof is indistinguishability: every page, JSON and CSV the report offers, for every
period choice, is fetched; then questions are added to hidden cells (a department-month with
fewer than five, a language-month with fewer than five inside a large department, the questions
no department has) without making one published or empty (a cell with no questions shows 0, a
hidden one says there were some, not how many); every byte fetched again must be the same.
Whatever an attacker combines (totals over `?months=1,2,3`, the CSV beside the page, one table
against another), two databases whose hidden cells differ give the same answers, so the hidden
values cannot be derived. A question added to a published cell changes the answers: the check
can fail.

Also the probe's own attack, spelled out: the period totals of `?months=1`, `2`, `3` differ only
by published cells; and the CSV's cells are quoted and neutralised.
"""

from __future__ import annotations

import csv
import io
import itertools
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.engine import Engine

from bot.channels.desk.stats import SUPPRESS_BELOW, TABLES
from bot.channels.desk.views_report import MAX_MONTHS
from db.enquiries.workflow import answer_enquiry, record_feedback
from db.people import departments
from db.plumbing.session import session_scope
from harness.desk import Clock, desk_client
from harness.workflow import escalated_enquiry, local, routed_enquiry

NOW = local(2026, 4, 15, 12)
FEBRUARY = local(2026, 2, 9, 9)
MARCH = local(2026, 3, 9, 9)
APRIL = local(2026, 4, 6, 9)
PERIODS = [1, 2, 3, 4, 6, 12, 24, MAX_MONTHS]  # the probe's, every one the data spans, the page's
VIEWS = ["sv", "ar"]  # the page in Swedish and right to left
_names = iter(range(10_000))


def _ask(engine: Engine, when, department: str | None = "kultur_fritid", language="sv", **kw):  # type: ignore[no-untyped-def]
    """Record one question (routed, or escalated when department is None), answered and rated
    when `answered` is given."""
    answered = kw.pop("answered", None)
    with session_scope(engine) as session:
        name = f"Förening {next(_names)}"
        if department is None:
            enquiry, _ = escalated_enquiry(
                session, now=when, association=name, detected_language=language
            )
            return
        enquiry = routed_enquiry(
            session,
            now=when,
            department_key=department,
            association=name,
            detected_language=language,
            **kw,
        )
        if answered is not None:
            hours, helpful = answered
            answer_enquiry(
                session=session,
                enquiry=enquiry,
                text="Svar",
                actor="staff:1",
                now=when + timedelta(hours=hours),
            )
            if helpful is not None:
                record_feedback(
                    session=session,
                    enquiry=enquiry,
                    helpful=helpful,
                    actor="association",
                    now=when + timedelta(hours=hours + 1),
                )


def _fabricate(engine: Engine) -> None:
    for i in range(6):  # published: kultur_fritid, February, Swedish
        _ask(engine, FEBRUARY, answered=(i + 1, i != 0))
    for _ in range(2):  # hidden: teknik, February (2)
        _ask(engine, FEBRUARY, "teknik")
    for i in range(5):  # published: kultur_fritid, March, Swedish ...
        _ask(engine, MARCH, answered=(2 * i + 1, True))
    for _ in range(2):  # ... hidden: two Polish questions in it (a language-month of 2)
        _ask(engine, MARCH, language="pl", answered=(3, False))
    for _ in range(6):  # published: teknik, March
        _ask(engine, MARCH, "teknik")
    _ask(engine, MARCH, None)  # hidden: one question no department has
    for _ in range(5):  # published: kultur_fritid, April
        _ask(engine, APRIL)
    for _ in range(3):  # hidden: teknik, April (3)
        _ask(engine, APRIL, "teknik")
    for _ in range(4):  # hidden: utbildning, April: five questions, one Arabic; leaving the
        _ask(engine, APRIL, "utbildning")  # Arabic one out leaves four
    _ask(engine, APRIL, "utbildning", language="ar")


async def _everything(client: TestClient) -> dict[str, bytes]:
    """Fetch every page and download the report offers, for every period and language."""
    found: dict[str, bytes] = {}
    for months in PERIODS:
        paths = [f"/rapport.json?months={months}"]
        paths += [f"/rapport.csv?table={table}&months={months}" for table in TABLES]
        paths += [f"/rapport?months={months}&lang={view}" for view in VIEWS]
        for path in paths:
            response = await client.get(path)
            assert response.status == 200, path
            found[path] = await response.read()
    return found


def _json_totals(report: dict, kind: str) -> dict[str, int | None]:  # type: ignore[type-arg]
    return {row[kind] or "": row.get("received") for row in report[f"{kind}s"]}


async def test_no_hidden_cell_changes_any_page_or_download(engine: Engine) -> None:
    _fabricate(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        before = await _everything(client)
        hidden_changes = [
            lambda: _ask(engine, FEBRUARY, "teknik"),  # teknik February: 2 -> 3
            lambda: _ask(engine, MARCH, language="pl"),  # Polish in March: 2 -> 3
            lambda: _ask(engine, MARCH, None),  # no department, March: 1 -> 2
            # utbildning, April: 5 -> 6 (a second Arabic one), still hidden: Arabic has two
            # questions that month, and without them four remain.
            lambda: _ask(engine, APRIL, "utbildning", language="ar", answered=(1, True)),
            lambda: _ask(engine, APRIL, "teknik", language="ar"),  # Arabic in April: 2 -> 3
        ]
        for change in hidden_changes:
            change()
        after = await _everything(client)
        differing = sorted(path for path in before if before[path] != after[path])
        assert differing == [], (differing, after[differing[0]] if differing else "")
        # The check can fail: one question more in a published cell shows.
        _ask(engine, APRIL)
        shown = await _everything(client)
    assert before["/rapport.json?months=1"] != shown["/rapport.json?months=1"]
    assert (
        before["/rapport.csv?table=overall&months=3"]
        != shown["/rapport.csv?table=overall&months=3"]
    )


async def test_the_probes_subtraction_gives_only_published_cells(engine: Engine) -> None:
    _fabricate(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        reports = {m: await (await client.get(f"/rapport.json?months={m}")).json() for m in PERIODS}
        downloads = {
            m: list(
                csv.reader(
                    io.StringIO(
                        await (
                            await client.get(f"/rapport.csv?table=departments&months={m}")
                        ).text()
                    )
                )
            )
            for m in (1, 2, 3)
        }
    cells = {
        (row["department"] or "", row["month"]): row.get("received")
        for row in reports[MAX_MONTHS]["rows"]
    }
    months = [row["month"] for row in reports[3]["months"]]  # February, March, April
    assert months == ["2026-02", "2026-03", "2026-04"]
    for kind in ("department", "language"):
        for shorter, longer in itertools.pairwise(PERIODS):
            small, large = _json_totals(reports[shorter], kind), _json_totals(reports[longer], kind)
            assert set(small) <= set(large)
            for key in small:
                difference = (large[key] or 0) - (small[key] or 0)
                assert difference == 0 or difference >= SUPPRESS_BELOW, (kind, key, shorter)
    teknik = [_json_totals(reports[m], "department")["teknik"] for m in (1, 2, 3)]
    assert teknik == [None, 6, 6]  # April hidden, March 6, February hidden: nothing to subtract
    assert cells[("teknik", "2026-04")] is None and cells[("teknik", "2026-02")] is None
    assert cells[("teknik", "2026-03")] == 6
    # The department totals add up the published cells, in the JSON and in the CSV alike.
    for m in (1, 2, 3):
        published = sum(
            row.get("received") or 0
            for row in reports[m]["rows"]
            if row["department"] == "kultur_fritid"
        )
        table = {row[0]: row for row in downloads[m][1:]}
        assert table["kultur_fritid"][3] == str(published)
        assert _json_totals(reports[m], "department")["kultur_fritid"] == published
    # Every month's total is the sum of its published department cells and of its published
    # language cells: the two tables never differ by a hidden number.
    for month in reports[MAX_MONTHS]["months"]:
        by_department = sum(
            row.get("received") or 0
            for row in reports[MAX_MONTHS]["rows"]
            if row["month"] == month["month"]
        )
        by_language = sum(
            row["months"].get(month["month"]) or 0 for row in reports[MAX_MONTHS]["language_months"]
        )
        assert month["received"] == by_department == by_language
    april = next(m for m in reports[3]["months"] if m["month"] == "2026-04")
    assert april["received"] == 5  # kultur_fritid only: teknik and utbildning hidden


async def test_the_new_figures_are_exact(engine: Engine) -> None:
    _fabricate(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        report = await (await client.get("/rapport.json?months=3")).json()
    rows = {(row["department"], row["month"]): row for row in report["rows"]}
    february = rows[("kultur_fritid", "2026-02")]
    # Six answered after 1..6 hours, five rated helpful, one not (it went to the coordinator).
    assert february["median_hours_to_first_answer"] == 3.5
    assert february["feedback_given"] == 6 and february["satisfied_share"] == round(5 / 6, 4)
    assert february["routed_without_coordinator_share"] == 1.0
    assert "escalation_reasons" not in february  # per month over all departments only
    march = rows[("kultur_fritid", "2026-03")]  # the Polish questions are not counted
    assert march["received"] == 5 and march["satisfied_share"] == 1.0
    assert march["median_hours_to_first_answer"] == 5.0
    assert rows[("teknik", "2026-03")]["median_hours_to_first_answer"] is None  # none answered
    assert rows[("teknik", "2026-03")]["escalated_past_deadline_share"] == 0.0
    overall = {row["month"]: row for row in report["months"]}
    assert overall["2026-02"]["escalations"] == 1
    assert overall["2026-02"]["escalation_reasons"] == {"other": 1}  # not_helped: one, pooled
    assert overall["2026-03"]["received"] == 11
    assert overall["2026-03"]["satisfied_share"] == 1.0
    languages = {row["language"]: row["months"] for row in report["language_months"]}
    assert languages["sv"] == {"2026-02": 6, "2026-03": 11, "2026-04": 5}
    assert languages["pl"] == {"2026-02": 0, "2026-03": None, "2026-04": 0}
    assert languages["ar"] == {"2026-02": 0, "2026-03": 0, "2026-04": None}


async def test_out_of_scope_questions_are_counted_as_caught(engine: Engine) -> None:
    with session_scope(engine) as session:
        for i in range(5):
            escalated_enquiry(session, now=MARCH, association=f"U{i}", reason="out_of_scope")
    async with desk_client(engine, Clock(NOW)) as client:
        report = await (await client.get("/rapport.json?months=2")).json()
    (row,) = [row for row in report["rows"] if row["month"] == "2026-03"]
    assert row["department"] is None and row["received"] == 5
    assert row["out_of_scope_or_referred_share"] == 1.0
    assert row["routed_without_coordinator_share"] == 0.0


@pytest.mark.parametrize("table", TABLES)
async def test_a_name_with_a_carriage_return_and_a_formula_stays_in_its_cell(
    engine: Engine, table: str
) -> None:
    evil = "\r=cmd|' /C calc'!A0"
    with session_scope(engine) as session:
        department = departments.department_by_key(session=session, key="teknik")
        assert department is not None
        department.name = evil
        session.add(department)
    for _ in range(SUPPRESS_BELOW):
        _ask(engine, APRIL, "teknik")
    async with desk_client(engine, Clock(NOW)) as client:
        response = await client.get(f"/rapport.csv?table={table}")
        raw = await response.read()
    text = raw.decode()
    lines = text.split("\r\n")
    assert lines[-1] == "" and all(line.startswith('"') for line in lines if line)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len({len(row) for row in rows}) == 1  # no row was split
    cells = [cell for row in rows for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    if table in ("months", "departments"):
        names = [row[2] if table == "months" else row[1] for row in rows[1:]]
        assert "'" + evil in names
