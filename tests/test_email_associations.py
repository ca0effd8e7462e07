"""Associations write to one address: a mail becomes an enquiry through the one conversation,
routed by the really trained model; answers go back by e-mail in the same thread.

Real parts: the Rasa stack (trained model, action server), Lotsen's SMTP listener fed by
smtplib, the e-mail dispatcher sending to an aiosmtpd server on loopback, Dovecot for IMAP.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.channels.email.associations import AssociationMail
from bot.channels.email.department import DepartmentReplies
from bot.channels.email.imap import ImapPoller
from bot.channels.email.inbound import Inbound
from bot.channels.email.outbox import EmailDispatcher
from bot.services import Services, create_services
from bot.settings import Settings
from db.enquiries.notifications import Kind
from db.models import (
    Association,
    Enquiry,
    EnquiryEvent,
    EnquiryStatus,
    EventKind,
    InboundMail,
    OutboxMessage,
)
from db.people.identities import find_identity
from harness.imap import running_dovecot
from harness.mail_in import deliver, listening
from harness.ports import free_port
from harness.smtp import SmtpServer, body, smtp_server
from harness.wait import eventually

pytestmark = [pytest.mark.slow, pytest.mark.rasa]

INBOUND = "fragakommunen@storasa.example"
DEPARTMENT_MAILBOX = "foreningsservice@storasa.example"
QUESTION = "Hej! Hur söker vi aktivitetsstöd för vår förening i höst?"
ANSWER = "Hej! Ni söker aktivitetsstödet i e-tjänsten Föreningsbidrag senast den 15 september."
SIGNATURE = "Med vänliga hälsningar\nAnna Berg\nKultur- och fritidsförvaltningen"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mail_settings(rasa_stack: Settings, smtp: SmtpServer) -> Settings:
    """The stack's settings with e-mail both ways: out to `smtp`, in on a listener port."""
    return rasa_stack.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_starttls": False,
            "smtp_from": "Lotsen <lotsen@storasa.example>",
            "link_secret": SecretStr("test-link-secret"),
            "inbound_address": INBOUND,
            "inbound_smtp_port": free_port(),
        }
    )


@pytest_asyncio.fixture
async def services(mail_settings: Settings) -> AsyncIterator[Services]:
    """The bot's services on the stack's database, with e-mail both ways."""
    services = create_services(mail_settings)
    yield services
    await services.aclose()


def _inbound(services: Services) -> Inbound:
    settings = services.settings
    return Inbound(
        settings,
        services.engine,
        departments=DepartmentReplies(settings),
        associations=AssociationMail(services),
    )


def _mail(sender: str, text: str, subject: str = "Fråga om bidrag", **headers: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = INBOUND
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain="foreningen.example")
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(text)
    return mail


def _reply_to(
    original: EmailMessage, sender: str, text: str, to: str | None = None
) -> EmailMessage:
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = to or str(original["Reply-To"] or original["From"])
    reply["Subject"] = f"SV: {original['Subject']}"
    reply["Message-ID"] = make_msgid(domain="storasa.example")
    reply["In-Reply-To"] = str(original["Message-ID"])
    refs = str(original.get("References") or "")
    reply["References"] = f"{refs} {original['Message-ID']}".strip()
    quoted = "\n".join(f"> {line}" for line in body(original).splitlines())
    reply.set_content(
        f"{text}\n\n{SIGNATURE}\n\n"
        f"Den 7 dec. 2026 kl. 16:02 skrev Lotsen <lotsen@storasa.example>:\n{quoted}\n"
    )
    return reply


async def _handled(engine: Engine, *messages: EmailMessage) -> list[InboundMail]:
    """Wait until these mails are stored and handled; return their rows, in the same order."""
    keys = [str(message["Message-ID"]) for message in messages]

    def rows() -> list[InboundMail]:
        with Session(engine) as session:
            found = session.exec(select(InboundMail).where(col(InboundMail.key).in_(keys))).all()
            return sorted(found, key=lambda m: keys.index(m.key))

    assert await eventually(
        lambda: len(rows()) == len(keys) and all(m.state != "new" for m in rows()), 90
    ), [(m.key, m.state) for m in rows()]
    return rows()


def _text(message: EmailMessage) -> str:
    """Return a received mail's plain text with plain line breaks."""
    return body(message).replace("\r\n", "\n")


def _forward_of(smtp: SmtpServer, reference: str) -> EmailMessage:
    """Return the department's forward of one enquiry (other tests' mail may be in the box)."""
    [forward] = [m for m in smtp.inbox.to(DEPARTMENT_MAILBOX) if reference in str(m["Subject"])]
    return forward


