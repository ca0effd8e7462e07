"""The web chat in Debian's headless Chromium (Playwright), with and without JavaScript: axe-core
on every state, a keyboard-only walk through a whole question, 320 px. (The whole path with the
trained model is tests/test_webchat_whole_path.py: Playwright's sync API owns this module's
event loop.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.settings import Settings
from db.models import Enquiry
from harness.browser import launched_chromium
from harness.ports import free_port
from harness.wait import wait_until
from harness.webchat import LiveChat
from tests.test_desk_browser import AXE, CHROMIUM, CHROMIUM_ARGS, WCAG_AA

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Yield a headless Chromium shared by the module's tests (as the desk's tests launch it)."""
    with launched_chromium(str(CHROMIUM), CHROMIUM_ARGS) as chromium:
        yield chromium


@pytest.fixture
def chat(engine: Engine) -> Iterator[LiveChat]:
    """Yield the web server with the chat on a seeded database, Rasa unreachable."""
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        rasa_url=f"http://127.0.0.1:{free_port()}",
        link_secret=SecretStr("browser tests"),
        _env_file=None,  # type: ignore[call-arg]
    )
    with LiveChat(settings, engine) as live:
        yield live


def _context(browser: Any, *, javascript: bool, width: int = 1024) -> Any:
    return browser.new_context(
        viewport={"width": width, "height": 800},
        locale="sv-SE",
        java_script_enabled=javascript,
    )


def _violations(page: Any) -> list[str]:
    """Run axe-core (injected through the test's own channel: the page's CSP stays strict)."""
    page.add_script_tag(content=AXE)
    result = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA
    )
    assert result["passes"], "axe-core checked nothing"
    return [
        f"{v['id']}: {v['help']} ({', '.join(n['html'][:80] for n in v['nodes'][:3])})"
        for v in result["violations"]
    ]


def _axe(browser: Any, url: str, check: Any) -> list[str]:
    """Return axe's findings on a page opened in a JS-enabled twin of a context's cookies."""
    context = browser.new_context(
        viewport={"width": 1024, "height": 800}, locale="sv-SE", bypass_csp=True
    )
    try:
        context.add_cookies(check.cookies())
        page = context.new_page()
        page.goto(url)
        return _violations(page)
    finally:
        context.close()


def _entries(page: Any) -> int:
    return int(page.locator("#log > li").count())


def _wait_for(condition: Callable[[], bool]) -> None:
    """Wait until a condition on the page holds (a new page loaded, or an event arrived)."""
    assert wait_until(condition, WAIT_MS / 1000), "the page did not get there"


def _wait_entries(page: Any, count: int) -> None:
    """Wait until the transcript shows at least `count` messages."""
    _wait_for(lambda: _entries(page) >= count)


@pytest.mark.parametrize("javascript", [False, True], ids=["without-js", "with-js"])
def test_every_state_of_the_chat_is_accessible(
    browser: Any, chat: LiveChat, engine: Engine, javascript: bool
) -> None:
    context = _context(browser, javascript=javascript)
    try:
        page = context.new_page()
        page.goto(chat.url + "/chatt")
        states = {"first page": _axe(browser, chat.url + "/chatt", context)}
        page.get_by_role("button", name="Svenska").click()
        page.wait_for_selector("#log li.msg.out")
        states["language choice"] = _axe(browser, chat.url + "/chatt", context)
        page.fill("#text", "Storåsa Bollklubb, 802455-0101")
        count = _entries(page)
        page.get_by_role("button", name="Skicka").click()
        _wait_entries(page, count + 2)
        page.fill("#text", "Hur söker vi bidrag för vår förening?")
        count = _entries(page)
        page.get_by_role("button", name="Skicka").click()
        _wait_entries(page, count + 2)
        with Session(engine) as session:
            reference = session.exec(select(Enquiry.reference)).one()
        assert reference is not None and reference in page.inner_text("#log")
        states["conversation"] = _axe(browser, chat.url + "/chatt", context)
        offered = page.locator("#log button[lang=ar]").count()
        page.get_by_role("button", name="Byt språk").click()
        _wait_for(lambda: page.locator("#log button[lang=ar]").count() > offered)
        page.locator("#log button[lang=ar]").last.click()
        page.wait_for_selector("html[dir=rtl]")
        states["right to left"] = _axe(browser, chat.url + "/chatt", context)
        states["an error"] = _axe(browser, chat.url + "/chatt/fortsatt/c0/0", context)
        states["accessibility statement"] = _axe(
            browser, chat.url + "/chatt/tillganglighet", context
        )
        states["privacy notice"] = _axe(browser, chat.url + "/chatt/integritet", context)
        assert {state: found for state, found in states.items() if found} == {}
        assert page.locator("#conversation").get_attribute("role") == "log"
        assert page.locator("#conversation").get_attribute("aria-live") == "polite"
    finally:
        context.close()


def test_a_whole_question_with_the_keyboard_only(browser: Any, chat: LiveChat) -> None:
    context = _context(browser, javascript=True)
    try:
        page = context.new_page()
        page.goto(chat.url + "/chatt")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        while page.evaluate("document.activeElement.getAttribute('value')") != "sv":
            page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        page.wait_for_selector("#log li.msg.out")
        page.keyboard.press("Tab")
        while page.evaluate("document.activeElement.id") != "text":
            page.keyboard.press("Tab")
        page.keyboard.type("Storåsa Bollklubb")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skicka"
        count = _entries(page)
        page.keyboard.press("Enter")
        _wait_entries(page, count + 2)
        assert page.evaluate("document.activeElement.id") == "text"  # ready for the question
        page.keyboard.type("Hur söker vi bidrag för vår förening?")
        page.keyboard.press("Tab")
        count = _entries(page)
        page.keyboard.press("Enter")
        _wait_entries(page, count + 2)
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"
        assert "Storåsa Bollklubb" in page.inner_text("#log")
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [False, True], ids=["without-js", "with-js"])
def test_no_horizontal_scroll_at_320_px(browser: Any, chat: LiveChat, javascript: bool) -> None:
    context = _context(browser, javascript=javascript, width=320)
    try:
        page = context.new_page()
        page.goto(chat.url + "/chatt")
        page.get_by_role("button", name="العربية").click()
        page.wait_for_selector("#log li.msg.out")
        scroll, width = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll <= width
    finally:
        context.close()
