"""The public feedback page /svar/<token> in headless Chromium: one tap and a comment without
JavaScript, axe-core clean (WCAG 2.1 A and AA) in Swedish and right to left, and at 320 px."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.settings import Settings
from db import feedback
from db.enquiries.answers import latest_answer
from db.enquiries.workflow import answer_enquiry
from db.models import Feedback
from db.plumbing.session import session_scope
from harness.desk import Clock
from harness.workflow import local, routed_enquiry
from tests import test_desk_browser
from tests.test_desk_browser import CHROMIUM, NOW, LiveDesk
from tests.test_diarium_browser import axe_violations

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]
browser = test_desk_browser.browser  # the desk tests' Chromium, one per module


@pytest.fixture
def answered(engine: Engine) -> Iterator[tuple[LiveDesk, str]]:
    """The desk, and the feedback token of one answered enquiry (signed with the desk's key)."""
    key = Settings(database_url="sqlite://", _env_file=None).link_signing_key()  # type: ignore[call-arg]
    with session_scope(engine) as session:
        enquiry = routed_enquiry(session, now=local(2026, 4, 10, 9))
        answer_enquiry(
            session=session,
            enquiry=enquiry,
            text="Svar.",
            actor="staff:1",
            now=local(2026, 4, 10, 11),
        )
        assert enquiry.id is not None
        answer = latest_answer(session=session, enquiry_id=enquiry.id)
        assert answer is not None
        token = feedback.link_token(secret=key, answer=answer)
    with LiveDesk(engine, Clock(NOW)) as live:
        yield live, token


def _fits(page: Any) -> None:
    page.set_viewport_size({"width": 320, "height": 640})
    scroll, client = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll <= client, f"the page is {scroll}px wide in a {client}px window"


@pytest.mark.parametrize("language", ["sv", "ar"])
def test_one_tap_then_a_comment_without_javascript_and_accessible(
    browser: Any, answered: tuple[LiveDesk, str], engine: Engine, language: str
) -> None:
    desk, token = answered
    context = browser.new_context(
        viewport={"width": 1024, "height": 800},
        java_script_enabled=False,
        bypass_csp=True,
        locale="sv-SE",
    )
    try:
        page = context.new_page()
        page.goto(f"{desk.url}/svar/{token}?lang={language}")
        assert page.locator("html").get_attribute("lang") == language
        buttons = page.locator("button[name=rating]")
        assert buttons.count() == 2
        buttons.first.click()  # one tap: "yes"
        page.wait_for_selector("textarea[name=comment]")
        page.fill("textarea[name=comment]", "Tydligt och snabbt.")
        page.locator("form button[type=submit]").last.click()
        page.wait_for_selector("[role=status]")
        assert page.locator("textarea[name=comment]").count() == 0
    finally:
        context.close()
    with session_scope(engine) as session:
        [given] = session.exec(select(Feedback)).all()
        assert given.helpful is True and given.comment == "Tydligt och snabbt."


@pytest.mark.parametrize("language", ["sv", "ar"])
def test_every_state_of_the_page_is_axe_clean(
    browser: Any, answered: tuple[LiveDesk, str], language: str
) -> None:
    desk, token = answered
    # Axe needs its script: JavaScript on here, the page itself has none.
    context = browser.new_context(
        viewport={"width": 1024, "height": 800}, bypass_csp=True, locale="sv-SE"
    )
    try:
        page = context.new_page()
        page.goto(f"{desk.url}/svar/{token}?lang={language}")
        assert axe_violations(page) == []
        _fits(page)
        page.set_viewport_size({"width": 1024, "height": 800})
        page.locator("button[name=rating]").last.click()  # "no": the comment form
        page.wait_for_selector("textarea[name=comment]")
        assert axe_violations(page) == []
        _fits(page)
        page.goto(f"{desk.url}/svar/{token[:-3]}xyz?lang={language}")  # altered
        assert page.locator("h1").count() == 1
        assert axe_violations(page) == []
    finally:
        context.close()