async def _dispatch(settings: Settings, engine: Engine) -> None:
    dispatcher = EmailDispatcher(settings, engine)
    while await dispatcher.step():
        pass


async def test_a_mail_from_a_new_address_is_routed_answered_forwarded_and_the_reply_relayed(
    services: Services, mail_settings: Settings, smtp: SmtpServer
) -> None:
    engine = services.engine
    sender = "kassor@foreningen.example"
    first = _mail(f"Kassören <{sender}>", QUESTION)
    async with listening(_inbound(services)):
        await asyncio.to_thread(deliver, mail_settings, first, INBOUND)
        [mail] = await _handled(engine, first)
        assert mail.state == "done" and mail.enquiry_id is not None
        with Session(engine) as session:
            enquiry = session.get(Enquiry, mail.enquiry_id)
            assert enquiry is not None and enquiry.status == EnquiryStatus.FORWARDED
            identity = find_identity(session=session, channel="email", address=sender)
            assert identity is not None and identity.person_id == enquiry.user_id
            assert identity.conversation == first["Message-ID"]
        reference = str(enquiry.reference)
        await _dispatch(mail_settings, engine)

        # The department's forward, with the reply address.
        forward = _forward_of(smtp, reference)
        assert str(forward["Reply-To"]).startswith("svar+")
        # The association's answer: department, contact, reference, what happens next; threaded.
        answers = smtp.inbox.to(sender)
        routed = answers[0]
        assert routed["In-Reply-To"] == first["Message-ID"]
        assert first["Message-ID"] in str(routed["References"])
        assert reference in routed["Subject"] and "Fråga om bidrag" in routed["Subject"]
        assert routed["Auto-Submitted"] == "auto-generated"
        text = body(routed)
        for fact in (reference, "Kultur- och fritidsförvaltningen", DEPARTMENT_MAILBOX):
            assert fact in text, fact
        # The new address is asked for its association, by reply, and answers in the thread.
        [ask] = [m for m in answers if "förening" in _text(m).lower() and m is not routed]
        assert ask["In-Reply-To"] == first["Message-ID"]
        name = _reply_to(ask, sender, "Storåsa Kassörsförening", to=INBOUND)
        await asyncio.to_thread(deliver, mail_settings, name, INBOUND)
        [named] = await _handled(engine, name)
        assert (named.state, named.enquiry_id) == ("done", mail.enquiry_id)
        with Session(engine) as session:
            enquiry = session.get(Enquiry, mail.enquiry_id)
            assert enquiry is not None and enquiry.association_id is not None
            association = session.get(Association, enquiry.association_id)
            assert association is not None and association.name == "Storåsa Kassörsförening"
            follow_ups = session.exec(
                select(EnquiryEvent).where(
                    EnquiryEvent.enquiry_id == enquiry.id, EnquiryEvent.kind == EventKind.FOLLOW_UP
                )
            ).all()
            assert follow_ups == []  # the name is not a follow-up

        # The clerk replies, quoting the forward, with a signature.
        clerk = _reply_to(forward, f"Anna Berg <{DEPARTMENT_MAILBOX}>", ANSWER)
        await asyncio.to_thread(deliver, mail_settings, clerk, str(forward["Reply-To"]))
        await _handled(engine, clerk)
        await _dispatch(mail_settings, engine)
    with Session(engine) as session:
        answered = session.get(Enquiry, mail.enquiry_id)
        assert answered is not None and answered.status == EnquiryStatus.ANSWERED
        assert answered.answer_text == ANSWER
    relayed = smtp.inbox.to(sender)[-1]
    assert f"\n{ANSWER}\n" in _text(relayed)
    assert SIGNATURE.splitlines()[1] not in _text(relayed) and "> " not in _text(relayed)
    # In the association's thread: answering its latest mail, under the first one.
    assert relayed["In-Reply-To"] == name["Message-ID"]
    assert str(relayed["References"]).split()[0] == first["Message-ID"]
    assert relayed["Subject"] == routed["Subject"] and reference in relayed["Subject"]


