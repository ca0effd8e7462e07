"""The desk and the public report in seven languages: language facts, the log's language
filter, and totals per department and language with small counts suppressed."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.channels.desk.app import build_desk_app
from bot.channels.desk.stats import SUPPRESS_BELOW, csv_rows, public_report
from bot.i18n import LANGUAGES
from bot.settings import Settings
from db.models import Department
from db.session import session_scope
from tests.desk_helpers import COORDINATOR_ID, STAFF_ID, Clock, add_staff, csrf_of, login_path
from tests.workflow_helpers import escalated_enquiry, local, routed_enquiry

NOW = local(2026, 4, 15, 12)
APRIL = local(2026, 4, 6, 9)
ARABIC = "كيف تتقدم جمعيتنا بطلب للحصول على دعم الأنشطة للشباب من البلدية؟"
POLISH = "Jak nasze stowarzyszenie może złożyć wniosek o dotację na zajęcia?"


@pytest.fixture
async def desk(engine: Engine) -> AsyncIterator[TestClient]:
    """Yield a test client on the desk with a frozen clock, with staff in the database."""
    add_staff(engine)
    settings = Settings(database_url="sqlite://", _env_file=None)  # type: ignore[call-arg]
    client = TestClient(TestServer(build_desk_app(settings, engine, clock=Clock(NOW))))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def _login(client: TestClient, engine: Engine, user_id: int) -> None:
    path = login_path(engine, user_id, NOW)
    page = await client.get(path)
    response = await client.post(
        "/desk/login",
        data={"csrf": csrf_of(await page.text()), "token": path.split("token=")[1]},
        allow_redirects=False,
    )
    assert response.status == 303


def _fact(html: str, name: str) -> str:
    found = re.search(rf'<dd class="{name}">([^<]*)</dd>', html)
    assert found is not None, name
    return found.group(1)


async def test_case_and_enquiry_pages_show_the_languages(desk: TestClient, engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry, escalation_id = escalated_enquiry(
            session, now=APRIL, text=ARABIC, language="ar", detected_language="ar"
        )
        reference = enquiry.reference
    await _login(desk, engine, COORDINATOR_ID)
    for path in (f"/desk/queue/{escalation_id}", f"/desk/enquiries/{reference}"):
        html = await (await desk.get(path)).text()
        assert _fact(html, "written-language") == "arabiska"
        assert _fact(html, "association-language") == "arabiska"
        assert _fact(html, "reply-language") == "arabiska"
        assert f'lang="ar" dir="auto">{ARABIC}</blockquote>' in html


async def test_enquiry_log_filters_by_language(desk: TestClient, engine: Engine) -> None:
    with session_scope(engine) as session:
        arabic = routed_enquiry(session, now=APRIL, text=ARABIC, detected_language="ar")
        polish = routed_enquiry(
            session, now=APRIL, text=POLISH, language="en", detected_language="pl"
        )
        short = routed_enquiry(session, now=APRIL, text="bidrag")
        refs = {"ar": arabic.reference, "pl": polish.reference, "und": short.reference}
    await _login(desk, engine, STAFF_ID)
    page = await (await desk.get("/desk/enquiries")).text()
    options = re.findall(r'<option value="([a-z]+)">([^<]+)</option>', page)
    codes = [code for code, _ in options]
    assert set(LANGUAGES) | {"pl", "und"} <= set(codes)
    assert ("pl", "polska") in options and ("und", "går inte att avgöra") in options
    for code, reference in refs.items():
        found = await (await desk.get(f"/desk/enquiries?language={code}")).text()
        assert reference in found
        assert all(other not in found for key, other in refs.items() if key != code)
    everything = await (await desk.get("/desk/enquiries?go=1")).text()
    assert all(reference in everything for reference in refs.values())
    assert "<td>polska</td>" in everything and "<td>arabiska</td>" in everything


def _fabricate(engine: Engine) -> None:
    with session_scope(engine) as session:
        for i in range(6):
            routed_enquiry(
                session, now=APRIL, association=f"A{i}", text=ARABIC, detected_language="ar"
            )
        for i in range(2):
            routed_enquiry(
                session,
                now=APRIL,
                department_key="teknik",
                association=f"P{i}",
                text=POLISH,
                language="en",
                detected_language="pl",
            )
        escalated_enquiry(session, now=APRIL, association="Kort", text="hej")


def test_report_counts_every_department_and_language_with_suppression(engine: Engine) -> None:
    _fabricate(engine)
    with session_scope(engine) as session:
        report = public_report(session=session, now=NOW)
        keys = {d.key for d in session.exec(select(Department)).all()}
    departments = {row["department"]: row for row in report["departments"]}
    assert set(departments) == keys | {None}
    assert departments["kultur_fritid"] == {
        "department": "kultur_fritid",
        "department_name": "Kultur- och fritidsförvaltningen",
        "department_name_en": departments["kultur_fritid"]["department_name_en"],
        "suppressed": False,
        "received": 6,
    }
    assert departments["teknik"]["suppressed"] is True and "received" not in departments["teknik"]
    silent = [row for key, row in departments.items() if key not in ("kultur_fritid", "teknik")]
    assert silent and all(row["received"] == 0 for row in silent if row["department"])
    assert departments[None]["suppressed"] is True  # one unrouted enquiry
    languages = {row["language"]: row for row in report["languages"]}
    assert [row["language"] for row in report["languages"]][: len(LANGUAGES)] == list(LANGUAGES)
    assert languages["ar"]["received"] == 6 and languages["ar"]["language_name"] == "arabiska"
    assert languages["pl"]["suppressed"] is True and "received" not in languages["pl"]
    assert languages["sv"] == {
        "language": "sv",
        "language_name": "svenska",
        "language_name_en": "Swedish",
        "suppressed": False,
        "received": 0,
    }
    assert languages["und"]["suppressed"] is True
    table = {row[0]: row for row in csv_rows(report, "languages")[1:]}
    assert csv_rows(report, "languages")[0] == [
        "language",
        "language_name",
        "suppressed",
        "received",
    ]
    assert table["ar"] == ["ar", "arabiska", "no", "6"]
    assert table["pl"] == ["pl", "polska", "yes", ""]
    assert table["so"] == ["so", "somaliska", "no", "0"]
    by_department = {row[0]: row for row in csv_rows(report, "departments")[1:]}
    assert by_department["teknik"][2:] == ["yes", ""]
    assert SUPPRESS_BELOW == 5


async def test_public_report_page_and_downloads_show_the_totals(
    desk: TestClient, engine: Engine
) -> None:
    empty = await (await desk.get("/rapport")).text()
    assert 'id="report-departments"' in empty and "Inga frågor under perioden" in empty
    assert re.search(r"<td>0</td><th scope=\"row\">Tekniska förvaltningen", empty)
    _fabricate(engine)
    page = await (await desk.get("/rapport")).text()
    languages = page[page.index('id="report-languages"') :]
    assert '<td>6</td><th scope="row">arabiska <span' in languages
    assert '<td>&lt;5</td><th scope="row">polska <span' in languages
    assert '<td>0</td><th scope="row">somaliska <span' in languages
    data = await (await desk.get("/rapport.json")).json()
    assert {row["language"] for row in data["languages"]} >= {"ar", "pl", *LANGUAGES}
    download = await desk.get("/rapport.csv?table=languages")
    assert 'filename="lotsen-rapport-languages.csv"' in download.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(await download.text())))
    assert rows[0] == ["language", "language_name", "suppressed", "received"]
    assert ["ar", "arabiska", "no", "6"] in rows
    months = await (await desk.get("/rapport.csv?table=nonsense")).text()
    assert months.splitlines()[0].startswith("month,department,")
