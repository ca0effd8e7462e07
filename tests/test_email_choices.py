"""Choices by reply: an association answers a question with choices by replying with one.

The confirmation between two departments is asked by the real action server (rasa-sdk's
CollectingDispatcher, real database, both backends), sent by the e-mail dispatcher to an
aiosmtpd server on loopback; the association's replies reach Lotsen's SMTP listener over
smtplib, as from a mail gateway.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.actions.enquiry import ActionHandleEnquiry
from bot.channels.email.associations import AssociationMail
from bot.channels.email.department import DepartmentReplies
from bot.channels.email.inbound import Inbound
from bot.channels.email.outbox import EmailDispatcher
from bot.services import Services, create_services
from bot.settings import Settings
from db.models import Enquiry, EnquiryEvent, EnquiryStatus, InboundMail, OutboxMessage, utcnow
from db.people import departments
from harness.desk import COORDINATOR_ID, Clock, add_staff, desk_client, sign_in
from harness.mail_in import deliver, listening
from harness.ports import free_port
from harness.smtp import SmtpServer, body, smtp_server
from harness.wait import eventually
from tests.test_referral import UNSURE, UNSURE_QUESTION, _context, _tracker

INBOUND = "fragakommunen@storasa.example"
SENDER = "kassor@foreningen.example"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


async def _confirming(engine: Engine) -> int:
    """Let the action server ask an e-mail writer to choose; return the enquiry's id."""
    tracker = _tracker(UNSURE_QUESTION, UNSURE, key="email:choices:1", channel="email")
    metadata = tracker.latest_message["metadata"]
    metadata.update(address=SENDER, conversation="<first@foreningen.example>")
    dispatcher = CollectingDispatcher()
    await ActionHandleEnquiry(_context(engine)).run(dispatcher, tracker, {})
    enquiry_id = dispatcher.messages[-1]["custom"]["lotsen"]["enquiry_id"]
    assert isinstance(enquiry_id, int)
    return enquiry_id


def _inbound(settings: Settings, engine: Engine, services: Services) -> Inbound:
    """Return the inbound handler the bot runs (replies of clerks, mail of associations)."""
    return Inbound(
        settings,
        engine,
        departments=DepartmentReplies(settings),
        associations=AssociationMail(services),
    )


async def _send_all(settings: Settings, engine: Engine) -> None:
    dispatcher = EmailDispatcher(settings, engine)
    while await dispatcher.step():
        pass


def _reply(to: EmailMessage, text: str) -> EmailMessage:
    reply = EmailMessage()
    reply["From"] = SENDER
    reply["To"] = INBOUND
    reply["Subject"] = f"Re: {to['Subject']}"
    reply["Message-ID"] = make_msgid(domain="foreningen.example")
    reply["In-Reply-To"] = str(to["Message-ID"])
    reply["References"] = f"{to.get('References') or ''} {to['Message-ID']}".strip()
    quoted = "\n".join(f"> {line}" for line in body(to).splitlines())
    reply.set_content(f"{text}\n\nDen 7 dec. 2026 kl. 16:02 skrev Lotsen:\n{quoted}\n")
    return reply


async def _handled(engine: Engine, message: EmailMessage) -> InboundMail:
    key = str(message["Message-ID"])

    def row() -> InboundMail | None:
        with Session(engine) as session:
            return session.exec(select(InboundMail).where(InboundMail.key == key)).first()

    assert await eventually(lambda: (found := row()) is not None and found.state != "new", 30)
    found = row()
    assert found is not None
    return found


def _state(engine: Engine, enquiry_id: int) -> tuple[Enquiry, list[str], int]:
    """Return the enquiry, its history's kinds and how many rows the outbox holds."""
    with Session(engine) as session:
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None
        events = session.exec(
            select(EnquiryEvent.kind)
            .where(EnquiryEvent.enquiry_id == enquiry_id)
            .order_by(col(EnquiryEvent.id))
        ).all()
        rows = session.exec(select(OutboxMessage)).all()
        return enquiry, [str(kind) for kind in events], len(rows)