async def test_a_second_mail_in_the_thread_adds_to_the_enquiry_and_an_out_of_office_is_ignored(
    services: Services, mail_settings: Settings, smtp: SmtpServer
) -> None:
    engine = services.engine
    sender = "ordforande@idrottsklubben.example"
    first = _mail(sender, f"{QUESTION}\n\nFörening: Storåsa Idrottsklubb", subject="Aktivitetsstöd")
    async with listening(_inbound(services)):
        await asyncio.to_thread(deliver, mail_settings, first, INBOUND)
        [mail] = await _handled(engine, first)
        await _dispatch(mail_settings, engine)
        [answer] = smtp.inbox.to(sender)  # the association was named: not asked for it
        with Session(engine) as session:
            named = session.get(Enquiry, mail.enquiry_id)
            assert named is not None and named.association_id is not None
            association = session.get(Association, named.association_id)
            assert association is not None and association.name == "Storåsa Idrottsklubb"
            asked = session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.kind == Kind.ASK_ASSOCIATION,
                    OutboxMessage.recipient_id == named.user_id,
                )
            ).all()
            assert asked == []
        more = _reply_to(answer, sender, "Vi är 45 medlemmar, varav 30 under 20 år.", to=INBOUND)
        away = _mail(
            sender,
            "Jag är på semester till måndag.",
            subject=f"Automatiskt svar: {answer['Subject']}",
            Auto_Submitted="auto-replied",
            In_Reply_To=str(answer["Message-ID"]),
        )
        for message in (more, away):
            await asyncio.to_thread(deliver, mail_settings, message, INBOUND)
        added, ignored = await _handled(engine, more, away)
    assert (added.state, added.enquiry_id) == ("done", mail.enquiry_id)
    assert (ignored.state, ignored.reason) == ("ignored", "auto_submitted")
    with Session(engine) as session:
        enquiry = session.get(Enquiry, mail.enquiry_id)
        assert enquiry is not None
        mine = session.exec(select(Enquiry).where(Enquiry.user_id == enquiry.user_id)).all()
        assert len(mine) == 1  # the second mail made no new enquiry
        [event] = session.exec(
            select(EnquiryEvent).where(
                EnquiryEvent.enquiry_id == mail.enquiry_id, EnquiryEvent.kind == EventKind.FOLLOW_UP
            )
        ).all()
        assert "45 medlemmar" in event.detail["text"]
        told = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.kind == Kind.FOLLOW_UP, OutboxMessage.enquiry_id == mail.enquiry_id
            )
        ).all()
        assert told  # the department that has it is told


async def test_the_same_flow_over_imap_against_dovecot(
    services: Services, mail_settings: Settings, smtp: SmtpServer
) -> None:
    engine = services.engine
    sender = "sekreterare@korforeningen.example"
    with running_dovecot() as dovecot:
        settings = mail_settings.model_copy(
            update={
                "imap_host": "127.0.0.1",
                "imap_port": dovecot.port,
                "imap_ssl": False,
                "imap_user": dovecot.user,
                "imap_password": SecretStr(dovecot.password),
                "inbound_smtp_port": None,
            }
        )
        inbound = Inbound(
            settings,
            engine,
            departments=DepartmentReplies(settings),
            associations=AssociationMail(services),
        )
        poller = ImapPoller(inbound)
        first = _mail(sender, QUESTION, subject="Bidrag till körresa")
        dovecot.deliver(first.as_bytes())
        assert await poller.step() == 1
        await _dispatch(settings, engine)
        answer = smtp.inbox.to(sender)[0]
        with Session(engine) as session:
            stored = session.exec(
                select(InboundMail).where(InboundMail.key == first["Message-ID"])
            ).one()
            enquiry = session.get(Enquiry, stored.enquiry_id)
            assert enquiry is not None and enquiry.reference
        forward = _forward_of(smtp, enquiry.reference)
        assert answer["In-Reply-To"] == first["Message-ID"]
        clerk = _reply_to(forward, f"Anna Berg <{DEPARTMENT_MAILBOX}>", ANSWER)
        clerk.replace_header("To", str(forward["Reply-To"]))
        dovecot.deliver(clerk.as_bytes())
        more = _reply_to(answer, sender, "Vi reser i maj.", to=INBOUND)
        dovecot.deliver(more.as_bytes())
        assert await poller.step() == 2
        assert dovecot.unseen() == 0
        await _dispatch(settings, engine)
    with Session(engine) as session:
        rows = {
            m.key: m
            for m in session.exec(select(InboundMail).where(InboundMail.source == "imap")).all()
        }
        enquiry_id = rows[first["Message-ID"]].enquiry_id
        assert rows[more["Message-ID"]].enquiry_id == enquiry_id
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None and enquiry.answer_text == ANSWER
    assert any(f"\n{ANSWER}\n" in _text(m) for m in smtp.inbox.to(sender))
