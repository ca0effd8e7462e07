"""The routing page, the handles form and the training review in headless Chromium, with axe-core.

Every new page is checked by axe-core (the engine shipped in axe-playwright-python's wheel)
against WCAG 2.0/2.1 A and AA: zero violations. The forms are used without JavaScript.
With LOTSEN_SCREENSHOT_DIR set, the routing page is saved there as desk-routes.png (README).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.channels.desk.accounts import add_account
from db.enquiries import queue
from db.enquiries.crud import routes_map
from db.models import AuditEntry, TrainingCandidate
from db.people.departments import department_by_key
from db.plumbing.session import session_scope
from harness.desk import COORDINATOR_ID, STAFF_ID, Clock, add_staff, login_path
from harness.people import staff_id
from harness.workflow import escalated_enquiry
from tests.test_desk_browser import CHROMIUM, CHROMIUM_ARGS, NOW, LiveDesk

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]
PASSWORD = "ett riktigt långt lösenord"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE = resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")


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
    """Yield the live desk with staff and a local coordinator account `samordnare`."""
    add_staff(engine)
    with session_scope(engine) as session:
        add_account(session=session, username="samordnare", password=PASSWORD, role="coordinator")
    with LiveDesk(engine, Clock(NOW)) as live:
        yield live


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """Yield a fresh page without JavaScript of its own (axe is injected by the test)."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, bypass_csp=True, locale="sv-SE"
    )
    try:
        yield context.new_page()
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


def _sign_in_with_password(page: Any, desk: LiveDesk) -> None:
    page.goto(desk.url + "/desk/login")
    page.fill("#username", "samordnare")
    page.fill("#password", PASSWORD)
    page.locator("#password").press("Enter")
    page.wait_for_url(f"{desk.url}/desk")


def test_the_coordinator_moves_a_topic_in_the_browser(
    page: Any, desk: LiveDesk, engine: Engine
) -> None:
    _sign_in_with_password(page, desk)
    page.get_by_role("link", name="Vägvalstabellen").first.click()
    page.wait_for_url(f"{desk.url}/desk/routes")
    assert axe_violations(page) == []
    row = page.locator("#topic-topic_bidrag")
    assert "Kultur- och fritidsförvaltningen" in row.inner_text()
    row.locator("select").select_option("utbildning")
    row.get_by_role("button", name="Flytta topic_bidrag").click()
    page.wait_for_url(f"{desk.url}/desk/routes?done=moved#topic-topic_bidrag")
    assert "Ämnet är flyttat" in page.locator("[role=status]").first.inner_text()
    assert "Utbildningsförvaltningen" in page.locator("#topic-topic_bidrag").inner_text()
    with session_scope(engine) as session:
        assert routes_map(session=session)["topic_bidrag"] == "utbildning"
        entry = session.exec(
            select(AuditEntry).where(AuditEntry.entity == "route").order_by(col(AuditEntry.id))
        ).all()[-1]
    assert (entry.actor, entry.entity_key) == ("web:samordnare", "topic_bidrag")
    assert axe_violations(page) == []

    page.select_option("#r-department", "utbildning")
    page.fill("#r-search", "bidrag")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url("**/desk/routes?department=utbildning&q=bidrag")
    assert page.locator("tbody tr").count() == 1
    page.goto(desk.url + "/desk/routes?lang=ar")  # right to left, Arabic with no English beside
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert axe_violations(page) == []

    page.goto(desk.url + "/desk/routes?lang=sv,en&done=moved")
    shots = os.environ.get("LOTSEN_SCREENSHOT_DIR")
    if shots:
        page.set_viewport_size({"width": 1600, "height": 1250})
        page.screenshot(path=str(Path(shots) / "desk-routes.png"), full_page=False)


def test_training_candidates_are_reviewed_in_the_browser(
    page: Any, desk: LiveDesk, engine: Engine
) -> None:
    with session_scope(engine) as session:
        for text in ("Vem lagar gungan i parken vid skolan?", "Kan vi låna torget på lördag?"):
            enquiry, escalation_id = escalated_enquiry(session, now=NOW, text=text)
            enquiry.intent = "topic_lokalbokning"
            queue.claim(
                session=session,
                escalation_id=escalation_id,
                staff_user_id=staff_id(session, COORDINATOR_ID),
            )
            queue.route(
                session=session,
                escalation_id=escalation_id,
                department_key="teknik",
                staff_user_id=staff_id(session, COORDINATOR_ID),
                email_enabled=True,
                now=NOW,
            )
    with session_scope(engine) as session:
        first, second = session.exec(
            select(TrainingCandidate).order_by(col(TrainingCandidate.id))
        ).all()
    _sign_in_with_password(page, desk)
    page.goto(desk.url + "/desk/training")
    assert axe_violations(page) == []
    row = page.locator(f"#candidate-{first.id}")
    assert "gungan" in row.inner_text() and "topic_lokalbokning" in row.inner_text()
    row.locator("select").select_option("topic_parker")
    row.get_by_role("button", name=f"Godkänn förslag {first.id}").click()
    page.wait_for_url(f"{desk.url}/desk/training?done=accept")
    page.locator(f"#candidate-{second.id}").get_by_role(
        "button", name=f"Avvisa förslag {second.id}"
    ).click()
    page.wait_for_url(f"{desk.url}/desk/training?done=reject")
    assert "Inga förslag väntar" in page.locator("main").inner_text()
    assert axe_violations(page) == []
    with session_scope(engine) as session:
        one = session.get(TrainingCandidate, first.id)
        two = session.get(TrainingCandidate, second.id)
        assert one is not None and (one.accepted, one.intent) == (True, "topic_parker")
        assert two is not None and two.accepted is False


def test_staff_edit_what_their_department_handles_in_the_browser(
    page: Any, desk: LiveDesk, engine: Engine
) -> None:
    page.goto(desk.url + login_path(engine, STAFF_ID, NOW))
    page.click("#use-link")
    page.wait_for_url(f"{desk.url}/desk")
    page.goto(desk.url + "/desk/department/kultur_fritid")
    assert axe_violations(page) == []
    page.fill("#handle-new", "x" * 300 + "y")  # maxlength keeps it to 300: accepted
    page.fill("#handle-0", "")  # an emptied item is dropped
    page.check("input[name=remove_1]")
    page.locator("#handles-contact button[type=submit]").click()
    assert (
        "Listan över vad förvaltningen svarar på är sparad."
        in page.locator("[role=status]").first.inner_text()
    )
    with session_scope(engine) as session:
        culture = department_by_key(session=session, key="kultur_fritid")
        assert culture is not None
        assert culture.handles[-1] == "x" * 300 and len(culture.handles) == 6
    page.fill("#handle-new", culture.handles[0].upper())
    page.locator("#handles-contact button[type=submit]").click()
    assert "finns redan i listan" in page.locator("#handles-error").inner_text()
    assert axe_violations(page) == []
    page.goto(desk.url + "/rapport")
    assert "x" * 300 in page.locator("main").inner_text()
    assert axe_violations(page) == []
