"""E-mail in: replies to forwards become answers; noise, bad mail and floods change nothing.

Against real servers on loopback: Lotsen's SMTP listener (fed by smtplib, as a mail gateway
would), Debian's Dovecot for the IMAP poller, and aiosmtpd as the outgoing mail server.
"""

from __future__ import annotations

import asyncio
import imaplib
import smtplib
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.channels.email.department import DepartmentReplies, answer_text
from bot.channels.email.imap import ImapPoller
from bot.channels.email.inbound import Inbound
from bot.channels.email.outbox import EmailDispatcher
from bot.channels.email.parse import Incoming
from bot.channels.email.reply_address import BadToken, read_reply_address, reply_address
from bot.ratelimit import DatabaseRateLimiter
from bot.settings import Settings
from db.enquiries import (
    lifecycle,
)
from db.enquiries.notifications import Kind, Recipient
from db.models import (
    AssociationUser,
    Enquiry,
    EnquiryStatus,
    InboundMail,
    InboundMailState,
    OutboxMessage,
    utcnow,
)
from db.people import departments
from db.people.limits import Limit
from db.plumbing.session import session_scope
from db.records import inbound_mail
from harness.imap import ImapServer, running_dovecot
from harness.mail_in import deliver, listening
from harness.ports import free_port
from harness.smtp import SmtpServer, body, smtp_server
from harness.wait import eventually
from harness.workflow import routed_enquiry

INBOUND = "fragakommunen@storasa.example"
MAILBOX = "kultur@storasa.example"
ANSWER = (
    "Hej!\n\nNi kan söka aktivitetsstöd för hösten senast den 15 september i e-tjänsten "
    "Föreningsbidrag. Bifoga verksamhetsberättelsen."
)
SIGNATURE = "Med vänliga hälsningar\nAnna Berg\nKultur- och fritidsförvaltningen\n08-123 45 67"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """Yield the outgoing mail server (where Lotsen's mail arrives)."""
    with smtp_server() as server:
        yield server


def _settings(smtp: SmtpServer, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "inbound_address": INBOUND,
        "inbound_smtp_port": free_port(),
        **overrides,
    }
    return smtp.settings(database_url, **values)


def _forwarded(engine: Engine) -> int:
    """Route an enquiry to kultur_fritid, which takes e-mail at MAILBOX; forward it now."""
    now = utcnow()
    with session_scope(engine) as session:
        department = departments.department_by_key(session=session, key="kultur_fritid")
        assert department is not None
        department.channels, department.mailbox = "email", MAILBOX
        enquiry = routed_enquiry(session, now=now, department_chat=None)
        lifecycle.forwarded(session=session, enquiry=enquiry, department=department, now=now)
        assert enquiry.id is not None
        return enquiry.id


async def _forward_mail(settings: Settings, engine: Engine, smtp: SmtpServer) -> EmailMessage:
    assert await EmailDispatcher(settings, engine).step() >= 1
    [forward] = smtp.inbox.to(MAILBOX)
    return forward


async def _forwarded_by_mail(
    engine: Engine, database_url: str, smtp: SmtpServer, **overrides: Any
) -> tuple[Settings, int, EmailMessage]:
    """Forward an enquiry by e-mail with e-mail in switched on; return the settings, the
    enquiry's id and the forward as the department's mailbox received it."""
    settings = _settings(smtp, database_url, **overrides)
    enquiry_id = _forwarded(engine)
    return settings, enquiry_id, await _forward_mail(settings, engine, smtp)


