"""The desk in headless Chromium (Playwright): sign-in, queue, edits, public report, 320 px."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.channels.desk.app import build_desk_app
from bot.settings import Settings
from db.models import AuditEntry, Contact, Department, OutboxMessage
from db.plumbing.session import session_scope
from harness.desk import COORDINATOR_ID, STAFF_ID, Clock, add_staff, login_path, person
from harness.ports import free_port
from harness.workflow import (
    ASSOCIATION_CHAT,
    as_sent,
    escalated_enquiry,
    local,
    routed_enquiry,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NOW = local(2026, 4, 15, 12)
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE = resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)


class LiveDesk:
    """The desk served on a free local port from a background thread."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.clock = clock
        self._engine = engine
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        from aiohttp import web

        asyncio.set_event_loop(self._loop)
        settings = Settings(database_url="sqlite://", _env_file=None)  # type: ignore[call-arg]
        runner = web.AppRunner(build_desk_app(settings, self._engine, clock=self.clock))
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._runner = runner
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def __enter__(self) -> LiveDesk:
        self._thread.start()
        assert self._ready.wait(10), "the desk did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Yield a headless Chromium shared by the module's tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def desk(engine: Engine) -> Iterator[LiveDesk]:
    """Yield the live desk on a seeded database with staff."""
    add_staff(engine)
    with LiveDesk(engine, Clock(NOW)) as live:
        yield live


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """Yield a fresh browser page (own cookies) at a phone-friendly desktop size, its browser
    asking for Swedish pages (Accept-Language), as a Swedish colleague's does."""
    context = browser.new_context(viewport={"width": 1024, "height": 800}, locale="sv-SE")
    try:
        yield context.new_page()
    finally:
        context.close()


def _sign_in(page: Any, desk: LiveDesk, engine: Engine, user_id: int) -> None:
    page.goto(desk.url + login_path(engine, user_id, NOW))
    page.click("#use-link")
    page.wait_for_url(f"{desk.url}/desk")


def test_sign_in_with_link_and_refuse_used_or_expired(
    page: Any, desk: LiveDesk, engine: Engine, browser: Any
) -> None:
    path = login_path(engine, COORDINATOR_ID, NOW)
    page.goto(desk.url + path)
    page.get_by_role("button", name="Logga in med länken").click()
    page.wait_for_url(f"{desk.url}/desk")
    assert page.locator("h1").inner_text().startswith("Hej Cora")
    assert page.locator("nav").get_by_role("link", name="Kö").count() == 1
    other = browser.new_context(locale="sv-SE").new_page()
    other.goto(desk.url + path)
    other.click("#use-link")
    assert "Länken fungerar inte längre" in other.locator("main").inner_text()
    expired = login_path(engine, STAFF_ID, NOW)
    desk.clock.now = NOW + timedelta(minutes=11)
    try:
        other.goto(desk.url + expired)
        other.click("#use-link")
        assert "Länken fungerar inte längre" in other.locator("main").inner_text()
        other.goto(desk.url + "/desk/queue")
        assert other.url.endswith("/desk/login")
    finally:
        desk.clock.now = NOW
        other.context.close()


def test_claim_and_answer_a_case(page: Any, desk: LiveDesk, engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry, _ = escalated_enquiry(
            session, now=NOW - timedelta(hours=5), association="Storåsa Schackklubb"
        )
        enquiry_id = enquiry.id
    _sign_in(page, desk, engine, COORDINATOR_ID)
    page.goto(desk.url + "/desk/queue?filter=unclaimed")
    page.get_by_role("link", name=enquiry.reference).click()
    page.get_by_role("button", name="Ta ärendet").click()
    assert "Ärendet är ditt." in page.locator("[role=status]").inner_text()
    assert page.locator("#claimed-by").inner_text() == "Cora"
    page.get_by_label("Svar till föreningen").fill("Ni kan låna lokalen gratis på vardagar.")
    page.get_by_role("button", name="Skicka svaret").click()
    assert "Svaret skickas till föreningen." in page.locator("[role=status]").inner_text()
    assert "answered" in page.locator("main").inner_text()
    with session_scope(engine) as session:
        message = as_sent(
            session,
            session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.enquiry_id == enquiry_id, OutboxMessage.kind == "answer"
                )
            ).one(),
        )
    assert message.chat_id == ASSOCIATION_CHAT
    assert "Ni kan låna lokalen gratis på vardagar." in message.text


