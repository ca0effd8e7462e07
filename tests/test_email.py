"""The e-mail channel against a real SMTP server on loopback: what a mailbox receives, once."""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.channels.email.outbox import MAX_ATTEMPTS, EmailDispatcher, installation_of, prepare
from db.enquiries import deadlines, lifecycle, queue, workflow
from db.enquiries.notifications import Kind
from db.models import Contact, Department, Enquiry, EnquiryStatus, OutboxMessage
from db.people import departments
from db.plumbing.session import session_scope
from harness.database import set_group_chat
from harness.desk import Clock
from harness.people import staff_people
from harness.smtp import DESK_URL, SmtpServer, body, smtp_server
from harness.workflow import DEPARTMENT_CHAT, escalated_enquiry, local, routed_enquiry

MONDAY_9 = local(2026, 3, 16, 9)
MAILBOX = "foreningsservice@storasa.example"
COORDINATOR_MAILBOX = "samordnare@storasa.example"
LINK = re.compile(re.escape(DESK_URL) + r"/desk/link\?token=[A-Za-z0-9_.\-]+")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """Yield a running loopback SMTP server."""
    with smtp_server() as server:
        yield server


def _by_email(session: Session, key: str = "kultur_fritid", **changes: object) -> Department:
    department = departments.department_by_key(session=session, key=key)
    assert department is not None
    department.channels = "email"
    for name, value in changes.items():
        setattr(department, name, value)
    return department


def _forwarded(engine: Engine, *, now: datetime = MONDAY_9, **kwargs: Any) -> int:
    """Route and forward an enquiry to kultur_fritid by e-mail; return its id."""
    with session_scope(engine) as session:
        department = _by_email(session)
        enquiry = routed_enquiry(session, now=now, department_chat=None, **kwargs)
        lifecycle.forwarded(session=session, enquiry=enquiry, department=department, now=now)
        assert enquiry.id is not None
        return enquiry.id


def _rows(engine: Engine, **where: object) -> list[OutboxMessage]:
    with Session(engine) as session:
        query = select(OutboxMessage).order_by(col(OutboxMessage.id))
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(session.exec(query).all())


