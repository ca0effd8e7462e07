"""End to end: a department without Telegram answers through e-mail and the desk alone.

The real stack (Rasa, the action server, the bot against the fake Telegram server), a real SMTP
server on loopback, the e-mail dispatcher, the desk, and headless Chromium as the clerk.
With LOTSEN_SCREENSHOTS=DIR the clerk's path is saved as pictures (README's come from here).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from email.message import EmailMessage
from html import escape
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.channels.desk.app import start_desk
from bot.channels.email.outbox import EmailDispatcher
from db.models import Department, DeskLoginToken, Enquiry, EnquiryStatus, OutboxMessage
from db.plumbing.session import session_scope
from harness.ports import free_port
from harness.smtp import SmtpServer, body, smtp_server
from harness.telegram import TIMEOUT, Harness, has, new_user_id
from harness.wait import eventually

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
MAILBOX = "foreningsservice@storasa.example"
QUESTION = "Hur söker vår förening aktivitetsstöd för höstterminen?"
ANSWER = "Ni söker aktivitetsstöd i e-tjänsten senast 25 augusti. Bifoga närvarolistorna."
SHOTS = os.environ.get("LOTSEN_SCREENSHOTS")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)


@pytest.fixture
def email_only(harness: Harness) -> Iterator[None]:
    """Make kultur_fritid take enquiries by e-mail only, without a Telegram group."""
    with session_scope(harness.engine) as session:
        department = session.exec(select(Department).where(Department.key == "kultur_fritid")).one()
        before = (department.channels, department.group_chat, department.mailbox)
        department.channels, department.group_chat = "email", None
    try:
        yield
    finally:
        with session_scope(harness.engine) as session:
            department = session.exec(
                select(Department).where(Department.key == "kultur_fritid")
            ).one()
            department.channels, department.group_chat, department.mailbox = before


async def _mail_to(smtp: SmtpServer, address: str, needle: str) -> EmailMessage:
    """Wait for the mail to an address whose subject names `needle`; return it."""

    def found() -> list[EmailMessage]:
        return [mail for mail in smtp.inbox.to(address) if needle in mail["Subject"]]

    if not await eventually(lambda: bool(found()), TIMEOUT):
        raise AssertionError(f"no mail to {address} about {needle}: {smtp.inbox.received}")
    return found()[0]


async def _ask_as_new_association(h: Harness) -> tuple[int, str]:
    """Onboard a new association user in Swedish, ask the question; return user and reference."""
    user = new_user_id()
    start = h.fake.command(user, "/start")
    welcome = await h.message_to(user, has("Storåsa kommun"))
    await h.processed(start)
    mark = h.mark()
    h.fake.callback(user, "lang:sv", message_id=welcome["message_id"])
    await h.message_to(user, has("Vilken förening"), after=mark)
    mark = h.mark()
    h.fake.user_message(user, "IF Storåsa Bandy, 802400-1234")
    await h.message_to(user, has("IF Storåsa Bandy"), after=mark)
    mark = h.mark()
    h.fake.user_message(user, QUESTION)
    reply = await h.message_to(user, has("LOT-"), after=mark)
    assert "Kultur- och fritidsförvaltningen" in reply["text"]
    found = re.search(r"LOT-\d{4}-\d{5}", reply["text"])
    assert found is not None
    return user, found.group(0)


def _status(h: Harness, reference: str) -> str:
    with Session(h.engine) as session:
        enquiry = session.exec(select(Enquiry).where(Enquiry.reference == reference)).one()
        return enquiry.status


async def _shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SHOTS) / name))


def _as_read(mail: EmailMessage) -> str:
    """Return the mail's HTML with its headers on top, as a mail program shows it."""
    rows = "".join(
        f"<b>{label}:</b> {escape(str(mail[header]))}<br>"
        for label, header in (
            ("Från", "From"),
            ("Till", "To"),
            ("Svar till", "Reply-To"),
            ("Ämne", "Subject"),
        )
    )
    head = (
        '<div style="font-family:sans-serif;background:#f3f6f9;padding:.75em;'
        f'margin:-8px -8px 1em;border-bottom:1px solid #c9d1d9">{rows}</div>'
    )
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + head, body(mail, "html"), count=1)


