"""The desk's languages: Swedish with English beside it by default, or one language alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from markupsafe import Markup
from sqlalchemy.engine import Engine

from bot.channels.desk.app import build_desk_app
from bot.channels.desk.pages import BILINGUAL, LANGUAGE_COOKIE, View, environment, view_named
from bot.settings import Settings
from db.phrases import Phrase
from db.validation import EMAIL_PROBLEM
from tests.desk_helpers import STAFF_ID, Clock, add_staff, csrf_of, login_path
from tests.workflow_helpers import local

NOW = local(2026, 3, 16, 9)
NO_DATA_SV = "Inga frågor under perioden."
NO_DATA_EN = "No questions in this period."


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


async def _sign_in(client: TestClient, engine: Engine) -> None:
    path = login_path(engine, STAFF_ID, NOW)
    page = await client.get(path)
    token = path.split("token=")[1]
    response = await client.post(
        "/desk/login",
        data={"csrf": csrf_of(await page.text()), "token": token},
        allow_redirects=False,
    )
    assert response.status == 303


async def test_a_page_shows_swedish_with_english_beside_it_by_default(client: TestClient) -> None:
    response = await client.get("/rapport", headers={"Accept-Language": "en-US,en;q=0.9"})
    html = await response.text()
    assert response.status == 200 and '<html lang="sv">' in html
    assert f'{NO_DATA_SV} <span lang="en">{NO_DATA_EN}</span>' in html
    assert 'Rapport <span lang="en" class="en">/ Report</span>' in html
    assert LANGUAGE_COOKIE not in response.cookies
    # One link per other view, keeping the page's own query.
    assert 'href="?months=6&amp;lang=en" lang="en" hreflang="en">English</a>' in (
        await (await client.get("/rapport?months=6")).text()
    )


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
    assert f'<span lang="en">{NO_DATA_EN}</span>' in html
    assert LANGUAGE_COOKIE not in response.cookies


async def test_a_refusal_is_shown_in_the_pages_languages(
    client: TestClient, engine: Engine
) -> None:
    await _sign_in(client, engine)
    swedish = "Det ser inte ut som en e-postadress: inte-en-adress"
    english = "That does not look like an e-mail address: inte-en-adress"
    views = [("", (swedish, english), ()), ("?lang=en", (english,), (swedish,))]
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
