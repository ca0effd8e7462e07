"""The desk's languages: one language per page, Swedish unless `?lang=` (remembered) or the
browser's Accept-Language asks for a reply language (right to left for Arabic and Persian), two
side by side only when asked for; and the desk and the public report in ten languages:
language facts, the log's language filter, and totals per department and language with small
counts suppressed."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer
from markupsafe import Markup
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.channels.desk.app import build_desk_app
from bot.channels.desk.pages import BILINGUAL, LANGUAGE_COOKIE, View, environment, view_named
from bot.channels.desk.stats import SUPPRESS_BELOW, csv_rows, public_report
from bot.i18n import LANGUAGES
from bot.settings import Settings
from db.models import Department
from db.plumbing.phrases import Phrase
from db.plumbing.session import session_scope
from db.plumbing.validation import EMAIL_PROBLEM
from harness.desk import COORDINATOR_ID, STAFF_ID, Clock, add_staff, csrf_of, login_path
from harness.workflow import escalated_enquiry, local, routed_enquiry

NOW = local(2026, 3, 16, 9)
NO_DATA_SV = "Inga frågor under perioden."
NO_DATA_EN = "No questions in this period."
APRIL_NOW = local(2026, 4, 15, 12)
APRIL = local(2026, 4, 6, 9)
ARABIC = "كيف تتقدم جمعيتنا بطلب للحصول على دعم الأنشطة للشباب من البلدية؟"
POLISH = "Jak nasze stowarzyszenie może złożyć wniosek o dotację na zajęcia?"


@pytest.fixture
async def client(engine: Engine) -> AsyncIterator[TestClient]:
    """Yield a test client on the desk with a frozen clock, with staff in the database."""
    add_staff(engine)
    settings = Settings(database_url="sqlite://", _env_file=None)  # type: ignore[call-arg]
    client = TestClient(TestServer(build_desk_app(settings, engine, clock=Clock(NOW))))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def desk(engine: Engine) -> AsyncIterator[TestClient]:
    """Yield a test client on the desk with its clock in April, with staff in the database."""
    add_staff(engine)
    settings = Settings(database_url="sqlite://", _env_file=None)  # type: ignore[call-arg]
    client = TestClient(TestServer(build_desk_app(settings, engine, clock=Clock(APRIL_NOW))))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def _sign_in(
    client: TestClient, engine: Engine, user_id: int = STAFF_ID, now: datetime = NOW
) -> None:
    path = login_path(engine, user_id, now)
    page = await client.get(path)
    token = path.split("token=")[1]
    response = await client.post(
        "/desk/login",
        data={"csrf": csrf_of(await page.text()), "token": token},
        allow_redirects=False,
    )
    assert response.status == 303


async def test_a_page_is_in_swedish_alone_by_default(client: TestClient) -> None:
    response = await client.get("/rapport")
    html = await response.text()
    assert response.status == 200 and '<html lang="sv">' in html
    assert NO_DATA_SV in html and NO_DATA_EN not in html and "<span lang=" not in html
    assert ">Rapport</a>" in html and "Report" not in html
    assert LANGUAGE_COOKIE not in response.cookies
    assert "Accept-Language" in response.headers["Vary"]
    # One link per other language, keeping the page's own query.
    assert 'href="?months=6&amp;lang=en" lang="en" hreflang="en">English</a>' in (
        await (await client.get("/rapport?months=6")).text()
    )


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("en-US,en;q=0.9", "en"),
        ("de-DE,de;q=0.9,ar;q=0.8,en;q=0.5", "ar"),
        ("fa;q=0.3, uk;q=0.7", "uk"),
        ("sv-SE", "sv"),
        ("de, fr;q=0.9", "sv"),  # no reply language: Swedish
        ("en;q=0, so", "so"),  # q=0 means "not this one"
        ("en;q=nonsense", "sv"),
    ],
)
async def test_accept_language_picks_the_first_reply_language_it_asks_for(
    client: TestClient, header: str, language: str
) -> None:
    response = await client.get("/rapport", headers={"Accept-Language": header})
    html = await response.text()
    assert response.status == 200 and f'<html lang="{language}"' in html
    assert "<span lang=" not in html and LANGUAGE_COOKIE not in response.cookies


async def test_a_chosen_language_wins_over_accept_language(client: TestClient) -> None:
    english = {"Accept-Language": "en"}
    chosen = await client.get("/rapport?lang=fi", headers=english)
    assert '<html lang="fi">' in await chosen.text()
    again = await (await client.get("/rapport", headers=english)).text()
    assert '<html lang="fi">' in again  # the cookie remembers the choice


async def test_lang_en_shows_english_alone_and_is_remembered(client: TestClient) -> None:
    response = await client.get("/rapport?lang=en")
    html = await response.text()
    assert '<html lang="en">' in html and NO_DATA_EN in html
    assert NO_DATA_SV not in html and "<span lang=" not in html
    assert "<title>Report: how the municipality answers associations – Lotsen</title>" in html
    assert response.cookies[LANGUAGE_COOKIE].value == "en"
    assert response.cookies[LANGUAGE_COOKIE]["httponly"]
    again = await (await client.get("/rapport")).text()
    assert '<html lang="en">' in again and NO_DATA_SV not in again
    both = await (await client.get("/rapport?lang=sv,en")).text()
    assert '<html lang="sv">' in both and f'<span lang="en">{NO_DATA_EN}</span>' in both


async def test_lang_sv_shows_swedish_alone(client: TestClient) -> None:
    html = await (await client.get("/rapport?lang=sv")).text()
    assert '<html lang="sv">' in html and NO_DATA_SV in html
    assert NO_DATA_EN not in html and "<span lang=" not in html


async def test_english_first_puts_swedish_beside_it(client: TestClient) -> None:
    for path in ("/rapport?lang=en,sv", "/rapport"):  # the second remembers the first
        html = await (await client.get(path)).text()
        assert '<html lang="en">' in html
        assert f'{NO_DATA_EN} <span lang="sv">{NO_DATA_SV}</span>' in html


@pytest.mark.parametrize("value", ["de", "sv,sv", "sv,en,sv", "", "en;q=1"])
async def test_a_lang_the_desk_does_not_have_changes_nothing(
    client: TestClient, value: str
) -> None:
    response = await client.get("/rapport", params={"lang": value})
    html = await response.text()
    assert response.status == 200 and '<html lang="sv">' in html
    assert NO_DATA_SV in html and NO_DATA_EN not in html
    assert LANGUAGE_COOKIE not in response.cookies


async def test_a_refusal_is_shown_in_the_pages_languages(
    client: TestClient, engine: Engine
) -> None:
    await _sign_in(client, engine)
    swedish = "Det ser inte ut som en e-postadress: inte-en-adress"
    english = "That does not look like an e-mail address: inte-en-adress"
    views = [
        ("", (swedish,), (english,)),
        ("?lang=en", (english,), (swedish,)),
        ("?lang=sv,en", (swedish, english), ()),
    ]
    for query, shown, hidden in views:
        page = await client.get(f"/desk/department/kultur_fritid{query}")
        form = {"csrf": csrf_of(await page.text()), "role": "Funktion", "email": "inte-en-adress"}
        response = await client.post("/desk/department/kultur_fritid/contact/contact", data=form)
        html = await response.text()
        assert response.status == 400
        assert all(text in html for text in shown) and not any(text in html for text in hidden)


async def test_the_404_is_one_page_in_every_view(client: TestClient, engine: Engine) -> None:
    await _sign_in(client, engine)
    other = await client.get("/desk/department/teknik?lang=en")
    missing = await client.get("/desk/department/finns_inte?lang=en")
    assert other.status == missing.status == 404
    text = await other.text()
    assert text == await missing.text() and "<h1>Not found</h1>" in text


def test_views_are_named_by_shipped_languages() -> None:
    assert view_named("sv,en") == BILINGUAL == View("sv", "en")
    assert view_named(" EN ") == View("en")
    assert view_named("en,sv") == View("en", "sv")
    assert [view_named(v) for v in ("de", "sv,sv", "sv,en,en", "", ",")] == [None] * 5


def test_counts_choose_their_form_in_each_language() -> None:
    source = (
        "{% trans count=n %}{{ count }} öppet ärende.{% pluralize %}"
        "{{ count }} öppna ärenden.{% endtrans %}"
    )
    shown = {
        (view.code, n): environment(view).from_string(source).render(n=n)
        for view in (BILINGUAL, View("en"))
        for n in (1, 3)
    }
    assert shown == {
        ("sv,en", 1): '1 öppet ärende. <span lang="en">1 open case.</span>',
        ("sv,en", 3): '3 öppna ärenden. <span lang="en">3 open cases.</span>',
        ("en", 1): "1 open case.",
        ("en", 3): "3 open cases.",
    }


def test_the_helpers_escape_values_and_show_equal_texts_once() -> None:
    env = environment(BILINGUAL)
    page = env.from_string(
        "{{ bi('Hej %(name)s', name=who) }}|<a title=\"{{ plain('Alla') }}\">|"
        "{{ sentence(refusal) }}|{{ bi('Status') }}|{{ named('Kultur', none) }}"
    ).render(who="<b>", refusal=Phrase(EMAIL_PROBLEM, {"value": "<x>"}))
    assert page.split("|") == [
        'Hej &lt;b&gt; <span lang="en" class="en">/ Hello &lt;b&gt;</span>',
        '<a title="Alla / All">',
        "Det ser inte ut som en e-postadress: &lt;x&gt;. Skriv till exempel namn@kommun.se. "
        '<span lang="en">That does not look like an e-mail address: &lt;x&gt;. '
        "Example: name@kommun.se.</span>",
        "Status",
        "Kultur",
    ]
    assert isinstance(env.globals["bi"]("Kö"), Markup)


def test_one_swedish_label_in_two_senses_is_translated_by_its_context() -> None:
    """ "Svarar på" is both the language an enquiry is answered in and an authority's remit."""
    source = '{{ pbi("reply language", "Svarar på") }}|{{ pbi("authority remit", "Svarar på") }}'
    shown = {
        view.code: environment(view).from_string(source).render()
        for view in (View("sv"), View("en"), View("pl"))
    }
    assert shown == {
        "sv": "Svarar på|Svarar på",
        "en": "Answered in|Handles",
        "pl": "Odpowiedź w języku|Zajmuje się",
    }
    bilingual = environment(BILINGUAL).from_string(source).render().split("|")
    assert bilingual == [
        'Svarar på <span lang="en" class="en">/ Answered in</span>',
        'Svarar på <span lang="en" class="en">/ Handles</span>',
    ]


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
    await _sign_in(desk, engine, COORDINATOR_ID, APRIL_NOW)
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
    await _sign_in(desk, engine, STAFF_ID, APRIL_NOW)
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
        report = public_report(session=session, now=APRIL_NOW)
        keys = {d.key for d in session.exec(select(Department)).all()}
    departments = {row["department"]: row for row in report["departments"]}
    assert set(departments) == keys | {None}
    assert departments["kultur_fritid"] == {
        "department": "kultur_fritid",
        "department_name": "Kultur- och fritidsförvaltningen",
        "department_name_en": departments["kultur_fritid"]["department_name_en"],
        "suppressed": False,
        "hidden_months": 0,
        "received": 6,
    }
    assert departments["teknik"]["suppressed"] is True and "received" not in departments["teknik"]
    assert departments["teknik"]["hidden_months"] == 1
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
        "hidden_months": 0,
        "received": 0,
    }
    assert languages["und"]["suppressed"] is True
    table = {row[0]: row for row in csv_rows(report, "languages")[1:]}
    assert csv_rows(report, "languages")[0] == [
        "language",
        "language_name",
        "suppressed",
        "received",
        "hidden_months",
    ]
    assert table["ar"] == ["ar", "arabiska", "no", "6", "0"]
    assert table["pl"] == ["pl", "polska", "yes", "", "1"]
    assert table["so"] == ["so", "somaliska", "no", "0", "0"]
    by_department = {row[0]: row for row in csv_rows(report, "departments")[1:]}
    assert by_department["teknik"][2:] == ["yes", "", "1"]
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
    assert '<td>6</td><th scope="row">arabiska</th>' in languages
    assert '<td>dold</td><th scope="row">polska</th>' in languages
    assert '<td>0</td><th scope="row">somaliska</th>' in languages
    data = await (await desk.get("/rapport.json")).json()
    assert {row["language"] for row in data["languages"]} >= {"ar", "pl", *LANGUAGES}
    download = await desk.get("/rapport.csv?table=languages")
    assert 'filename="lotsen-rapport-languages.csv"' in download.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(await download.text())))
    assert rows[0] == ["language", "language_name", "suppressed", "received", "hidden_months"]
    assert ["ar", "arabiska", "no", "6", "0"] in rows
    months = await (await desk.get("/rapport.csv?table=nonsense")).text()
    assert months.splitlines()[0].startswith('"month","department",')