async def test_a_question_is_answered_by_email_and_the_desk_alone(
    harness: Harness, email_only: None
) -> None:
    from playwright.async_api import async_playwright

    h = harness
    with smtp_server() as smtp:
        port = free_port()
        settings = smtp.settings(
            h.settings.database_url, desk_base_url=f"http://127.0.0.1:{port}", web_port=port
        )
        desk = await start_desk(settings, h.engine)
        stop = asyncio.Event()
        mailer = asyncio.get_running_loop().create_task(
            EmailDispatcher(settings, h.engine).run(stop, interval=0.2)
        )
        try:
            user, reference = await _ask_as_new_association(h)
            mail = await _mail_to(smtp, MAILBOX, reference)
            text = body(mail)
            assert QUESTION in text and "IF Storåsa Bandy" in text
            assert mail["Reply-To"] == MAILBOX
            link = re.search(r"http://127\.0\.0\.1:\d+/desk/link\?token=\S+", text)
            assert link is not None
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000
                )
                try:
                    await _clerk_answers(browser, h, mail, link.group(0), reference)
                    page = await browser.new_page(locale="sv-SE")
                    await page.goto(link.group(0))
                    assert "Ärendet är redan besvarat" in await page.locator("main").inner_text()
                finally:
                    await browser.close()
            answer = await h.message_to(user, has(ANSWER))
            assert reference in answer["text"] and "Hjälpte svaret?" in answer["text"]
        finally:
            stop.set()
            await mailer
            await desk.cleanup()
    with Session(h.engine) as session:
        # The stack's database is shared by the session's tests: look at this enquiry's rows.
        enquiry = session.exec(select(Enquiry).where(Enquiry.reference == reference)).one()
        tokens = session.exec(
            select(DeskLoginToken).where(DeskLoginToken.enquiry_id == enquiry.id)
        ).all()
        forward = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.kind == "forward",
                OutboxMessage.channel == "email",
                OutboxMessage.enquiry_id == enquiry.id,
            )
        ).all()
    assert [t.used_at is not None for t in tokens] == [True]
    assert len(forward) == 1 and forward[0].address == MAILBOX
    assert len(smtp.inbox.to(MAILBOX)) == 1  # sent once


async def _clerk_answers(
    browser: Any, h: Harness, mail: EmailMessage, link: str, reference: str
) -> None:
    """Open the link as the clerk, try two bad answers, then answer."""
    page = await browser.new_page(viewport={"width": 1024, "height": 800}, locale="sv-SE")
    await page.set_content(_as_read(mail))
    await _shot(page, "clerk-1-email.png")
    await page.goto(link)
    assert reference in await page.locator("h1").inner_text()
    await page.goto(link)  # opening it again (a mail filter's scanner) spends nothing
    await page.get_by_role("button", name="Öppna ärendet").click()
    await page.wait_for_url(re.compile(rf".*/desk/inbox/{reference}$"))
    main = await page.locator("main").inner_text()
    assert QUESTION in main and "IF Storåsa Bandy" in main and "arbetstimmar kvar" in main
    await _shot(page, "clerk-2-enquiry.png")

    for bad, says in (("", "Svaret är tomt"), ("x" * 10_000, "10000")):
        await page.locator("#answer-text").fill(bad)
        await page.locator("#send-answer").click()
        assert says in await page.locator("#err-answer").inner_text()
        assert _status(h, reference) == EnquiryStatus.FORWARDED
    await page.locator("#answer-text").fill(ANSWER)
    await page.locator("#send-answer").click()
    await page.wait_for_url(re.compile(r".*done=answer.*"))
    assert "Svaret är skickat" in await page.locator("#done").inner_text()
    assert ANSWER in await page.locator("#answer").inner_text()
    await _shot(page, "clerk-3-answered.png")
    assert _status(h, reference) == EnquiryStatus.ANSWERED
    await page.close()