def _reply(
    forward: EmailMessage,
    text: str,
    *,
    sender: str = f"Anna Berg <{MAILBOX}>",
    to: str | None = None,
    **headers: str,
) -> EmailMessage:
    """Return a clerk's reply to the forward: their text, signature, the forward quoted below."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = to or str(forward["Reply-To"])
    reply["Subject"] = f"SV: {forward['Subject']}"
    reply["Message-ID"] = make_msgid(domain="storasa.example")
    reply["In-Reply-To"] = str(forward["Message-ID"])
    reply["References"] = str(forward["Message-ID"])
    for name, value in headers.items():
        reply[name.replace("_", "-")] = value
    quoted = "\n".join(f"> {line}" for line in body(forward).splitlines())
    reply.set_content(
        f"{text}\n\n{SIGNATURE}\n\n"
        f"Den 7 dec. 2026 kl. 09:00 skrev Lotsen <lotsen@storasa.example>:\n{quoted}\n"
    )
    return reply


def _inbound(settings: Settings, engine: Engine, **options: Any) -> Inbound:
    return Inbound(settings, engine, departments=DepartmentReplies(settings), **options)


def _mails(engine: Engine) -> list[InboundMail]:
    with Session(engine) as session:
        return list(session.exec(select(InboundMail).order_by(col(InboundMail.id))).all())


async def _handled(engine: Engine, count: int = 1) -> list[InboundMail]:
    def done() -> bool:
        mails = _mails(engine)
        return len(mails) >= count and all(m.state != InboundMailState.NEW for m in mails)

    assert await eventually(done, 20)
    return _mails(engine)


def _rows(engine: Engine, **where: object) -> list[OutboxMessage]:
    with Session(engine) as session:
        query = select(OutboxMessage).order_by(col(OutboxMessage.id))
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(session.exec(query).all())


def _enquiry(engine: Engine, enquiry_id: int) -> Enquiry:
    with Session(engine) as session:
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None
        return enquiry


# --- departments answer by replying --------------------------------------------------------


async def test_a_clerks_reply_over_smtp_becomes_the_answer_without_quote_or_signature(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    settings, enquiry_id, forward = await _forwarded_by_mail(engine, database_url, smtp)
    reply_to = str(forward["Reply-To"])
    assert reply_to.startswith("svar+") and reply_to.endswith("@storasa.example")
    assert forward["Auto-Submitted"] == "auto-generated"
    assert forward["X-Auto-Response-Suppress"] == "All"
    assert "går ditt svar till föreningen" in body(forward)

    async with listening(_inbound(settings, engine)):
        await asyncio.to_thread(deliver, settings, _reply(forward, ANSWER), reply_to)
        [mail] = await _handled(engine)
    assert (mail.state, mail.source, mail.enquiry_id) == ("done", "smtp", enquiry_id)
    enquiry = _enquiry(engine, enquiry_id)
    assert enquiry.status == EnquiryStatus.ANSWERED
    assert enquiry.answer_text == ANSWER  # exactly the clerk's words
    assert enquiry.answered_by == f"email:{MAILBOX}"
    [answer] = _rows(engine, kind=Kind.ANSWER)
    assert (answer.recipient, answer.enquiry_id) == (Recipient.ASSOCIATION, enquiry_id)
    assert answer.params.get("department") == "kultur_fritid"  # logged like a desk answer


async def test_the_same_reply_delivered_twice_answers_once(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    settings, _, forward = await _forwarded_by_mail(engine, database_url, smtp)
    reply = _reply(forward, ANSWER)
    inbound = _inbound(settings, engine)
    # The mail is committed, then the process dies before handling it (and before the
    # gateway hears 250, so the gateway delivers it again).
    first = await asyncio.to_thread(inbound.store, reply.as_bytes(), "smtp", [forward["Reply-To"]])
    async with listening(inbound):  # the restarted listener recovers the stored mail first
        await asyncio.to_thread(deliver, settings, reply, str(forward["Reply-To"]))
        [mail] = await _handled(engine)
    assert mail.id == first and mail.state == "done"
    assert len(_rows(engine, kind=Kind.ANSWER)) == 1


async def test_a_reply_from_a_foreign_address_is_held_then_released_by_the_coordinator(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    settings, enquiry_id, forward = await _forwarded_by_mail(engine, database_url, smtp)
    inbound = _inbound(settings, engine)
    reply = _reply(forward, ANSWER, sender="Someone <someone@elsewhere.example>")
    async with listening(inbound):
        await asyncio.to_thread(deliver, settings, reply, str(forward["Reply-To"]))
        [mail] = await _handled(engine)
    assert (mail.state, mail.reason) == ("held", "foreign_sender")
    assert _enquiry(engine, enquiry_id).status == EnquiryStatus.FORWARDED
    assert not _rows(engine, kind=Kind.ANSWER)
    held = _rows(engine, kind=Kind.MAIL_HELD)
    assert {row.channel for row in held} == {"telegram", "email"}
    assert held[0].params["sender"] == "someone@elsewhere.example"

    with session_scope(engine) as session:
        assert [m.id for m in inbound_mail.waiting(session=session)] == [mail.id]
        inbound_mail.release(session=session, mail_id=mail.id or 0, actor="samordnare")
    assert mail.id is not None
    handled = await inbound.handle(mail.id)
    assert handled.state == "done"
    assert _enquiry(engine, enquiry_id).answer_text == ANSWER


@pytest.mark.parametrize("change", ["tampered", "expired", "other_enquiry"])
async def test_a_changed_or_expired_reply_address_is_refused_politely(
    engine: Engine, database_url: str, smtp: SmtpServer, change: str
) -> None:
    settings, enquiry_id, forward = await _forwarded_by_mail(engine, database_url, smtp)
    good = str(forward["Reply-To"])
    if change == "tampered":
        to = good.replace("svar+", "svar+9")
    elif change == "expired":
        to = str(
            reply_address(
                settings,
                enquiry_id=enquiry_id,
                department_id=int(good.split("-")[1]),
                now=utcnow() - timedelta(days=91),
            )
        )
    else:
        local, _, domain = good.partition("@")
        parts = local.split("-")
        to = "-".join([parts[0].replace(str(enquiry_id), str(enquiry_id + 1)), *parts[1:]])
        to = f"{to}@{domain}"
    async with listening(_inbound(settings, engine)):
        await asyncio.to_thread(deliver, settings, _reply(forward, ANSWER, to=to), to)
        [mail] = await _handled(engine)
    reason = "expired" if change == "expired" else "bad_token"
    assert (mail.state, mail.reason) == ("refused", reason)
    assert _enquiry(engine, enquiry_id).status == EnquiryStatus.FORWARDED
    assert not _rows(engine, kind=Kind.ANSWER)
    # The clerk is told why, by e-mail, with Lotsen's no-auto-reply headers.
    [refusal] = _rows(engine, kind=Kind.MAIL_REFUSED)
    assert refusal.params["to"] == MAILBOX and refusal.params["reason"] == reason
    assert await EmailDispatcher(settings, engine).step() == 1
    [told] = smtp.inbox.to(MAILBOX)[1:]
    assert "har inte skickats vidare" in body(told)
    assert told["Auto-Submitted"] == "auto-generated"


def test_reply_addresses_are_signed_and_expire(settings: Settings) -> None:
    settings = settings.model_copy(update={"inbound_address": INBOUND})
    now = utcnow()
    address = reply_address(settings, enquiry_id=12, department_id=3, now=now)
    assert address is not None and address.endswith("@storasa.example")
    token = read_reply_address(settings, address.upper(), now=now)  # case folded on the way
    assert (token.enquiry_id, token.department_id) == (12, 3)
    for bad in (address.replace("12-3", "13-3"), address.replace("svar+", "svar+x"), "svar+1@x"):
        with pytest.raises(BadToken) as refused:
            read_reply_address(settings, bad, now=now)
        assert refused.value.reason == "bad_token"
    with pytest.raises(BadToken) as late:
        read_reply_address(settings, address, now=now + timedelta(days=91))
    assert late.value.reason == "expired"
    other = settings.model_copy(update={"link_secret": SecretStr("another installation")})
    assert reply_address(other, enquiry_id=12, department_id=3, now=now) != address


@pytest.mark.parametrize(
    "text",
    [
        f"{ANSWER}\n\n{SIGNATURE}\n\nDen 7 dec. 2026 kl. 09:00 skrev Lotsen <l@s.se>:\n> Fråga",
        f"{ANSWER}\n\n{SIGNATURE}\n\nFrån: Lotsen <l@s.se>\nSkickat: den 7 december 2026 09:00\n"
        "Till: kultur@storasa.example\nÄmne: Ny fråga\n\nFråga",
        f"{ANSWER}\n\nMvh\nAnna\n\nOn Mon, Dec 7, 2026 at 9:00 AM Lotsen <l@s.se> wrote:\n> Q",
        f"{ANSWER}\n\n-----Original Message-----\nFrom: Lotsen\nSent: Monday\n\nFråga",
    ],
)
def test_quotes_and_signatures_are_stripped(text: str) -> None:
    assert answer_text(text) == ANSWER


# --- no loops, no noise --------------------------------------------------------------------


def _plain(sender: str, to: str, text: str = "Hej", **headers: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = headers.pop("Subject", "Fråga")
    mail["Message-ID"] = make_msgid(domain="example.org")
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(text)
    return mail


def _dsn(to: str) -> bytes:
    """Return a delivery status notification as Postfix sends it (multipart/report)."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        f"To: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.example.org')}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nThis is the mail system.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; x@y.example\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n--b1--\r\n"
    ).encode()