async def test_arabic_and_persian_pages_are_right_to_left(client: TestClient) -> None:
    arabic = await (await client.get("/rapport?lang=ar")).text()
    assert '<html lang="ar" dir="rtl">' in arabic
    assert "لا توجد أسئلة في هذه الفترة." in arabic and NO_DATA_SV not in arabic
    assert "<span lang=" not in arabic
    # Language names follow the page: Arabic names in the Arabic report.
    assert '<td>0</td><th scope="row">العربية</th>' in arabic
    beside = await (await client.get("/rapport?lang=fa,sv")).text()
    assert '<html lang="fa" dir="rtl">' in beside
    assert f'<span lang="sv" dir="ltr">{NO_DATA_SV}</span>' in beside
    assert '<span lang="sv" dir="ltr" class="en">/ Rapport</span>' in beside


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_desk_and_the_report_render_in_every_language(
    desk: TestClient, engine: Engine, language: str
) -> None:
    _fabricate(engine)
    await _sign_in(desk, engine, COORDINATOR_ID, APRIL_NOW)
    for path in ("/desk/queue", "/desk/enquiries?go=1", "/desk/department/teknik", "/rapport"):
        response = await desk.get(f"{path}{'&' if '?' in path else '?'}lang={language}")
        page = await response.text()
        assert response.status == 200, (path, page[:300])
        assert f'<html lang="{language}"' in page, path
        assert "%(" not in page and "{count" not in page, path
    if language != "sv":
        assert NO_DATA_SV not in page and "Så räknar vi" not in page