async def test_a_forward_reaches_the_mailbox_once_with_reference_facts_and_link(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    enquiry_id = _forwarded(engine, association="Storåsa Schackklubb", detected_language="sv")
    with Session(engine) as session:
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None and enquiry.status == EnquiryStatus.FORWARDED
    [row] = _rows(engine, kind=Kind.FORWARD)
    assert (row.channel, row.address, row.sent_at) == ("email", None, None)

    dispatcher = EmailDispatcher(smtp.settings(database_url), engine, clock=Clock(MONDAY_9))
    assert await dispatcher.step() == 1
    assert await dispatcher.step() == 0
    [mail] = smtp.inbox.received
    reference = str(enquiry.reference)
    assert reference in mail["Subject"]
    assert mail["To"] == MAILBOX
    assert mail["Reply-To"] == MAILBOX
    assert mail["From"] == "Lotsen <lotsen@storasa.example>"
    message_id = f"<lotsen.{installation_of(smtp.settings(database_url))}.{row.id}@storasa.example>"
    assert mail["Message-ID"] == message_id
    text = body(mail)
    for fact in (
        reference,
        "Storåsa Schackklubb",
        "Språk: svenska · föreningens språk: svenska",
        "Svara inom 48 arbetstimmar, senast",
        "Varför till er: Lotsen",
        "Hur söker vi aktivitetsstöd för hösten?",
    ):
        assert fact in text, fact
    assert "Tryck Svara" not in text  # the Telegram buttons' hint is not for e-mail
    [link] = LINK.findall(text)
    html = body(mail, "html")
    assert f'href="{link}"' in html.replace("&amp;", "&")
    assert "<p>" in html and "Storåsa Schackklubb" in html
    [sent] = _rows(engine, kind=Kind.FORWARD)
    assert (sent.address, sent.external_id) == (MAILBOX, message_id)
    assert sent.sent_at is not None


async def test_the_department_mailbox_and_both_channels(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    with session_scope(engine) as session:
        department = _by_email(session, channels="both", mailbox="kultur@storasa.example")
        enquiry = routed_enquiry(session, now=MONDAY_9)  # with a Telegram group
        messages = lifecycle.forwarded(
            session=session, enquiry=enquiry, department=department, now=MONDAY_9
        )
    assert sorted(m.channel for m in messages) == ["email", "telegram"]
    dispatcher = EmailDispatcher(smtp.settings(database_url), engine, clock=Clock(MONDAY_9))
    assert await dispatcher.step() == 1
    assert [m["To"] for m in smtp.inbox.received] == ["kultur@storasa.example"]
    [telegram] = _rows(engine, channel="telegram")
    assert telegram.sent_at is None  # the e-mail channel leaves Telegram's rows alone


async def test_smtp_down_for_an_hour_then_everything_goes_once(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    ids = [_forwarded(engine, text=f"Fråga nummer {n} om bidrag") for n in range(3)]
    smtp.stop()
    clock = Clock(MONDAY_9)
    dispatcher = EmailDispatcher(smtp.settings(database_url), engine, clock=clock)
    tries = 0
    for _minute in range(61):
        await dispatcher.step()
        if dispatcher.state.server_failures > tries:
            tries = dispatcher.state.server_failures
        clock.now += timedelta(minutes=1)
    assert tries >= 6  # it kept trying, backing off
    rows = _rows(engine, channel="email")
    assert [r.sent_at for r in rows] == [None, None, None]
    assert all(r.attempts == 0 for r in rows)  # the server's outage is no address's fault
    assert _rows(engine, kind=Kind.MAIL_FAILED) == []

    smtp.start()
    clock.now += timedelta(minutes=15)
    assert await dispatcher.step() == 3
    for _ in range(3):
        clock.now += timedelta(minutes=20)
        assert await dispatcher.step() == 0
    subjects = sorted(m["Subject"] for m in smtp.inbox.received)
    with Session(engine) as session:
        references = sorted(
            f"Ny fråga från en förening: {session.get(Enquiry, i).reference}"  # type: ignore[union-attr]
            for i in ids
        )
    assert subjects == references
    assert len({m["Message-ID"] for m in smtp.inbox.received}) == 3


async def test_a_refused_address_gives_up_and_alerts_the_coordinator(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    smtp.inbox.refuse[MAILBOX] = "550 5.1.1 No such mailbox"
    enquiry_id = _forwarded(engine)
    dispatcher = EmailDispatcher(smtp.settings(database_url), engine, clock=Clock(MONDAY_9))
    assert await dispatcher.step() == 0
    [row] = _rows(engine, kind=Kind.FORWARD)
    assert row.attempts == MAX_ATTEMPTS and row.sent_at is None
    assert row.error is not None and "550" in row.error
    alerts = _rows(engine, kind=Kind.MAIL_FAILED)
    assert sorted(a.channel for a in alerts) == ["email", "telegram"]
    assert {a.enquiry_id for a in alerts} == {enquiry_id}
    assert await dispatcher.step() == 1  # the alert itself, to the coordinator's mailbox
    [alert] = smtp.inbox.to(COORDINATOR_MAILBOX)
    text = body(alert)
    assert MAILBOX in text and "550" in text and "en ny fråga" in text
    assert f"{DESK_URL}/desk/enquiries/" in text
    assert smtp.inbox.to(MAILBOX) == []
    assert await dispatcher.step() == 0  # nothing more, ever


async def test_a_temporary_refusal_is_retried_with_backoff_then_given_up(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    smtp.inbox.refuse[MAILBOX] = "451 4.2.0 Mailbox busy, try later"
    _forwarded(engine)
    clock = Clock(MONDAY_9)
    dispatcher = EmailDispatcher(smtp.settings(database_url), engine, clock=clock)
    await dispatcher.step()
    [row] = _rows(engine, kind=Kind.FORWARD)
    assert row.attempts == 1 and row.not_before is not None
    assert row.not_before - MONDAY_9 == timedelta(seconds=30)
    clock.now += timedelta(seconds=10)
    await dispatcher.step()
    assert _rows(engine, kind=Kind.FORWARD)[0].attempts == 1  # not due yet
    waits = []
    while (row := _rows(engine, kind=Kind.FORWARD)[0]).attempts < MAX_ATTEMPTS:
        assert row.not_before is not None
        waits.append(row.not_before - clock.now)
        clock.now = row.not_before
        await dispatcher.step()
    assert waits == sorted(waits) and waits[-1] <= timedelta(hours=1)
    assert row.sent_at is None and "451" in (row.error or "")
    assert len(_rows(engine, kind=Kind.MAIL_FAILED)) == 2


async def test_a_department_without_any_mailbox_alerts_the_coordinator(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    with session_scope(engine) as session:
        department = _by_email(session)
        for contact in session.exec(select(Contact).where(Contact.department_id == department.id)):
            contact.email = None
    _forwarded(engine)
    dispatcher = EmailDispatcher(smtp.settings(database_url), engine, clock=Clock(MONDAY_9))
    assert await dispatcher.step() == 0
    [row] = _rows(engine, kind=Kind.FORWARD)
    assert row.error == "no usable mailbox" and row.attempts == MAX_ATTEMPTS
    assert await dispatcher.step() == 1  # the alert, queued when it gave up
    assert [m["To"] for m in smtp.inbox.received] == [COORDINATOR_MAILBOX]


def test_two_dispatchers_never_claim_the_same_row(engine: Engine, database_url: str) -> None:
    _forwarded(engine)
    server = SmtpServer()
    settings = server.settings(database_url)
    first = prepare(engine, settings, MONDAY_9)
    second = prepare(engine, settings, MONDAY_9 + timedelta(seconds=1))
    assert len(first) == 1 and second == []
    again = prepare(engine, settings, MONDAY_9 + timedelta(minutes=11))  # the lease ran out
    assert [m.row_id for m in again] == [first[0].row_id]
    assert LINK.findall(again[0].text) == LINK.findall(first[0].text)  # the same link


async def test_not_ours_reassignment_and_assignment_reach_the_mailbox(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    enquiry_id = _forwarded(engine)
    with session_scope(engine) as session:
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None
        escalation = workflow.not_ours(
            session=session,
            enquiry=enquiry,
            actor="mail:x",
            now=MONDAY_9,
            reason="Det gäller en bygglovsfråga.",
        )
        assert escalation.id is not None
        staff_people(session, 111)  # the coordinator, a staff person
        building = departments.department_by_key(session=session, key="samhallsbyggnad")
        assert building is not None
        set_group_chat(building, DEPARTMENT_CHAT)  # its forward goes to its Telegram group
        queue.route(
            session=session,
            escalation_id=escalation.id,
            department_key="samhallsbyggnad",
            staff_user_id=111,
            email_enabled=True,
            now=MONDAY_9,
        )
    dispatcher = EmailDispatcher(smtp.settings(database_url), engine, clock=Clock(MONDAY_9))
    assert await dispatcher.step() == 3  # forward, returned, reassigned (samhallsbyggnad: Telegram)
    subjects = [m["Subject"] for m in smtp.inbox.to(MAILBOX)]
    reference = str(enquiry.reference)
    assert subjects == [
        f"Ny fråga från en förening: {reference}",
        f"{reference} har gått tillbaka till samordnaren",
        f"{reference} är skickat till en annan förvaltning",
    ]
    returned, reassigned = (body(m) for m in smtp.inbox.to(MAILBOX)[1:])
    assert "Skäl: Det gäller en bygglovsfråga." in returned
    assert "Samhällsbyggnadsförvaltningen" in reassigned
    assert not LINK.findall(returned) and not LINK.findall(reassigned)
    with Session(engine) as session:
        [card] = session.exec(select(OutboxMessage).where(OutboxMessage.kind == Kind.CARD)).all()
        from harness.workflow import as_sent

        assert "Det gäller en bygglovsfråga." in as_sent(session, card).text


async def test_the_daily_digest_goes_once_a_day_at_the_chosen_hour(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    with session_scope(engine) as session:
        enquiry, _ = escalated_enquiry(
            session, now=MONDAY_9 - timedelta(days=1), detected_language="fi"
        )
        reference = str(enquiry.reference)
    clock = Clock(local(2026, 3, 16, 6, 59))
    settings = smtp.settings(database_url, coordinator_digest_hour=7)
    dispatcher = EmailDispatcher(settings, engine, clock=clock)
    assert await dispatcher.step() == 0
    clock.now = local(2026, 3, 16, 7, 0)
    assert await dispatcher.step() == 1
    clock.now = local(2026, 3, 16, 15, 0)
    restarted = EmailDispatcher(settings, engine, clock=clock)  # a restart sends no second one
    assert await restarted.step() == 0
    clock.now = local(2026, 3, 17, 7, 5)
    assert await restarted.step() == 1
    digests = smtp.inbox.to(COORDINATOR_MAILBOX)
    assert [m["Subject"] for m in digests] == ["Samordnarens kö: öppna ärenden"] * 2
    assert reference in body(digests[0]) and "2026-03-16" in body(digests[0])
    [line] = [line for line in body(digests[0]).splitlines() if reference in line]
    assert "finska" in line  # the language the question is written in
    assert f"{DESK_URL}/desk/queue" in body(digests[0])


async def test_mail_waits_in_the_outbox_while_email_is_off(engine: Engine) -> None:
    from bot.channels.email.outbox import run_email, waiting_mail
    from bot.settings import Settings

    _forwarded(engine)
    settings = Settings(database_url="sqlite://", _env_file=None)  # type: ignore[call-arg]
    assert not settings.email_enabled
    import asyncio

    await asyncio.wait_for(run_email(settings, engine, asyncio.Event()), timeout=5)
    assert waiting_mail(engine) == 1
    [row] = _rows(engine, channel="email")
    assert row.sent_at is None and row.attempts == 0


async def test_the_75_percent_reminder_reaches_the_mailbox_with_a_fresh_link(
    engine: Engine, database_url: str, smtp: SmtpServer
) -> None:
    enquiry_id = _forwarded(engine)
    clock = Clock(MONDAY_9)
    dispatcher = EmailDispatcher(smtp.settings(database_url), engine, clock=clock)
    assert await dispatcher.step() == 1
    with session_scope(engine) as session:
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None and enquiry.reminder_due_at is not None
        clock.now = enquiry.reminder_due_at
        report = deadlines.sweep_deadlines(session=session, now=clock.now)
        assert report.reminded == [enquiry.reference]
        assert deadlines.sweep_deadlines(session=session, now=clock.now).reminded == []
    assert await dispatcher.step() == 1
    assert await dispatcher.step() == 0
    forward, reminder = smtp.inbox.to(MAILBOX)
    assert reminder["Subject"] == f"Påminnelse: {enquiry.reference} väntar på svar"
    text = body(reminder)
    assert "Annars går ärendet till samordnaren" in text
    assert LINK.findall(text) and LINK.findall(text) != LINK.findall(body(forward))


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs openssl to make a certificate")
async def test_starttls_and_login_as_a_real_mail_server_wants(
    engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    request = "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
    names = "subjectAltName=IP:127.0.0.1"
    command = [
        "openssl",
        *request.split(),
        "-keyout",
        str(key),
        "-out",
        str(cert),
        "-addext",
        names,
    ]
    subprocess.run(command, check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(*args: Any) -> AuthResult:
        data = args[-1]
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret-pw")

    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts this certificate only
    server = SmtpServer(tls_context=context, require_starttls=True, authenticator=authenticator)
    server.start()
    try:
        _forwarded(engine)
        settings = server.settings(
            database_url,
            smtp_starttls=True,
            smtp_user="lotsen",
            smtp_password=SecretStr("s3cret-pw"),
        )
        dispatcher = EmailDispatcher(settings, engine, clock=Clock(MONDAY_9))
        assert await dispatcher.step() == 1
        assert logins == [(b"lotsen", b"s3cret-pw")]
        assert [m["To"] for m in server.inbox.received] == [MAILBOX]
        plain = EmailDispatcher(
            server.settings(database_url, smtp_starttls=False), engine, clock=Clock(MONDAY_9)
        )
        _forwarded(engine)
        assert await plain.step() == 0  # the server wants TLS first: the mail waits
        assert plain.state.server_failures == 1
        assert len(server.inbox.received) == 1
    finally:
        server.stop()


def test_the_link_key_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    import threading

    from bot.settings import stored_secret

    path = tmp_path / "var" / "link-secret"
    found: list[bytes] = []
    threads = [threading.Thread(target=lambda: found.append(stored_secret(path))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and len(found[0]) >= 48
    assert path.stat().st_mode & 0o777 == 0o600
    assert stored_secret(path) == found[0]
    assert sorted(p.name for p in path.parent.iterdir()) == ["link-secret"]