async def test_a_confirmation_is_chosen_by_replying_its_number_and_nonsense_is_asked_again(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    settings = smtp.settings(database_url, inbound_address=INBOUND, inbound_smtp_port=free_port())
    enquiry_id = await _confirming(engine)
    await _send_all(settings, engine)
    [question] = smtp.inbox.to(SENDER)
    text = body(question)
    assert "Svara med ett av alternativen (eller dess nummer):" in text
    assert "\n1. Kultur- och fritidsförvaltningen\n2. Tekniska förvaltningen\n3. Något annat" in (
        text.replace("\r\n", "\n")
    )
    before = _state(engine, enquiry_id)
    assert before[0].status == EnquiryStatus.CONFIRMING

    services = create_services(settings)
    inbound = _inbound(settings, engine, services)
    try:
        async with listening(inbound):
            unknown = _reply(question, "Kanske båda?")
            await asyncio.to_thread(deliver, settings, unknown, INBOUND)
            assert (await _handled(engine, unknown)).state == "done"
            after_unknown = _state(engine, enquiry_id)
            # Nothing changed: still waiting for the choice, no history, no forward.
            assert after_unknown[0].status == EnquiryStatus.CONFIRMING
            assert after_unknown[0].department_id is None
            assert after_unknown[1] == before[1]
            assert after_unknown[2] == before[2] + 1  # only the question again
            await _send_all(settings, engine)
            [_, again] = smtp.inbox.to(SENDER)
            again_text = body(again).replace("\r\n", "\n")
            assert again_text.startswith("Jag förstod inte vilket alternativ du menade.")
            assert "2. Tekniska förvaltningen" in again_text
            assert again["In-Reply-To"] == unknown["Message-ID"]  # in the thread

            chosen = _reply(again, "2")
            await asyncio.to_thread(deliver, settings, chosen, INBOUND)
            assert (await _handled(engine, chosen)).state == "done"
    finally:
        await services.aclose()
    enquiry, kinds, _ = _state(engine, enquiry_id)
    assert enquiry.status in (EnquiryStatus.ROUTED, EnquiryStatus.FORWARDED)
    with Session(engine) as session:
        teknik = departments.department_by_key(session=session, key="teknik")
        assert teknik is not None and enquiry.department_id == teknik.id
    # not a follow-up; forwarded to teknik by e-mail (no Telegram group, SMTP configured)
    assert kinds[len(before[1]) :] == ["chosen", "routed", "forwarded"]
    await _send_all(settings, engine)
    routed = body(smtp.inbox.to(SENDER)[-1])
    assert "Tekniska förvaltningen" in routed and "gatapark@storasa.example" in routed


async def test_a_follow_up_on_an_escalated_enquiry_reaches_the_coordinators_by_mail_too(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    settings = smtp.settings(
        database_url,
        inbound_address=INBOUND,
        inbound_smtp_port=free_port(),
        coordinator_email="samordnare@storasa.example",
    )
    tracker = _tracker(
        "Vi undrar över något helt annat.", [("greet", 0.2)], key="email:esc:1", channel="email"
    )
    tracker.latest_message["metadata"].update(
        address=SENDER, conversation="<esc@foreningen.example>"
    )
    dispatcher = CollectingDispatcher()
    await ActionHandleEnquiry(_context(engine)).run(dispatcher, tracker, {})
    enquiry_id = dispatcher.messages[-1]["custom"]["lotsen"]["enquiry_id"]
    with Session(engine) as session:
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None and enquiry.status == EnquiryStatus.ESCALATED
        reference = enquiry.reference
    assert reference is not None
    await _send_all(settings, engine)
    [escalated] = smtp.inbox.to(SENDER)
    coordinators_before = len(smtp.inbox.to("samordnare@storasa.example"))

    services = create_services(settings)
    inbound = _inbound(settings, engine, services)
    more = "Vi glömde säga att det gäller vår sommarläger i juli.\nTack!"
    try:
        async with listening(inbound):
            mail = _reply(escalated, more)
            await asyncio.to_thread(deliver, settings, mail, INBOUND)
            assert (await _handled(engine, mail)).state == "done"
    finally:
        await services.aclose()
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.kind == "follow_up", OutboxMessage.enquiry_id == enquiry_id
            )
        ).all()
    assert sorted(str(row.channel) for row in rows) == ["email", "telegram"]
    assert {str(row.recipient) for row in rows} == {"coordinators"}
    await _send_all(settings, engine)
    to_coordinators = smtp.inbox.to("samordnare@storasa.example")
    assert len(to_coordinators) == coordinators_before + 1
    told = to_coordinators[-1]
    assert str(told["Subject"]) == f"Föreningen har skrivit mer: {reference}"
    text = body(told).replace("\r\n", "\n")
    assert f"Föreningen har skrivit mer om ärende {reference}:" in text
    assert "sommarläger i juli" in text
    assert "Ärendet väntar i samordnarens kö." in text
    assert f"/desk/enquiries/{reference}" in text
    assert not str(told["Reply-To"] or "").startswith("svar+")  # they answer in the desk


async def test_the_desk_shows_the_channel_and_the_mail_thread(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    await test_a_follow_up_on_an_escalated_enquiry_reaches_the_coordinators_by_mail_too(
        engine, database_url, smtp
    )
    chat = await _ask_telegram(engine)
    with Session(engine) as session:
        mailed = session.exec(
            select(Enquiry).where(col(Enquiry.message_key).startswith("email:"))
        ).one()
        [follow_up] = session.exec(
            select(InboundMail).where(InboundMail.enquiry_id == mailed.id)
        ).all()
    add_staff(engine)
    now = utcnow()
    async with desk_client(engine, Clock(now)) as desk:
        await sign_in(desk, engine, COORDINATOR_ID, now)
        response = await desk.get(f"/desk/enquiries/{mailed.reference}")
        assert response.status == 200
        page = await response.text()
        other = await (await desk.get(f"/desk/enquiries/{chat}")).text()
    assert re.search(r"Kanal.*?</dt><dd>.*?E-post", page, re.S)
    thread = page[page.index('id="mail"') :].split("</table>")[0]
    rows = re.findall(r'<tr class="(in|out)">(.*?)</tr>', thread, re.S)
    # Lotsen's answer went out, the association's follow-up came in, its receipt went out.
    assert [direction for direction, _ in rows] == ["out", "in", "out"]
    assert "Lotsen, till föreningen" in rows[0][1] and "skickat" in rows[0][1]
    assert SENDER in rows[1][1] and "hanterat" in rows[1][1]
    assert follow_up.subject and follow_up.subject.startswith("Re: ")
    assert follow_up.subject in rows[1][1]
    assert "skickat" in rows[2][1]
    assert re.search(r"Kanal.*?</dt><dd>.*?Telegram", other, re.S)
    assert 'id="mail"' not in other  # no thread for a chat


async def _ask_telegram(engine: Engine) -> str:
    """Let the action server take a Telegram question; return its reference."""
    dispatcher = CollectingDispatcher()
    tracker = _tracker(UNSURE_QUESTION, [("greet", 0.2)], key="tg:4242:9")
    await ActionHandleEnquiry(_context(engine)).run(dispatcher, tracker, {})
    with Session(engine) as session:
        enquiry = session.get(Enquiry, dispatcher.messages[-1]["custom"]["lotsen"]["enquiry_id"])
        assert enquiry is not None and enquiry.reference is not None
        return enquiry.reference