def test_edit_contact_invalid_then_valid(page: Any, desk: LiveDesk, engine: Engine) -> None:
    with session_scope(engine) as session:
        culture = session.exec(select(Department).where(Department.key == "kultur_fritid")).one()
        before = session.exec(
            select(Contact).where(Contact.department_id == culture.id, Contact.kind == "contact")
        ).one()
        old_email = before.email
    _sign_in(page, desk, engine, STAFF_ID)
    page.goto(desk.url + "/desk/department")
    page.wait_for_url(f"{desk.url}/desk/department/kultur_fritid")
    email = page.locator("#contact-contact-email")
    email.fill("fel.adress@")
    page.locator("#contact-contact button[type=submit]").first.click()
    error = page.locator("#contact-contact-email-error")
    assert "Det ser inte ut som en e-postadress" in error.inner_text()
    assert page.locator("#contact-contact-email").get_attribute("aria-invalid") == "true"
    with session_scope(engine) as session:
        assert session.get(Contact, before.id).email == old_email  # type: ignore[union-attr]
        assert (
            session.exec(select(AuditEntry).where(col(AuditEntry.actor).startswith("web:"))).all()
            == []
        )
    page.locator("#contact-contact-email").fill("foreningsservice@storasa.se")
    page.locator("#contact-contact button[type=submit]").first.click()
    assert "Kontaktuppgifterna är sparade." in page.locator("[role=status]").inner_text()
    assert "foreningsservice@storasa.se" in page.locator("#audit").inner_text()
    with session_scope(engine) as session:
        entry = session.exec(
            select(AuditEntry).where(
                col(AuditEntry.actor) == f"web:staff:{person(engine, STAFF_ID)}"
            )
        ).one()
    assert entry.entity_key == "kultur_fritid/contact"
    assert entry.after is not None and entry.after["email"] == "foreningsservice@storasa.se"


def test_public_report_suppresses_small_cells(page: Any, desk: LiveDesk, engine: Engine) -> None:
    page.goto(desk.url + "/rapport")
    assert "Inga frågor under perioden" in page.locator("main").inner_text()
    with session_scope(engine) as session:
        for i in range(6):
            routed_enquiry(session, now=local(2026, 4, 6, 9), association=f"Förening {i}")
        for i in range(2):
            routed_enquiry(
                session, now=local(2026, 4, 7, 9), department_key="teknik", association=f"K{i}"
            )
    page.goto(desk.url + "/rapport")
    table = page.locator("#report-table")
    culture = table.locator("tr", has_text="Kultur- och fritidsförvaltningen")
    technical = table.locator("tr", has_text="Tekniska förvaltningen")
    assert culture.locator("td").nth(1).inner_text() == "6"
    assert technical.locator("td").nth(1).inner_text() == "dold"
    # A chart of each figure over the months, and the received and deadline charts of the one
    # department with a published month.
    assert page.locator("svg.chart title[id^=chart-figure-]").count() == 6
    assert page.locator("svg.chart title[id^=chart-received-]").count() == 1
    assert page.locator("svg.chart title[id^=chart-sla-]").count() == 1
    data = page.request.get(desk.url + "/rapport.json").json()
    small = next(r for r in data["rows"] if r["department"] == "teknik")
    assert small["suppressed"] is True and "received" not in small


@pytest.mark.parametrize("path", ["/rapport", "/desk/queue", "/desk/department/kultur_fritid"])
def test_no_horizontal_scroll_at_320_px(
    browser: Any, desk: LiveDesk, engine: Engine, path: str
) -> None:
    with session_scope(engine) as session:
        for i in range(5):
            routed_enquiry(session, now=local(2026, 4, 6, 9), association=f"Förening {i}")
        escalated_enquiry(
            session,
            now=NOW - timedelta(hours=2),
            association="En mycket lång föreningsnamnsförening",
        )
    context = browser.new_context(viewport={"width": 320, "height": 640}, locale="sv-SE")
    try:
        page = context.new_page()
        _sign_in(page, desk, engine, COORDINATOR_ID)
        page.goto(desk.url + path)
        scroll, client = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll <= client, f"{path}: page is {scroll}px wide in a {client}px window"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
    finally:
        context.close()


def axe_violations(page: Any) -> list[str]:
    """Run axe-core on the page for WCAG 2.1 A and AA; return each violation with its nodes."""
    page.evaluate(AXE)
    result = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA
    )
    assert result["passes"], "axe-core checked nothing"
    return [
        f"{v['id']}: {v['help']} ({', '.join(n['html'][:80] for n in v['nodes'][:3])})"
        for v in result["violations"]
    ]


@pytest.mark.parametrize("view", ["", "?lang=ar", "?lang=fa"])
def test_the_report_is_accessible_in_swedish_and_right_to_left(
    browser: Any, desk: LiveDesk, engine: Engine, view: str
) -> None:
    with session_scope(engine) as session:
        for i in range(6):
            routed_enquiry(session, now=local(2026, 3, 3, 9), association=f"Förening {i}")
        for i in range(5):
            routed_enquiry(
                session, now=local(2026, 4, 6, 9), association=f"Lag {i}", detected_language="ar"
            )
        routed_enquiry(session, now=local(2026, 4, 7, 9), department_key="teknik")
    context = browser.new_context(
        viewport={"width": 1024, "height": 800}, bypass_csp=True, locale="sv-SE"
    )
    try:
        page = context.new_page()
        page.goto(desk.url + "/rapport" + view)
        expected = {"": "sv", "?lang=ar": "ar", "?lang=fa": "fa"}[view]
        assert page.locator("html").get_attribute("lang") == expected
        assert page.locator("svg.chart desc").count() >= 6
        assert axe_violations(page) == []
    finally:
        context.close()