async def test_a_left_to_right_page_isolates_only_right_to_left_texts_beside_it(
    client: TestClient,
) -> None:
    swedish = await (await client.get("/rapport?lang=sv,ar")).text()
    assert '<html lang="sv">' in swedish
    assert '<span lang="ar" dir="rtl">لا توجد أسئلة في هذه الفترة.</span>' in swedish
    default = await (await client.get("/rapport?lang=sv,en")).text()
    assert "dir=" not in default.split("<body>")[0] and ' dir="ltr"' not in default
    # Every view is offered in the footer, each in its own name and language.
    for code, name in (("ar", "العربية"), ("fa", "فارسی"), ("uk", "Українська")):
        assert f'lang="{code}" hreflang="{code}">{name}</a>' in default


def test_every_reply_language_is_a_desk_view() -> None:
    assert [view_named(code) for code in LANGUAGES] == [View(code) for code in LANGUAGES]
    assert view_named("ar,sv") == View("ar", "sv")


async def test_referred_enquiries_show_on_the_enquiry_page_and_in_the_report(
    desk: TestClient, engine: Engine
) -> None:
    from db.enquiries import lifecycle
    from db.routing.referral import refer

    with session_scope(engine) as session:
        references = []
        for number in range(SUPPRESS_BELOW):
            enquiry, _ = lifecycle.received(
                session=session, text=f"Moms {number}?", language="sv", user=None, now=APRIL
            )
            refer(
                session=session, enquiry=enquiry, authority_key="skatteverket", actor="t", now=APRIL
            )
            references.append(enquiry.reference)
    await _sign_in(desk, engine, COORDINATOR_ID, APRIL_NOW)
    page = await (await desk.get(f"/desk/enquiries/{references[0]}")).text()
    assert "<dd>referred</dd>" in page
    assert re.search(r"Hänvisad till.*</dt><dd>skatteverket</dd>", page)
    report = await (await desk.get("/rapport")).text()
    table = report[report.index('id="report-authorities"') :].split("</table>")[0]
    assert re.search(rf"<td>{SUPPRESS_BELOW}</td><th[^>]*>Skatteverket", table)
    assert "Region Storåsa – 1177" in table and "<td>0</td>" in table
    download = await (await desk.get("/rapport.csv?table=authorities")).text()
    assert f'"skatteverket","Skatteverket","no","{SUPPRESS_BELOW}"' in download
