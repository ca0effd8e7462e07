"""The desk as an attacker probes it: cookies, headers, CSV formulas, bad input, references."""

from __future__ import annotations

import csv
import io

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.engine import Engine

from bot.channels.desk import views_report
from bot.channels.desk.auth import add_account
from bot.channels.desk.views_report import neutralise_cell
from db import crud
from db.session import session_scope
from tests.desk_helpers import (
    COORDINATOR_ID,
    STAFF_ID,
    Clock,
    add_staff,
    csrf_of,
    desk_client,
    desk_settings,
    login_path,
    password_attempt,
)
from tests.workflow_helpers import local, routed_enquiry

NOW = local(2026, 3, 16, 9)
NAME, PASSWORD = "samordnare", "ett långt lösenord"
SECURITY_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy")


def _add_coordinator_account(engine: Engine, *, disabled: bool = False) -> None:
    with session_scope(engine) as session:
        account = add_account(session=session, username=NAME, password=PASSWORD, role="coordinator")
        if disabled:
            account.disabled_at = NOW
            session.add(account)


async def _link_sign_in(client: TestClient, engine: Engine, user_id: int) -> None:
    path = login_path(engine, user_id, NOW)
    page = await client.get(path)
    response = await client.post(
        "/desk/login",
        data={"csrf": csrf_of(await page.text()), "token": path.split("token=")[1]},
        allow_redirects=False,
    )
    assert response.status == 303


# --- Secure cookies and HSTS behind HTTPS ---------------------------------------------------


@pytest.mark.parametrize("https", [True, False])
async def test_https_base_url_gives_secure_cookies_and_hsts(engine: Engine, https: bool) -> None:
    _add_coordinator_account(engine)
    settings = desk_settings("https://desk.storasa.se" if https else "http://desk.test")
    async with desk_client(engine, Clock(NOW), settings=settings) as client:
        page = await client.get("/desk/login")
        signed_in = await password_attempt(client, NAME, PASSWORD)
        missing = await client.get("/desk/enquiries/LOT-1", allow_redirects=False)
        bad = await client.post(
            "/desk/login",
            data=b"\xff",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert signed_in.status == 303
    assert bool(page.cookies["lotsen_desk_pre"]["secure"]) is https
    assert bool(signed_in.cookies["lotsen_desk"]["secure"]) is https
    for response_headers in (page.headers, signed_in.headers, missing.headers, bad.headers):
        if https:
            assert response_headers["Strict-Transport-Security"] == "max-age=31536000"
        else:
            assert "Strict-Transport-Security" not in response_headers


# --- the CSV download never carries a formula -----------------------------------------------


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Kultur och fritid", "Kultur och fritid"),
        ("0.85", "0.85"),
        ("", ""),
    ],
)
def test_csv_cells_are_neutralised(cell: str, shown: str) -> None:
    assert neutralise_cell(cell) == shown


async def test_a_department_named_like_a_formula_reaches_the_csv_as_text(engine: Engine) -> None:
    with session_scope(engine) as session:
        department = crud.department_by_key(session=session, key="teknik")
        assert department is not None
        department.name = '=HYPERLINK("http://evil.example","Klicka")'
        session.add(department)
        routed_enquiry(session, now=NOW, department_key="teknik")
    async with desk_client(engine, Clock(NOW)) as client:
        response = await client.get("/rapport.csv")
        assert response.status == 200
        rows = list(csv.reader(io.StringIO(await response.text())))
    names = [row[2] for row in rows[1:]]
    assert '\'=HYPERLINK("http://evil.example","Klicka")' in names
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r)


# --- malformed requests are a 400 with the security headers, never a crash -----------------


MALFORMED_BODIES = {
    "multipart without boundary": (b"csrf=x", "multipart/form-data"),
    "raw 0xFF byte": (b"csrf=x&username=\xff&password=y", "application/x-www-form-urlencoded"),
    "unknown charset": (b"csrf=x&username=a", "application/x-www-form-urlencoded; charset=bogus"),
    "broken multipart": (b"--b\r\nno headers\r\n", "multipart/form-data; boundary=b"),
}


@pytest.mark.parametrize("body", sorted(MALFORMED_BODIES))
async def test_malformed_login_bodies_answer_400(
    engine: Engine, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    data, content_type = MALFORMED_BODIES[body]
    async with desk_client(engine, Clock(NOW)) as client:
        response = await client.post(
            "/desk/login", data=data, headers={"Content-Type": content_type}
        )
        text = await response.text()
    assert response.status == 400, text
    assert all(h in response.headers for h in SECURITY_HEADERS)
    assert "Traceback" not in text and "Begäran gick inte att läsa" in text
    assert "The request could not be read" in text


async def test_malformed_body_on_a_signed_in_form_answers_400(engine: Engine) -> None:
    add_staff(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        await _link_sign_in(client, engine, STAFF_ID)
        response = await client.post(
            "/desk/department/kultur_fritid/contact/contact",
            data=b"csrf=\xff",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status == 400
        assert all(h in response.headers for h in SECURITY_HEADERS)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=9999-12-31", "Datumet måste ligga mellan 2000-01-01 och 2199-12-31"),
        ("to=9999-12-31", "The date must lie between 2000-01-01 and 2199-12-31"),
        ("from=0001-01-01", "inte 0001-01-01"),
        ("from=2026-13-01", "Skriv datumet som ÅÅÅÅ-MM-DD"),
    ],
)
async def test_unusable_search_dates_answer_400(engine: Engine, query: str, message: str) -> None:
    add_staff(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        await _link_sign_in(client, engine, COORDINATOR_ID)
        response = await client.get(f"/desk/enquiries?{query}")
        text = await response.text()
    assert response.status == 400 and message in text
    assert all(h in response.headers for h in SECURITY_HEADERS)


async def test_absence_ending_beyond_the_calendar_answers_400(engine: Engine) -> None:
    add_staff(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        await _link_sign_in(client, engine, STAFF_ID)
        page = await client.get("/desk/department/kultur_fritid")
        response = await client.post(
            "/desk/department/kultur_fritid/absence/contact",
            data={
                "csrf": csrf_of(await page.text()),
                "absent_from": "2026-07-01",
                "absent_until": "9999-12-31",
            },
        )
        assert response.status == 400
        assert "Datumet måste ligga mellan" in await response.text()


async def test_case_ids_no_row_can_have_are_404(engine: Engine) -> None:
    add_staff(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        await _link_sign_in(client, engine, COORDINATOR_ID)
        assert (await client.get("/desk/queue/99999999999999999999")).status == 404
        assert (await client.get("/desk/queue/2147483648")).status == 404


async def test_an_unexpected_error_is_a_plain_500_page_with_the_headers(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views_report, "public_report", broken)
    async with desk_client(engine, Clock(NOW)) as client:
        response = await client.get("/rapport")
        text = await response.text()
    assert response.status == 500
    assert all(h in response.headers for h in SECURITY_HEADERS)
    assert "Något gick fel" in text and "Something went wrong" in text
    assert "secret internals" not in text and "Traceback" not in text
