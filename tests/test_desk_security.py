"""The desk as an attacker probes it: hashes, throttling, the hashing pool, cookies, bad input."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import re
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.channels.desk import views_report
from bot.channels.desk.accounts import add_account
from bot.channels.desk.password_pool import PasswordPool
from bot.channels.desk.passwords import Check, Passwords
from bot.channels.desk.throttle import LoginLimits
from bot.channels.desk.views_report import neutralise_cell
from db.models import DeskAccount, DeskSession, StaffMember
from db.people import departments
from db.plumbing.session import make_engine, session_scope
from harness.desk import (
    COORDINATOR_ID,
    STAFF_ID,
    Answer,
    Clock,
    add_staff,
    csrf_of,
    desk_client,
    desk_settings,
    login_path,
    password_attempt,
)
from harness.people import staff_id, staff_member
from harness.wait import eventually
from harness.workflow import local, routed_enquiry

NOW = local(2026, 3, 16, 9)
NAME, PASSWORD = "samordnare", "ett långt lösenord"
TODAYS_PARAMETERS = "$argon2id$v=19$m=47104,t=1,p=1$"
SECURITY_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy")


def _add_coordinator_account(engine: Engine, *, disabled: bool = False) -> None:
    with session_scope(engine) as session:
        account = add_account(session=session, username=NAME, password=PASSWORD, role="coordinator")
        if disabled:
            account.disabled_at = NOW
            session.add(account)


def _stored_hash(engine: Engine) -> str:
    with session_scope(engine) as session:
        account = session.exec(select(DeskAccount).where(DeskAccount.username == NAME)).one()
        return account.password_hash


def _set_hash(engine: Engine, value: str) -> None:
    with session_scope(engine) as session:
        account = session.exec(select(DeskAccount).where(DeskAccount.username == NAME)).one()
        account.password_hash = value
        session.add(account)


def _legacy_scrypt_hash(password: str) -> str:
    """Return a hash in the desk's first, hand-written format (as stored before argon2id)."""
    salt = bytes(range(16))
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def _page_without_tokens(answer: Answer) -> str:
    return re.sub(r'value="[^"]*"', 'value=""', answer.text)


# --- argon2id and the upgrade of old hashes ---------------------------------------------------


def test_passwords_are_argon2id_and_old_scrypt_hashes_still_verify() -> None:
    passwords = Passwords()
    stored = passwords.hash(PASSWORD)
    assert stored.startswith(TODAYS_PARAMETERS) and PASSWORD not in stored
    assert passwords.verify(PASSWORD, stored) == Check(ok=True, needs_rehash=False)
    assert passwords.verify("fel lösenord", stored) == Check(ok=False)
    legacy = _legacy_scrypt_hash(PASSWORD)
    assert passwords.verify(PASSWORD, legacy) == Check(ok=True, needs_rehash=True)
    assert passwords.verify("fel lösenord", legacy) == Check(ok=False)
    assert passwords.verify(PASSWORD, "not a hash at all") == Check(ok=False)


async def test_old_scrypt_hash_is_replaced_by_argon2id_at_sign_in(engine: Engine) -> None:
    _add_coordinator_account(engine)
    legacy = _legacy_scrypt_hash(PASSWORD)
    _set_hash(engine, legacy)
    async with desk_client(engine, Clock(NOW)) as client:
        wrong = await password_attempt(client, NAME, "inte lösenordet")
        assert wrong.status == 400 and _stored_hash(engine) == legacy
        right = await password_attempt(client, NAME, PASSWORD)
        assert right.status == 303
        upgraded = _stored_hash(engine)
        assert upgraded.startswith(TODAYS_PARAMETERS)
        assert (await password_attempt(client, NAME, PASSWORD)).status == 303
        assert _stored_hash(engine) == upgraded


async def test_weaker_argon2_hash_is_strengthened_at_sign_in(engine: Engine) -> None:
    _add_coordinator_account(engine)
    _set_hash(engine, PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD))
    async with desk_client(engine, Clock(NOW)) as client:
        assert (await password_attempt(client, NAME, PASSWORD)).status == 303
    assert _stored_hash(engine).startswith(TODAYS_PARAMETERS)