NOISE = {
    "auto_submitted": {"Auto_Submitted": "auto-replied"},
    "gmail_vacation": {"Auto_Submitted": "auto-replied", "X_Autoreply": "yes"},
    "exchange_out_of_office": {
        "Subject": "Automatiskt svar: Ny fråga",
        "X_Auto_Response_Suppress": "All",
        "X_MS_Exchange_Inbox_Rules_Loop": MAILBOX,
    },
    "out_of_office_subject": {"Subject": "Frånvaromeddelande: Ny fråga"},
    "bulk": {"Precedence": "bulk"},
    "list": {"List_Unsubscribe": "<mailto:unsubscribe@list.example>"},
}


@pytest.mark.parametrize("case", [*NOISE, "bounce", "own_address"])
async def test_auto_replies_bounces_bulk_and_our_own_mail_are_never_relayed(
    engine: Engine, database_url: str, smtp: SmtpServer, case: str
) -> None:
    settings, enquiry_id, forward = await _forwarded_by_mail(engine, database_url, smtp)
    to = str(forward["Reply-To"])
    mail: EmailMessage | bytes
    if case == "bounce":
        mail = _dsn(to)
    elif case == "own_address":
        mail = _plain("Lotsen <lotsen@storasa.example>", to, ANSWER)
    else:
        mail = _plain(MAILBOX, to, ANSWER, **NOISE[case])
    async with listening(_inbound(settings, engine)):
        await asyncio.to_thread(deliver, settings, mail, to)
        [stored] = await _handled(engine)
    assert stored.state == "ignored", stored.reason
    assert _enquiry(engine, enquiry_id).status == EnquiryStatus.FORWARDED
    sent_before = len(_rows(engine))
    assert await EmailDispatcher(settings, engine).step() == 0  # nobody is answered
    assert len(_rows(engine)) == sent_before


