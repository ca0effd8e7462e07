"""The public register in headless Chromium: without JavaScript, keyboard search, axe-core clean.

axe-core (the engine shipped in axe-playwright-python's wheel) checks WCAG 2.1 A and AA.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from db.plumbing.session import session_scope
from db.records.register import mark
from harness.desk import Clock
from harness.workflow import escalated_enquiry, local, routed_enquiry
from tests import test_desk_browser
from tests.test_desk_browser import CHROMIUM, NOW, LiveDesk

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]
browser = test_desk_browser.browser  # the desk tests' Chromium, one per module
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE = resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")


@pytest.fixture
def desk(engine: Engine) -> Iterator[LiveDesk]:
    with session_scope(engine) as session:
        routed_enquiry(session, now=local(2026, 4, 1, 9))
        routed_enquiry(session, now=local(2026, 4, 10, 9), department_key="teknik")
        secret = routed_enquiry(session, now=local(2026, 4, 12, 9))
        mark(session=session, enquiry=secret, personal_data=True, secret=True, actor="t")
        escalated_enquiry(session, now=local(2026, 4, 13, 9), association=None)
    with LiveDesk(engine, Clock(NOW)) as live:
        yield live


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


@pytest.mark.parametrize("view", ["", "?lang=sv", "?lang=ar"])
def test_the_diarium_is_accessible(browser: Any, desk: LiveDesk, view: str) -> None:
    context = browser.new_context(
        viewport={"width": 1024, "height": 800}, bypass_csp=True, locale="sv-SE"
    )
    try:
        page = context.new_page()
        page.goto(desk.url + "/diarium" + view)
        assert page.locator("#diarium-table tbody tr").count() == 4
        assert axe_violations(page) == []
        page.set_viewport_size({"width": 320, "height": 640})
        scroll, client = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll <= client, f"the page is {scroll}px wide in a {client}px window"
    finally:
        context.close()


def test_the_diarium_is_searched_without_javascript(browser: Any, desk: LiveDesk) -> None:
    context = browser.new_context(
        viewport={"width": 320, "height": 640}, java_script_enabled=False, locale="sv-SE"
    )
    try:
        page = context.new_page()
        page.goto(desk.url + "/diarium")
        page.select_option("#d-department", "teknik")
        page.locator("#d-reference").press("Enter")
        page.wait_for_url("**/diarium?**department=teknik**")
        rows = page.locator("#diarium-table tbody tr")
        assert rows.count() == 1 and "Tekniska förvaltningen" in rows.first.inner_text()
    finally:
        context.close()