# --- throttling ---------------------------------------------------------------------------


async def test_after_a_burst_of_failures_even_the_right_password_is_refused(
    engine: Engine,
) -> None:
    _add_coordinator_account(engine)
    clock = Clock(NOW)
    async with desk_client(engine, clock) as client:
        for _ in range(LoginLimits().per_account):
            assert (await password_attempt(client, NAME, "gissning")).status == 400
        refused = await password_attempt(client, NAME, PASSWORD)
        english = await password_attempt(client, NAME, PASSWORD, headers={"Accept-Language": "en"})
    assert refused.status == english.status == 429
    assert int(refused.headers["Retry-After"]) == 15 * 60
    assert "För många misslyckade inloggningar" in refused.text  # Swedish by default
    assert "Too many failed sign-ins" in english.text and "lotsen_desk" not in refused.cookies
    assert "lotsen_desk" not in english.cookies
    assert all(h in refused.headers for h in SECURITY_HEADERS)
    # The counter lives in the database: a restarted desk with its own engine still refuses.
    other_engine = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        async with desk_client(other_engine, clock) as restarted:
            assert (await password_attempt(restarted, NAME, PASSWORD)).status == 429
            clock.now = NOW + timedelta(minutes=15, seconds=1)
            assert (await password_attempt(restarted, NAME, PASSWORD)).status == 303
    finally:
        other_engine.dispose()


