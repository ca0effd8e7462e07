"""A forward always reaches someone: a fresh installation, with and without SMTP, no Telegram group.

The database is the shipped demo municipality as `make setup` leaves it (its departments take
e-mail); the question goes through the real action, the real e-mail dispatcher and a real SMTP
server on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from bot.actions.enquiry import ActionHandleEnquiry
from bot.channels.email.outbox import EmailDispatcher
from bot.i18n import translate
from db.enquiries import lifecycle
from db.enquiries.notifications import Channel
from db.enquiries.reach import Unreachable, department_reach, unreachable_problems
from db.models import (
    Contact,
    Department,
    Enquiry,
    EnquiryEvent,
    EnquiryStatus,
    Escalation,
    EscalationReason,
    OutboxMessage,
    utcnow,
)
from db.people.departments import department_by_key
from db.plumbing.session import session_scope
from harness.database import migrate_and_seed, set_group_chat
from harness.desk import Clock
from harness.smtp import SmtpServer, body, smtp_server
from harness.telegram import COORDINATOR_CHAT as COORDINATORS_GROUP
from harness.telegram import TIMEOUT, Harness, buttons, has, new_user_id, running_bot
from harness.workflow import local, new_enquiry
from tests.test_actions import _context, _replies, _run, _tracker
from tests.test_routing_table import INTENTS, write_domain

MAILBOX = "foreningsservice@storasa.example"  # kultur_fritid's functional mailbox
QUESTION = "Hej! Vi vill söka bidrag för ett sommarläger för barn, hur gör vi?"
MONDAY_9 = local(2026, 3, 16, 9)


@pytest.fixture
def fresh(database_url: str) -> Iterator[Engine]:
    """Yield a fresh installation: migrated, the shipped demo municipality, no Telegram group."""
    engine = migrate_and_seed(database_url, demo_channels=True)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """Yield a running loopback SMTP server."""
    with smtp_server() as server:
        yield server


def test_the_demo_departments_take_email(fresh: Engine) -> None:
    with Session(fresh) as session:
        channels = {d.key: d.channels for d in session.exec(select(Department)).all()}
    assert channels and set(channels.values()) == {"email"}, channels


async def test_a_routed_question_reaches_the_department_mailbox_with_its_reference(
    fresh: Engine, database_url: str, smtp: SmtpServer
) -> None:
    settings = smtp.settings(database_url)
    action = ActionHandleEnquiry(_context(fresh, smtp_host=settings.smtp_host))
    await _run(action, _tracker(QUESTION, [("topic_bidrag", 0.81)]))
    with Session(fresh) as session:
        enquiry = session.exec(select(Enquiry)).one()
        assert session.exec(select(Escalation)).all() == []
    assert enquiry.status == "forwarded" and enquiry.reference is not None
    [reply] = _replies(fresh)
    assert "Kultur- och fritidsförvaltningen" in reply and enquiry.reference in reply

    dispatcher = EmailDispatcher(settings, fresh, clock=Clock(MONDAY_9))
    assert await dispatcher.step() == 1
    [mail] = smtp.inbox.to(MAILBOX)
    assert enquiry.reference in mail["Subject"]
    assert enquiry.reference in body(mail) and "sommarläger" in body(mail)


async def test_without_smtp_a_routed_question_reaches_the_coordinator_at_once(
    fresh: Engine,
) -> None:
    action = ActionHandleEnquiry(_context(fresh, smtp_host=None))
    await _run(action, _tracker(QUESTION, [("topic_bidrag", 0.81)]))
    with Session(fresh) as session:
        enquiry = session.exec(select(Enquiry)).one()
        escalation = session.exec(select(Escalation)).one()
        events = session.exec(select(EnquiryEvent.kind).order_by(col(EnquiryEvent.id))).all()
        to_department = session.exec(
            select(OutboxMessage).where(OutboxMessage.recipient == "department")
        ).all()
        [card] = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "card")).all()
    assert (enquiry.status, escalation.reason) == ("escalated", "unreachable")
    assert list(events) == ["received", "routed", "escalated"]
    assert to_department == []  # nothing waits for a mailbox nobody sends to
    assert card.escalation_id == escalation.id and card.recipient == "coordinators"
    [reply] = _replies(fresh)
    assert "kan inte nås just nu" in reply and "skickat frågan" not in reply


def test_reach_names_the_channels_and_why(fresh: Engine) -> None:
    with session_scope(fresh) as session:
        culture = department_by_key(session=session, key="kultur_fritid")
        assert culture is not None

        def reach(email_enabled: bool):  # type: ignore[no-untyped-def]
            return department_reach(
                session=session, department=culture, email_enabled=email_enabled
            )

        assert reach(True).channels == (Channel.EMAIL,) and not reach(True).fallback
        assert reach(False).channels == () and reach(False).problems == (Unreachable.EMAIL_OFF,)
        culture.channels = "telegram"
        assert reach(True).channels == (Channel.EMAIL,) and reach(True).fallback
        assert reach(True).problems == (Unreachable.NO_GROUP,)
        assert reach(False).problems == (Unreachable.NO_GROUP, Unreachable.EMAIL_OFF)
        culture.channels = "both"
        set_group_chat(culture, -100200)
        assert reach(False).channels == (Channel.TELEGRAM,)
        assert reach(True).channels == (Channel.TELEGRAM, Channel.EMAIL)
        culture.channels = "telegram"
        set_group_chat(culture, None)
        culture.mailbox = None
        for contact in session.exec(select(Contact).where(Contact.department_id == culture.id)):
            contact.email = None
        assert reach(True).channels == ()
        assert reach(True).problems == (Unreachable.NO_GROUP, Unreachable.NO_ADDRESS)
        [line] = [
            translate("en", p) for p in unreachable_problems(session=session, email_enabled=True)
        ]
    assert line == (
        "department 'kultur_fritid' cannot be reached: Telegram is chosen but the department "
        "has no Telegram group; no e-mail address (neither a functional mailbox nor a "
        "contact); its questions go straight to the coordinator"
    )


def test_routes_check_names_every_department_nobody_can_reach(
    fresh: Engine, database_url: str, tmp_path: Path
) -> None:
    import bot.cli

    domain = write_domain(tmp_path / "domain.yml", INTENTS)
    runner = CliRunner()
    off = runner.invoke(
        bot.cli.app,
        ["routes", "check", "--domain", str(domain)],
        env={"DATABASE_URL": database_url},
    )
    assert off.exit_code == 1
    with Session(fresh) as session:
        keys = [d.key for d in session.exec(select(Department)).all()]
    for key in keys:
        assert f"department '{key}' cannot be reached: e-mail is switched off" in off.stdout
    on = runner.invoke(
        bot.cli.app,
        ["routes", "check", "--domain", str(domain)],
        env={"DATABASE_URL": database_url, "SMTP_HOST": "127.0.0.1"},
    )
    assert on.exit_code == 0, on.output


def test_the_start_of_run_names_every_department_nobody_can_reach(
    fresh: Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli.run import _reach_notice
    from bot.settings import Settings

    with Session(fresh) as session:
        keys = sorted(d.key for d in session.exec(select(Department)).all())
    _reach_notice(Settings(database_url=database_url, _env_file=None), fresh)  # type: ignore[call-arg]
    lines = capsys.readouterr().err.splitlines()
    assert [line.split("'")[1] for line in lines] == keys
    assert all(line.startswith("[lotsen] ") and "SMTP_HOST" in line for line in lines)
    settings = Settings(database_url=database_url, smtp_host="127.0.0.1", _env_file=None)  # type: ignore[call-arg]
    _reach_notice(settings, fresh)
    assert capsys.readouterr().err == ""  # e-mail on: every demo department is reached


async def test_the_reminder_follows_the_forward_by_email(engine: Engine) -> None:
    """A Telegram department without a group, e-mail on: forward and reminder reach its mailbox."""
    from db import intake
    from db.enquiries.deadlines import sweep_deadlines

    message = intake.Message(
        key="telegram:7:1",
        writer=intake.Writer("telegram", "7", "7"),
        text=QUESTION,
        languages=intake.Languages(reply="sv"),
    )
    decision = intake.Decision(intake.Outcome.ROUTE, department="kultur_fritid")
    with session_scope(engine) as session:
        assert department_by_key(session=session, key="kultur_fritid").channels == "telegram"  # type: ignore[union-attr]
        received = intake.receive(
            session=session, message=message, decision=decision, email_enabled=True
        )
        reminder_due = received.enquiry.reminder_due_at
    assert reminder_due is not None
    with session_scope(engine) as session:
        report = sweep_deadlines(session=session, now=reminder_due)
    assert len(report.reminded) == 1
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage.kind, OutboxMessage.channel).where(
                OutboxMessage.recipient == "department"
            )
        ).all()
    assert sorted(rows) == [("forward", "email"), ("reminder", "email")]


async def test_a_coordinator_who_reroutes_on_telegram_to_a_department_nobody_can_reach_is_told(
    offline: Harness,
) -> None:
    """The card's department button, teknik on Telegram without a group, no SMTP: an alert."""
    h, fake = offline, offline.fake
    boss = new_user_id()
    h.add_staff(boss, "coordinator", None)
    with session_scope(h.engine) as session:
        enquiry = new_enquiry(session, now=utcnow(), text=QUESTION)
        first = lifecycle.escalated(
            session=session,
            enquiry=enquiry,
            reason=EscalationReason.UNSURE,
            actor="lotsen",
        )
        enquiry_id, reference = enquiry.id or 0, enquiry.reference or "?"
    assert not h.settings.email_enabled
    async with running_bot(h.settings):
        await fake.wait_for("getUpdates", timeout=TIMEOUT)
        card = await h.message_to(
            COORDINATORS_GROUP, lambda m: reference in m["text"] and bool(buttons(m))
        )
        mark = h.mark()
        press = fake.callback(
            boss,
            f"q:to:{first.id}:teknik",
            chat_id=COORDINATORS_GROUP,
            message_id=card["message_id"],
        )
        answer = await h.callback_answer(press)
        assert answer.get("show_alert") is True
        assert f"{reference} kunde inte skickas till teknik" in answer["text"]
        assert "Telegram-grupp" in answer["text"]  # why: Telegram chosen, but no group
        again = await h.message_to(COORDINATORS_GROUP, has(reference), after=mark)
        assert "Tekniska förvaltningen kan inte nås" in again["text"]
    escalations = h.escalations(enquiry_id)
    assert [(e.reason, e.resolution) for e in escalations] == [
        (EscalationReason.UNSURE, "rerouted"),
        (EscalationReason.UNREACHABLE, None),
    ]
    assert h.enquiry(enquiry_id).status == EnquiryStatus.ESCALATED
    with Session(h.engine) as session:
        kinds = session.exec(
            select(OutboxMessage.kind).where(OutboxMessage.enquiry_id == enquiry_id)
        ).all()
    assert "forward" not in kinds and "rerouted" not in kinds  # nobody told it was sent
    assert kinds.count("card") == 2