async def test_the_listener_is_no_open_relay(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    settings = _settings(smtp, database_url)
    async with listening(_inbound(settings, engine)):
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            await asyncio.to_thread(
                deliver, settings, _plain("a@b.example", "x@c.example"), "x@c.example"
            )
    assert _mails(engine) == []


# --- bad mail gets a clear path ------------------------------------------------------------


def _raw_mail(to: str, headers: bytes, payload: bytes) -> bytes:
    return (
        b"From: Anna Berg <" + MAILBOX.encode() + b">\r\nTo: " + to.encode() + b"\r\n"
        b"Message-ID: <" + make_msgid()[1:-1].encode() + b">\r\n" + headers + b"\r\n" + payload
    )


async def test_bad_mail_is_answered_or_held_and_never_stops_the_listener(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    settings, enquiry_id, forward = await _forwarded_by_mail(
        engine, database_url, smtp, inbound_max_bytes=64 * 1024
    )
    to = str(forward["Reply-To"])
    only_attachment = _plain(MAILBOX, to, "")
    only_attachment.clear_content()
    only_attachment.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf")
    huge = _plain(MAILBOX, to, ANSWER)
    huge.add_attachment(b"\0" * (100 * 1024), maintype="image", subtype="png", filename="a.png")
    bad: list[tuple[EmailMessage | bytes, str, str | None]] = [
        (only_attachment, "refused", "empty"),
        (_plain(MAILBOX, to, f"\n\n{SIGNATURE}\n"), "refused", "empty"),
        (huge, "refused", "too_big"),
        (
            _raw_mail(
                to,
                b"Subject: =?x-unknown?q?Fr=E5ga?=\r\nContent-Type: text/plain; "
                b"charset=x-unknown\r\n",
                b"Ni kan s\xf6ka senast 1 mars.\r\n",
            ),
            "done",
            None,
        ),
    ]
    async with listening(_inbound(settings, engine)):
        for message, _, _ in bad:
            await asyncio.to_thread(deliver, settings, message, to)
        mails = await _handled(engine, len(bad))
    assert [(m.state, m.reason) for m in mails] == [(s, r) for _, s, r in bad]
    assert mails[2].size > 100 * 1024 and len(mails[2].raw) < 64 * 1024  # header kept only
    # The unknown charset was read as the text it is; the other mails changed nothing.
    assert _enquiry(engine, enquiry_id).answer_text == "Ni kan söka senast 1 mars."
    assert [row.params["reason"] for row in _rows(engine, kind=Kind.MAIL_REFUSED)] == [
        "empty",
        "empty",
        "too_big",
    ]


async def test_an_associations_mail_without_text_is_answered_in_its_language(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    settings = _settings(smtp, database_url)
    sender = "treasurer@club.example"
    only_pdf = _plain(sender, INBOUND, "", Subject="Our application for the autumn grant")
    only_pdf.clear_content()
    only_pdf.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf")
    program = _plain(sender, INBOUND, "Hur söker vi bidrag för vår förening i höst?")
    program.add_attachment(b"MZ\x90\0", maintype="application", subtype="x-msdownload")
    async with listening(_inbound(settings, engine)):
        for message in (only_pdf, program):
            await asyncio.to_thread(deliver, settings, message, INBOUND)
        mails = await _handled(engine, 2)
    assert [(m.state, m.reason) for m in mails] == [
        ("refused", "no_text"),
        ("refused", "attachment_type"),
    ]
    assert await EmailDispatcher(settings, engine).step() == 2
    english, swedish = smtp.inbox.to(sender)
    assert "has not reached the municipality" in body(english)
    assert f"e-mail to {INBOUND}" in body(english)
    assert "har inte kommit fram till kommunen" in body(swedish)
    assert "varken ett dokument eller en bild" in body(swedish)
    assert english["Auto-Submitted"] == "auto-generated"
    with Session(engine) as session:
        assert session.exec(select(Enquiry)).all() == []  # nothing else changed


async def test_eight_bit_headers_and_html_only_are_read(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    settings, enquiry_id, forward = await _forwarded_by_mail(engine, database_url, smtp)
    to = str(forward["Reply-To"])
    raw = _raw_mail(
        to,
        b"Subject: SV: Fr\xc3\xa5ga fr\xe5n f\xf6rening\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n",
        "<html><body><p>Ni kan söka <b>senast</b> 1 mars.</p><style>p{}</style></body></html>"
        "".encode(),
    )
    async with listening(_inbound(settings, engine)):
        await asyncio.to_thread(deliver, settings, raw, to)
        [mail] = await _handled(engine)
    assert mail.state == "done"
    assert _enquiry(engine, enquiry_id).answer_text == "Ni kan söka senast 1 mars."


async def test_a_flood_from_one_address_is_answered_once_and_relayed_no_further(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    settings, enquiry_id, forward = await _forwarded_by_mail(engine, database_url, smtp)
    to = str(forward["Reply-To"])
    limiter = DatabaseRateLimiter(engine, Limit(rate=0.001, burst=2))
    inbound = _inbound(settings, engine, limiter=limiter)
    async with listening(inbound):
        for n in range(5):
            mail = _plain(MAILBOX, to, f"Svar nummer {n}.")
            await asyncio.to_thread(deliver, settings, mail, to)
        mails = await _handled(engine, 5)
    states = [(m.state, m.reason) for m in mails]
    assert states[:2] == [("done", None), ("refused", "not_open")]  # answered once
    assert states[2:] == [("refused", "rate_limited")] * 3
    assert [r.params["reason"] for r in _rows(engine, kind=Kind.MAIL_REFUSED)] == [
        "not_open",
        "rate_limited",  # the first of the flood is told, the rest are not
    ]
    assert _enquiry(engine, enquiry_id).answer_text == "Svar nummer 0."


# --- IMAP ----------------------------------------------------------------------------------


@pytest.fixture
def dovecot() -> Iterator[ImapServer]:
    """Yield Debian's Dovecot on loopback with one empty mailbox."""
    with running_dovecot() as server:
        yield server


def _imap(settings: Settings, server: ImapServer) -> Settings:
    return settings.model_copy(
        update={
            "imap_host": "127.0.0.1",
            "imap_port": server.port,
            "imap_ssl": False,
            "imap_user": server.user,
            "imap_password": SecretStr(server.password),
            "inbound_smtp_port": None,
        }
    )


async def test_a_reply_polled_over_imap_is_answered_once_and_marked_seen_after_the_commit(
    engine: Engine, database_url: str, smtp: SmtpServer, dovecot: ImapServer
) -> None:
    settings, enquiry_id, forward = await _forwarded_by_mail(engine, database_url, smtp)
    settings = _imap(settings, dovecot)
    dovecot.deliver(_reply(forward, ANSWER).as_bytes())
    dovecot.deliver(
        _plain(
            MAILBOX, str(forward["Reply-To"]), "Frånvaro", Auto_Submitted="auto-replied"
        ).as_bytes()
    )
    assert dovecot.unseen() == 2

    class Crash(Exception):
        pass

    poller = ImapPoller(_inbound(settings, engine))
    real_done = poller._done

    def crash(uids: list[str]) -> None:
        raise Crash  # the process dies after the commit, before the mailbox hears of it

    poller._done = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await poller.step()
    assert dovecot.unseen() == 2  # not marked: fetched again next round
    assert [m.state for m in _mails(engine)] == ["done", "ignored"]

    poller._done = real_done  # type: ignore[method-assign]
    assert await poller.step() == 2
    assert dovecot.unseen() == 0
    assert await poller.step() == 0
    assert [(m.state, m.source) for m in _mails(engine)] == [("done", "imap"), ("ignored", "imap")]
    assert _enquiry(engine, enquiry_id).answer_text == ANSWER
    assert len(_rows(engine, kind=Kind.ANSWER)) == 1


async def test_imap_moves_handled_mail_to_the_done_folder_when_named(
    engine: Engine, database_url: str, smtp: SmtpServer, dovecot: ImapServer
) -> None:
    settings, _, forward = await _forwarded_by_mail(engine, database_url, smtp)
    settings = _imap(settings, dovecot).model_copy(update={"imap_done_folder": "Lotsen"})
    dovecot.deliver(_reply(forward, ANSWER).as_bytes())
    assert await ImapPoller(_inbound(settings, engine)).step() == 1
    client = dovecot.client()
    try:
        _, inbox = client.search(None, "ALL")
        status, count = client.select("Lotsen")
    finally:
        client.logout()
    assert inbox == [b""] and status == "OK" and count == [b"1"]


async def test_imap_logs_in_with_xoauth2_when_a_token_is_configured(
    engine: Engine, database_url: str, smtp: SmtpServer, dovecot: ImapServer
) -> None:
    settings, enquiry_id, forward = await _forwarded_by_mail(engine, database_url, smtp)
    token = SecretStr(dovecot.password)  # Dovecot checks the token against its password file
    oauth = _imap(settings, dovecot).model_copy(
        update={"imap_password": None, "imap_oauth2_token": token}
    )
    dovecot.deliver(_reply(forward, ANSWER).as_bytes())
    assert await ImapPoller(_inbound(oauth, engine)).step() == 1
    assert _enquiry(engine, enquiry_id).answer_text == ANSWER
    # A wrong token is refused by the server: nothing is fetched or marked.
    dovecot.deliver(_plain(MAILBOX, "x@storasa.example", "Hej").as_bytes())
    wrong = oauth.model_copy(update={"imap_oauth2_token": SecretStr("not-the-token")})
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        await ImapPoller(_inbound(wrong, engine)).step()
    assert dovecot.unseen() == 1


async def test_an_unreachable_mailbox_only_delays(
    engine: Engine, database_url: str, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(smtp, database_url).model_copy(
        update={"imap_host": "127.0.0.1", "imap_port": free_port(), "imap_ssl": False}
    )
    poller = ImapPoller(_inbound(settings, engine))
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    assert await eventually(lambda: "trying again" in caplog.text, 20)
    assert not task.done()  # the poller goes on
    stop.set()
    await asyncio.wait_for(task, 10)
    assert _mails(engine) == []


# --- the coordinator's inbox, the migration ------------------------------------------------


async def test_lotsen_inbox_lists_held_mail_and_releases_or_drops_it(
    engine: Engine, database_url: str, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    settings, enquiry_id, forward = await _forwarded_by_mail(engine, database_url, smtp)
    inbound = _inbound(settings, engine)
    for n in range(2):
        reply = _reply(forward, f"{ANSWER} ({n})", sender=f"vikarie{n}@elsewhere.example")
        await inbound.take(reply.as_bytes(), "smtp", [str(forward["Reply-To"])])
    first, second = (m.id for m in _mails(engine))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LC_ALL", "sv_SE.UTF-8")
    runner = CliRunner()
    listed = runner.invoke(app, ["inbox", "mail"])
    assert listed.exit_code == 0, listed.output
    assert f"{first}  " in listed.output and "vikarie0@elsewhere.example" in listed.output
    assert "svaret kom från en adress som inte är förvaltningens" in listed.output
    assert runner.invoke(app, ["inbox", "drop-mail", str(second)]).exit_code == 0
    released = runner.invoke(app, ["inbox", "release", str(first)])
    assert released.exit_code == 0, released.output
    again = runner.invoke(app, ["inbox", "release", str(second)])
    assert again.exit_code != 0 and "inte kvarhållet" in again.output  # dropped: nothing changed
    assert await inbound.recover() == 1  # what the running bot does at its next round
    assert [(m.state, m.reason) for m in _mails(engine)] == [
        ("done", None),
        ("dropped", "foreign_sender"),
    ]
    assert _enquiry(engine, enquiry_id).answer_text == f"{ANSWER} (0)"
    empty = runner.invoke(app, ["inbox", "mail"])
    assert "Ingen e-post hålls kvar." in empty.output


def test_migration_0100_adds_and_removes_the_table_around_existing_data(
    database_url: str,
) -> None:
    from sqlalchemy import inspect

    from db.models import Municipality
    from db.plumbing.migrate import downgrade, upgrade
    from db.plumbing.session import make_engine

    upgrade(database_url, "0080")
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        session.add(Municipality(name="Migrationsby"))
    upgrade(database_url, "0100")
    with session_scope(engine) as session:
        _, created = inbound_mail.store(
            session=session,
            key="<a@b>",
            source="imap",
            raw=b"x",
            sender="a@b.se",
            recipient=INBOUND,
            subject="Fråga",
        )
        assert created
        _, again = inbound_mail.store(
            session=session,
            key="<a@b>",
            source="smtp",
            raw=b"y",
            sender=None,
            recipient=None,
            subject=None,
        )
        assert not again
    with Session(engine) as session:
        [kept] = session.exec(select(InboundMail)).all()
        assert (kept.raw, kept.source, kept.state) == (b"x", "imap", "new")
    downgrade(database_url, "0080")
    assert "inbound_mail" not in set(inspect(engine).get_table_names())
    with Session(engine) as session:
        assert session.exec(select(Municipality.name)).all() == ["Migrationsby"]
    upgrade(database_url)
    with Session(engine) as session:
        assert session.exec(select(InboundMail)).all() == []
    engine.dispose()


# --- which enquiry an association's mail belongs to ----------------------------------------


def test_a_mail_adds_only_to_the_writers_own_open_enquiry(engine: Engine) -> None:
    from bot.channels.email.associations import association_named, enquiry_of_thread
    from bot.channels.email.parse import parse
    from db.intake import Writer
    from db.people.identities import identify

    now = utcnow()
    with session_scope(engine) as session:
        mine = routed_enquiry(session, now=now, department_chat=None)
        theirs = routed_enquiry(session, now=now, department_chat=None)
        person = session.get(AssociationUser, mine.user_id)
        assert person is not None
        session.add(
            InboundMail(key="<q1@club.example>", source="smtp", raw=b"", enquiry_id=mine.id)
        )
        session.flush()

        def mail(**headers: str) -> Incoming:
            message = _plain("a@club.example", INBOUND, "Mer om vår fråga.", **headers)
            return parse(message.as_bytes())

        thread = mail(In_Reply_To="<q1@club.example>", References="<q1@club.example>")
        assert enquiry_of_thread(session, person, thread) is mine
        by_reference = mail(Subject=f"Angående {mine.reference}")
        assert enquiry_of_thread(session, person, by_reference) is mine
        # Someone else's reference, or a closed enquiry, makes a new enquiry instead.
        assert enquiry_of_thread(session, person, mail(Subject=f"Om {theirs.reference}")) is None
        mine.status = EnquiryStatus.CLOSED
        assert enquiry_of_thread(session, person, thread) is None
        stranger = identify(
            session=session, writer=Writer("email", "x@elsewhere.example"), language="sv"
        )
        assert enquiry_of_thread(session, stranger, thread) is None

    assert association_named("Hej!\n\nFörening: Storåsa IF, 802000-0000\n") == (
        "Storåsa IF",
        "802000-0000",
    )
    assert association_named("> Association: Lilla Kören") == ("Lilla Kören", None)
    assert association_named("Vi är en förening i Storåsa.") is None