async def test_unknown_names_are_throttled_exactly_like_real_ones(engine: Engine) -> None:
    _add_coordinator_account(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        answers = {}
        for name in (NAME, "finns.inte"):
            for _ in range(LoginLimits().per_account):
                assert (await password_attempt(client, name, "gissning")).status == 400
            answers[name] = await password_attempt(client, name, "gissning")
    assert answers[NAME].status == answers["finns.inte"].status == 429
    assert _page_without_tokens(answers[NAME]).replace(NAME, "X") == _page_without_tokens(
        answers["finns.inte"]
    ).replace("finns.inte", "X")


async def test_one_address_is_throttled_across_many_names(engine: Engine) -> None:
    _add_coordinator_account(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        for number in range(LoginLimits().per_address):
            assert (await password_attempt(client, f"gissning{number}", "x")).status == 400
        assert (await password_attempt(client, NAME, PASSWORD)).status == 429


async def test_a_successful_sign_in_forgives_the_names_failures(engine: Engine) -> None:
    _add_coordinator_account(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        for _ in range(3):
            for _ in range(LoginLimits().per_account - 1):
                assert (await password_attempt(client, NAME, "gissning")).status == 400
            assert (await password_attempt(client, NAME, PASSWORD)).status == 303


async def test_parallel_attempts_cannot_slip_past_the_limit(engine: Engine) -> None:
    _add_coordinator_account(engine)
    pool = PasswordPool(workers=1, waiting=20)
    async with desk_client(engine, Clock(NOW), password_pool=pool) as client:
        answers = await asyncio.gather(
            *(password_attempt(client, NAME, "gissning") for _ in range(12))
        )
    statuses = sorted(a.status for a in answers)
    assert statuses == [400] * LoginLimits().per_account + [429] * (12 - LoginLimits().per_account)


async def test_refusals_are_answered_after_the_refusal_delay(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.channels.desk import signin

    waits: list[float] = []

    async def recorded_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(signin, "pause_before_refusal", recorded_sleep)
    _add_coordinator_account(engine)
    async with desk_client(engine, Clock(NOW), login_limits=LoginLimits()) as client:
        for _ in range(LoginLimits().per_account):
            assert (await password_attempt(client, NAME, "gissning")).status == 400
        assert waits == []
        assert (await password_attempt(client, NAME, PASSWORD)).status == 429
    assert waits == [LoginLimits().refusal_delay] == [1.0]


@pytest.mark.parametrize("https", [True, False])
async def test_forwarded_address_counts_only_behind_a_local_https_proxy(
    engine: Engine, https: bool
) -> None:
    _add_coordinator_account(engine)
    settings = desk_settings("https://desk.storasa.se" if https else "http://127.0.0.1:8080")
    limits = LoginLimits(per_address=3, refusal_delay=0)
    async with desk_client(engine, Clock(NOW), settings=settings, login_limits=limits) as client:
        attacker = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
        for number in range(3):
            answer = await password_attempt(client, f"gissning{number}", "x", headers=attacker)
            assert answer.status == 400
        colleague = {"X-Forwarded-For": "203.0.113.8"}
        answer = await password_attempt(client, NAME, PASSWORD, headers=colleague)
        # Behind the proxy the colleague is another address; without it, both are the peer.
        assert answer.status == (303 if https else 429)
        again = await password_attempt(client, NAME, PASSWORD, headers=attacker)
        assert again.status == 429


# --- the hashing pool ----------------------------------------------------------------------


class BlockingPasswords(Passwords):
    """Passwords whose checks wait until the test lets them go."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def verify(self, password: str, stored: str | None) -> Check:
        """Wait for the release, then check as usual."""
        self.release.wait(timeout=120)
        return super().verify(password, stored)


async def _until(condition: Callable[[], bool], what: str) -> None:
    assert await eventually(condition, 20, 0.01), f"never happened: {what}"


async def test_a_login_flood_is_bounded_to_the_pool_and_pages_stay_served(
    engine: Engine,
) -> None:
    passwords = BlockingPasswords()
    pool = PasswordPool(passwords, workers=1, waiting=3)
    async with desk_client(engine, Clock(NOW), password_pool=pool) as client:
        flood = [
            asyncio.ensure_future(password_attempt(client, f"angripare{n}", "x")) for n in range(8)
        ]
        try:
            await _until(lambda: pool.running == 1 and pool.admitted == 4, "4 sign-ins admitted")
            await _until(lambda: sum(f.done() for f in flood) == 4, "the rest refused")
            # One hash is stuck on the pool and three wait for it; the pages do not.
            report = await client.get("/rapport")
            assert report.status == 200 and "Inga frågor under perioden" in await report.text()
            assert (await client.get("/desk/login")).status == 200
            assert pool.running == 1 and pool.admitted == 4
        finally:
            passwords.release.set()
        answers = await asyncio.gather(*flood)
    busy = [a for a in answers if a.status == 503]
    assert len(busy) == 4 and all(a.headers["Retry-After"] == "5" for a in busy)
    assert "Inloggningen är tillfälligt överbelastad" in busy[0].text
    assert sorted(a.status for a in answers) == [400] * 4 + [503] * 4
    assert pool.peak_running == 1 and pool.refused == 4 and pool.admitted == 0


# --- the same work for existing, unknown and disabled names ---------------------------------


class RecordingPasswords(Passwords):
    """Passwords that note which kind of hash every check ran against."""

    def __init__(self) -> None:
        super().__init__()
        self.checked: list[str] = []
        self.hashed = 0

    def hash(self, password: str) -> str:
        """Count the hash, then make it as usual."""
        self.hashed += 1
        return super().hash(password)

    def verify(self, password: str, stored: str | None) -> Check:
        """Record the hash's algorithm and parameters, then check as usual."""
        target = self.dummy_hash if stored is None else stored
        self.checked.append(target[: target.rindex("$", 0, target.rindex("$")) + 1])
        return super().verify(password, stored)


@pytest.mark.parametrize("name", [NAME, "finns.inte", "avstangd"])
async def test_every_failed_name_costs_one_argon2id_check_with_the_same_parameters(
    engine: Engine, name: str
) -> None:
    _add_coordinator_account(engine)
    with session_scope(engine) as session:
        account = add_account(session=session, username="avstangd", password=PASSWORD, role="admin")
        account.disabled_at = NOW
        session.add(account)
    password = PASSWORD if name == "avstangd" else "gissning"  # disabled: even the right one
    passwords = RecordingPasswords()
    async with desk_client(engine, Clock(NOW), password_pool=PasswordPool(passwords)) as client:
        answer = await password_attempt(client, name, password)
        reference = await password_attempt(client, "x", "y")
    assert passwords.checked == [TODAYS_PARAMETERS, TODAYS_PARAMETERS]
    assert passwords.hashed == 1  # the dummy hash, made when the desk started
    assert answer.status == reference.status == 400
    assert "Fel användarnamn eller lösenord" in answer.text
    assert _page_without_tokens(answer) == _page_without_tokens(reference)


# --- sessions end when the roles change, for good -------------------------------------------


async def _link_sign_in(client: TestClient, engine: Engine, user_id: int) -> None:
    path = login_path(engine, user_id, NOW)
    page = await client.get(path)
    response = await client.post(
        "/desk/login",
        data={"csrf": csrf_of(await page.text()), "token": path.split("token=")[1]},
        allow_redirects=False,
    )
    assert response.status == 303


async def test_a_role_change_ends_a_telegram_session_for_good(engine: Engine) -> None:
    add_staff(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        await _link_sign_in(client, engine, STAFF_ID)
        assert (await client.get("/desk/department/kultur_fritid")).status == 200
        with session_scope(engine) as session:
            member = session.exec(
                select(StaffMember).where(StaffMember.person_id == staff_id(session, STAFF_ID))
            ).one()
            culture = member.department_id
            technical = departments.department_by_key(session=session, key="teknik")
            assert technical is not None
            member.department_id = technical.id
            session.add(member)
        page = await client.get("/desk", allow_redirects=False)
        assert page.status == 303 and page.headers["Location"] == "/desk/login"
        with session_scope(engine) as session:
            member = session.exec(
                select(StaffMember).where(StaffMember.person_id == staff_id(session, STAFF_ID))
            ).one()
            member.department_id = culture
            session.add(member)
        # The old roles are back, the old session is not.
        assert (await client.get("/desk", allow_redirects=False)).status == 303
    with session_scope(engine) as session:
        (row,) = session.exec(select(DeskSession)).all()
        assert row.ended_at is not None


async def test_losing_every_role_ends_the_session_for_good(engine: Engine) -> None:
    add_staff(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        await _link_sign_in(client, engine, COORDINATOR_ID)
        with session_scope(engine) as session:
            member = session.exec(
                select(StaffMember).where(
                    StaffMember.person_id == staff_id(session, COORDINATOR_ID)
                )
            ).one()
            session.delete(member)
        assert (await client.get("/desk", allow_redirects=False)).status == 303
        with session_scope(engine) as session:
            staff_member(session, COORDINATOR_ID, "coordinator")
        assert (await client.get("/desk", allow_redirects=False)).status == 303


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
        department = departments.department_by_key(session=session, key="teknik")
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
        english = await client.post(
            "/desk/login",
            data=data,
            headers={"Content-Type": content_type, "Accept-Language": "en"},
        )
        english_text = await english.text()
    assert response.status == english.status == 400, text
    assert all(h in response.headers for h in SECURITY_HEADERS)
    assert "Traceback" not in text and "Begäran gick inte att läsa" in text
    assert "The request could not be read" in english_text


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
        ("to=9999-12-31&lang=en", "The date must lie between 2000-01-01 and 2199-12-31"),
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
        english = await client.get("/rapport", headers={"Accept-Language": "en"})
        english_text = await english.text()
    assert response.status == english.status == 500
    assert all(h in response.headers for h in SECURITY_HEADERS)
    assert "Något gick fel" in text and "Something went wrong" in english_text
    assert "secret internals" not in english_text
    assert "secret internals" not in text and "Traceback" not in text


# --- the benchmark keeps running (figures are reported, never judged) -----------------------


@pytest.mark.slow
def test_the_login_flood_benchmark_reports_every_phase() -> None:
    from bench import desk_login

    results = desk_login.run(samples=2, workers=4, history=0, report=lambda _line: None)
    for phase in desk_login.PHASES:
        figures = results[phase.name]
        assert figures["rapport"]["p50_ms"] is not None
        assert (figures["flood_per_s"] is not None) is phase.flood
    assert set(results["failed_sign_in"]) == {"existing", "unknown", "disabled"}
    assert all(f["statuses"] == {400: 2} for f in results["failed_sign_in"].values())
    assert "failed sign-in, one at a time" in desk_login.render(results)
