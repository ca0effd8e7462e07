"""Reliability end to end: floods, bad input, deadlines across restarts, a soak, a database restart.

Real bot (in-process), real Rasa stack, fake Telegram server; assertions on what the fake saw
and on the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from bot.i18n import t
from bot.processes.supervisor import Supervisor
from bot.settings import Settings
from db.enquiries import crud, workflow
from db.enquiries.sla import LOCAL, add_working_hours
from db.models import (
    Enquiry,
    EnquiryStatus,
    Escalation,
    EscalationReason,
    InboxUpdate,
    OutboxMessage,
)
from db.people import departments
from db.people.limits import refusals_on
from db.plumbing.session import session_scope
from harness.database import migrate_and_seed
from harness.fake_telegram import FakeTelegram, start_fake_telegram
from harness.people import telegram_person
from harness.ports import free_port
from harness.telegram import (
    COORDINATOR_CHAT,
    TIMEOUT,
    Harness,
    bot_settings,
    buttons,
    escalations_of,
    has,
    new_group_id,
    new_user_id,
    running_bot,
)
from harness.wait import eventually, wait_until
from tests.conftest import POSTGRES_URL, _drop_postgres, _fresh_postgres

pytestmark = pytest.mark.usefixtures("no_handler_errors")

QUESTIONS = [
    "Hur söker vår förening aktivitetsstöd för barn och unga?",
    "Vi vill boka en idrottshall på söndagar, hur gör vi?",
    "Behöver vi bygglov för att bygga ett förråd vid klubbstugan?",
    "Vi vill ha en marknad på torget i maj, vem ger tillstånd att använda torget?",
]


def row_counts(engine: Engine) -> tuple[int, int, int]:
    """Return how many enquiries, escalations and outbox messages there are."""
    with Session(engine) as session:
        return tuple(  # type: ignore[return-value]
            int(session.exec(select(func.count()).select_from(model)).one())
            for model in (Enquiry, Escalation, OutboxMessage)
        )


# ---------------------------------------------------------------------- 1. rate limit


async def test_flood_is_limited_with_one_notice_then_recovers(
    bare: tuple[FakeTelegram, Engine], rasa_stack: Settings
) -> None:
    fake, engine = bare
    burst = 3
    settings = bot_settings(rasa_stack, fake, rate_limit_burst=burst, rate_limit_per_second=2.0)
    h = Harness(fake=fake, settings=settings, engine=engine)
    flooder, calm = new_user_id(), new_user_id()
    notice = t(
        "sv", "Du skickar många meddelanden på kort tid. Vänta en stund och skriv sedan igen."
    )
    async with running_bot(settings):
        await fake.wait_for("getUpdates", timeout=TIMEOUT)
        # Telegram dates messages in whole seconds and the bucket refills by them: the flood
        # carries one date, so the count below is exact rather than "burst plus a refill".
        sent = int(time.time()) - 10
        flood = [
            fake.user_message(flooder, f"{QUESTIONS[n % 4]} ({n})", date=sent) for n in range(15)
        ]
        calm_update = fake.user_message(calm, QUESTIONS[0], date=sent)
        for update in [*flood, calm_update]:
            await h.processed(update)
        assert 1 <= len(h.enquiries_of(flooder)) <= burst
        assert len(h.sent_to(flooder, has(notice))) == 1
        assert len(h.sent_to(flooder, has("LOT-"))) == len(h.enquiries_of(flooder))
        (calm_enquiry,) = h.enquiries_of(calm)
        assert calm_enquiry.reference and h.sent_to(calm, has(calm_enquiry.reference))
        assert not h.sent_to(calm, has(notice))

        # The bucket refills at 2 tokens a second: a message sent 2 s later is heard again.
        before = len(h.enquiries_of(flooder))
        mark = h.mark()
        later = fake.user_message(flooder, QUESTIONS[2] + " (senare)", date=sent + 2)
        await h.processed(later)
        reply = await h.message_to(flooder, has("LOT-"), after=mark)
        enquiries = h.enquiries_of(flooder)
        assert len(enquiries) == before + 1
        assert enquiries[-1].reference and enquiries[-1].reference in reply["text"]
        assert enquiries[-1].message_key == f"telegram:{flooder}:{later['message']['message_id']}"
        assert len(h.sent_to(flooder, has(notice))) == 1


async def test_flood_notice_is_in_the_writers_language_and_refusals_are_counted(
    bare: tuple[FakeTelegram, Engine], rasa_stack: Settings
) -> None:
    fake, engine = bare
    settings = bot_settings(rasa_stack, fake, rate_limit_burst=2, rate_limit_per_second=0.1)
    h = Harness(fake=fake, settings=settings, engine=engine)
    writer = new_user_id()
    swedish = "Du skickar många meddelanden på kort tid. Vänta en stund och skriv sedan igen."
    english = t("en", swedish)
    assert english != swedish
    question = "Hello, we would like to book a sports hall for our football club on Sundays ({n})"
    async with running_bot(settings):
        await fake.wait_for("getUpdates", timeout=TIMEOUT)
        sent = int(time.time()) - 10
        for n in range(5):
            await h.processed(fake.user_message(writer, question.format(n=n), date=sent))
        assert len(h.enquiries_of(writer)) == 2
        assert len(h.sent_to(writer, has(english))) == 1
        assert not h.sent_to(writer, has(swedish))
    day = datetime.fromtimestamp(sent, UTC).date()
    with Session(engine) as session:
        assert (f"telegram:{writer}", 3) in refusals_on(session, day=day)


async def test_several_questions_a_minute_one_after_another_pass(
    bare: tuple[FakeTelegram, Engine], rasa_stack: Settings
) -> None:
    """With the default limit, a question every 6 s for a minute is answered every time."""
    fake, engine = bare
    settings = bot_settings(rasa_stack, fake)
    h = Harness(fake=fake, settings=settings, engine=engine)
    writer = new_user_id()
    async with running_bot(settings):
        await fake.wait_for("getUpdates", timeout=TIMEOUT)
        sent = int(time.time()) - 70
        for n in range(10):
            update = fake.user_message(writer, f"{QUESTIONS[n % 4]} ({n})", date=sent + 6 * n)
            await h.processed(update)
        enquiries = h.enquiries_of(writer)
        assert len(enquiries) == 10
        for enquiry in enquiries:
            assert enquiry.reference and h.sent_to(writer, has(enquiry.reference))
        notice = "Du skickar många meddelanden på kort tid. Vänta en stund och skriv sedan igen."
        assert not h.sent_to(writer, has(notice))


# ---------------------------------------------------------------------- 2. bad input


async def test_bad_input_is_answered_politely_and_changes_nothing(
    bare: tuple[FakeTelegram, Engine], rasa_stack: Settings
) -> None:
    fake, engine = bare
    settings = bot_settings(rasa_stack, fake)
    h = Harness(fake=fake, settings=settings, engine=engine)
    user, clerk, coordinator = new_user_id(), new_user_id(), new_user_id()
    h.add_staff(clerk, "staff", "kultur_fritid")
    h.add_staff(coordinator, "coordinator", None)
    async with running_bot(settings):
        await fake.wait_for("getUpdates", timeout=TIMEOUT)
        fake.command(user, "/start")
        welcome = await h.message_to(user, has("Storåsa kommun"))
        await h.settle()

        # Malformed and forged button data: an answer, and not one row changed.
        before = row_counts(engine)
        for data in [
            "q:claim:notanumber",
            "dept:answer:999999999",
            "fb:1:x",
            "fb:999999999:y",
            "q:to:1:../../etc",
            "\x00\x01\xff",
            "lang:xx",
            "%s%s%n" * 4,
            "",
        ]:
            press = fake.callback(user, data, message_id=welcome["message_id"])
            answer = await h.callback_answer(press)
            await h.processed(press)
            assert "Traceback" not in str(answer.get("text", "")), data
        assert row_counts(engine) == before

        # Commands with bad arguments: a clear answer saying how to write them.
        mark = h.mark()
        fake.command(clerk, "/absent", "tomorrow")
        await h.message_to(clerk, has("/absent 2026-12-01 2026-12-10"), after=mark)
        fake.command(clerk, "/verify")
        await h.message_to(clerk, has("/verify topic_bidrag"), after=mark)
        fake.command(coordinator, "/queue", "nonsense")
        await h.message_to(coordinator, has("Okänd förvaltning 'nonsense'"), after=mark)
        await h.settle()
        assert row_counts(engine) == before

        # An unknown reference number: "cannot find", no new enquiry.
        fake.user_message(user, "IF Tålamod")  # the association the bot asked for
        await h.message_to(user, has("IF Tålamod"), after=mark)
        mark = h.mark()
        fake.user_message(user, "Hur går det med LOT-2026-99999?")
        await h.message_to(user, has("hittar inget ärende", "LOT-2026-99999"), after=mark)
        assert h.enquiries_of(user) == []

        # Empty, invisible and control-character-only text: the empty-message answer.
        for text in ["   ", "\u200b\u0007 ", "\u2060\u200e\t"]:
            mark = h.mark()
            update = fake.user_message(user, text)
            await h.message_to(user, has("Ditt meddelande var tomt."), after=mark)
            await h.processed(update)
        assert h.enquiries_of(user) == []

        # Binary-looking text is cleaned and handled like any question.
        mark = h.mark()
        update = fake.user_message(user, "\x00\x01\x02 hej")
        await h.processed(update)
        await h.settle()
        assert h.sent_to(user, after=mark)
        for enquiry in h.enquiries_of(user):
            assert "\x00" not in enquiry.text
        with Session(engine) as session:
            errors = session.exec(
                select(InboxUpdate).where(col(InboxUpdate.error).is_not(None))
            ).all()
            assert errors == []


async def test_a_reply_telegram_refuses_once_is_sent_on_the_retry(
    bare: tuple[FakeTelegram, Engine], rasa_stack: Settings
) -> None:
    fake, engine = bare
    settings = bot_settings(rasa_stack, fake)
    h = Harness(fake=fake, settings=settings, engine=engine)
    user = new_user_id()
    async with running_bot(settings):
        await fake.wait_for("getUpdates", timeout=TIMEOUT)
        fake.fail_next("sendMessage", status=502)  # the reply to the question is lost once
        update = fake.user_message(user, QUESTIONS[0])
        reply = await h.message_to(user, has("LOT-"))
        await h.processed(update)
        (enquiry,) = h.enquiries_of(user)
        assert enquiry.reference and enquiry.reference in reply["text"]
        assert len(h.sent_to(user, has("LOT-"))) == 1
        assert [r.status for r in fake.requests if r.method == "sendMessage"][:1] == [502]
        with Session(engine) as session:
            # The question was handled once; its reply waited in the outbox for the retry.
            row = session.get(InboxUpdate, update["update_id"])
            assert row is not None and row.attempts == 1 and row.error is None
            reply_row = session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.enquiry_id == enquiry.id, OutboxMessage.recipient == "association"
                )
            ).one()
            assert reply_row.attempts == 1 and reply_row.sent_at is not None


# ---------------------------------------------------------------------- 3. deadlines


def _last_friday_15(weeks_back: int) -> datetime:
    """Return Friday 15:00 Stockholm time at least `weeks_back` weeks ago."""
    day = datetime.now(LOCAL) - timedelta(weeks=weeks_back)
    day -= timedelta(days=(day.weekday() - 4) % 7)
    return day.replace(hour=15, minute=0, second=0, microsecond=0)


async def test_sla_reminder_and_escalation_once_across_a_restart(
    bare: tuple[FakeTelegram, Engine], rasa_stack: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Weekends and evenings not counting is asserted at the DB level in
    # tests/test_workflow.py::test_deadlines_in_working_hours_reminder_then_escalation.
    fake, engine = bare
    settings = bot_settings(rasa_stack, fake)
    h = Harness(fake=fake, settings=settings, engine=engine)
    clerk, asker = new_user_id(), new_user_id()
    h.add_staff(clerk, "staff", "kultur_fritid")
    friday = _last_friday_15(weeks_back=3)
    now = datetime.now(LOCAL)
    with h.department_chat("kultur_fritid", new_group_id()) as dept_chat:
        with session_scope(engine) as session:
            department = departments.department_by_key(session=session, key="kultur_fritid")
            assert department is not None and department.sla_hours == 48
            user = telegram_person(session=session, telegram_user_id=asker, chat_id=asker)

            # A: routed a frozen Friday 15:00 three weeks ago. Working hours are 8–16 on
            # weekdays: 1 h that Friday + 5 × 8 h the week after = 41 h, so the reminder (36 h)
            # falls on the next Friday 11:00 and the deadline (48 h) on the Monday after at
            # 15:00, ten days after routing: both lie at least a week in the past.
            late, _ = crud.create_enquiry(
                session=session, text=QUESTIONS[0], language="sv", user=user, now=friday
            )
            crud.route_enquiry(
                session=session, enquiry=late, department=department, actor="test", now=friday
            )
            workflow.forward_to_department(
                session=session, enquiry=late, department=department, now=friday
            )
            assert late.sla_due_at is not None and late.sla_due_at < now - timedelta(days=7)

            # B: routed now, so its deadline is 48 working hours (≥ 6 days) ahead; its reminder
            # was due 36 working hours after the frozen Friday (that next Friday 11:00, two
            # weeks ago): real time lies between the two, so the sweep must remind, not escalate.
            nearly, _ = crud.create_enquiry(
                session=session, text=QUESTIONS[1], language="sv", user=user, now=now
            )
            crud.route_enquiry(
                session=session, enquiry=nearly, department=department, actor="test", now=now
            )
            workflow.forward_to_department(
                session=session, enquiry=nearly, department=department, now=now
            )
            nearly.reminder_due_at = add_working_hours(friday, 36)
            assert nearly.reminder_due_at == friday + timedelta(days=7, hours=-4)  # Fri 11:00
            assert late.sla_due_at == friday + timedelta(days=10)  # Monday 15:00
            assert nearly.sla_due_at is not None and nearly.sla_due_at > now + timedelta(days=5)
            late_id, nearly_id = late.id, nearly.id
            late_ref, nearly_ref = late.reference or "?", nearly.reference or "?"

        def reminders() -> list[dict[str, Any]]:
            return h.sent_to(dept_chat, has("Påminnelse", nearly_ref))

        def cards() -> list[dict[str, Any]]:
            return h.sent_to(
                COORDINATOR_CHAT,
                lambda m: late_ref in m["text"] and any(b.startswith("q:") for b in buttons(m)),
            )

        # Each sweep logs what it did (bot.channels.telegram.app.sweep_job): the test waits for
        # a sweep to have run instead of sleeping and hoping one did.
        caplog.set_level(logging.DEBUG, logger="bot.channels.telegram.app")

        def sweeps() -> list[str]:
            return [
                r.getMessage()
                for r in caplog.records
                if r.name == "bot.channels.telegram.app" and r.funcName == "sweep_job"
            ]

        async with running_bot(settings):
            await fake.wait_for("getUpdates", timeout=TIMEOUT)
            assert await eventually(lambda: reminders() and cards(), 20)
            assert await eventually(lambda: len(sweeps()) >= 1, 20), "no sweep ran"
            await h.delivered()  # whatever the sweep queued has gone out
        assert len(reminders()) == 1 and len(cards()) == 1
        assert not h.sent_to(dept_chat, has("Påminnelse", late_ref))
        assert not h.sent_to(COORDINATOR_CHAT, has(nearly_ref))
        assert late_id is not None and nearly_id is not None
        assert h.enquiry(late_id).status == EnquiryStatus.ESCALATED
        assert [e.reason for e in h.escalations(late_id)] == [EscalationReason.SLA]
        assert h.enquiry(nearly_id).status == EnquiryStatus.FORWARDED
        assert h.enquiry(nearly_id).reminded_at is not None
        assert h.escalations(nearly_id) == []
        counts = row_counts(engine)

        swept = len(sweeps())
        async with running_bot(settings):
            await fake.wait_for("getUpdates", timeout=TIMEOUT)
            # The restarted bot's first sweep runs about 1 s after start: wait until it has.
            assert await eventually(lambda: len(sweeps()) > swept, 20), "no sweep after restart"
            await h.delivered()
        assert sweeps()[swept:] == ["Deadline sweep: 0 reminded, 0 escalated"]
        assert len(reminders()) == 1 and len(cards()) == 1
        assert row_counts(engine) == counts
        assert [e.reason for e in h.escalations(late_id)] == [EscalationReason.SLA]


# ---------------------------------------------------------------------- 4. soak


def _kill_rasa(supervisor: Supervisor) -> int:
    """Kill the Rasa server child with SIGKILL (its whole process group); return its pid."""
    child = next(c for c in supervisor.children if c.name == "Rasa server")
    assert child.process is not None, "Rasa is not running"
    os.killpg(child.process.pid, signal.SIGKILL)
    return child.process.pid


def _rasa_healthy(settings: Settings) -> bool:
    try:
        response = httpx.get(f"{settings.rasa_url}/status", timeout=2.0)
        return response.status_code == 200 and bool(response.json().get("model_file"))
    except (httpx.HTTPError, ValueError):
        return False


def _soak_counts(engine: Engine, keys: set[str]) -> tuple[int, int]:
    with Session(engine) as session:
        unprocessed = session.exec(
            select(func.count())
            .select_from(InboxUpdate)
            .where(col(InboxUpdate.processed_at).is_(None))
        ).one()
        done = session.exec(
            select(func.count()).select_from(Enquiry).where(col(Enquiry.message_key).in_(keys))
        ).one()
    return int(done), int(unprocessed)


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_soak_with_a_rasa_restart_in_the_middle(
    bare: tuple[FakeTelegram, Engine], rasa_stack: Settings, rasa_supervisor: Supervisor
) -> None:
    fake, engine = bare
    settings = bot_settings(rasa_stack, fake)
    users = [new_user_id() for _ in range(300)]
    per_user = 5
    sent: dict[str, int] = {}  # message key -> user

    def send_round(round_: int) -> None:
        for n, user in enumerate(users):
            update = fake.user_message(user, f"{QUESTIONS[(n + round_) % 4]} ({round_})")
            sent[f"telegram:{user}:{update['message']['message_id']}"] = user

    started = time.monotonic()
    async with running_bot(settings):
        await fake.wait_for("getUpdates", timeout=TIMEOUT)
        send_round(0)
        send_round(1)
        assert await eventually(lambda: _soak_counts(engine, set(sent))[0] >= 300, 90)
        killed = _kill_rasa(rasa_supervisor)
        killed_at = time.monotonic()
        send_round(2)
        send_round(3)
        assert await eventually(lambda: _rasa_healthy(settings), 120, 0.5), "Rasa not back"
        back_after = time.monotonic() - killed_at
        send_round(4)
        keys = set(sent)
        assert await eventually(lambda: _soak_counts(engine, keys) == (len(keys), 0), 150, 0.5), (
            _soak_counts(engine, keys),
            len(keys),
        )
        # Let the last replies go out.
        harness = Harness(fake=fake, settings=settings, engine=engine)
        await harness.delivered(180, recipient="association")
    elapsed = time.monotonic() - started
    rasa = next(c for c in rasa_supervisor.children if c.name == "Rasa server")
    assert rasa.process is not None and rasa.process.pid != killed
    crash_reports = [line for line in rasa_supervisor.reported if "stopped unexpectedly" in line]
    assert crash_reports and "Rasa server" in crash_reports[-1]
    assert str(rasa.log_path) in crash_reports[-1]

    with Session(engine) as session:
        enquiries = session.exec(select(Enquiry).where(col(Enquiry.message_key).in_(keys))).all()
        inbox = session.exec(select(InboxUpdate)).all()
        unavailable = escalations_of(session, keys, EscalationReason.UNAVAILABLE)
    assert len(sent) == len(users) * per_user
    assert Counter(e.message_key for e in enquiries) == Counter(keys)
    assert all(row.processed_at is not None and row.error is None for row in inbox)
    assert len(inbox) == len(keys)
    by_user: dict[int, set[str]] = {}
    for enquiry in enquiries:
        assert enquiry.reference is not None
        by_user.setdefault(sent[enquiry.message_key or ""], set()).add(enquiry.reference)
    for user in users:
        replies = [m["text"] for m in fake.sent_messages(chat_id=user) if "LOT-" in m["text"]]
        assert len(replies) == per_user, (user, replies)
        assert {ref for ref in by_user[user] if any(ref in text for text in replies)} == (
            by_user[user]
        )
    print(
        f"\nsoak: {len(keys)} messages from {len(users)} users in {elapsed:.1f} s "
        f"({len(keys) / elapsed:.1f} msg/s); Rasa back after {back_after:.1f} s; "
        f"{unavailable} registered while Rasa was unavailable"
    )


# ---------------------------------------------------------------------- 5. database restart


def _postgres_version() -> str | None:
    if not POSTGRES_URL or shutil.which("pg_ctlcluster") is None:
        return None
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*") if p.name[:1].isdigit())
    return versions[-1] if versions else None


def _pg_ready(timeout: float = 60) -> None:
    def ready() -> bool:
        command = ["pg_isready", "-h", "127.0.0.1", "-q"]
        return subprocess.run(command, check=False).returncode == 0

    assert wait_until(ready, timeout, 0.5), "PostgreSQL did not come back"


@pytest.mark.postgres
async def test_postgres_restart_loses_and_doubles_nothing(rasa_stack: Settings) -> None:
    version = _postgres_version()
    if version is None:
        pytest.skip("needs LOTSEN_TEST_POSTGRES_URL and pg_ctlcluster (a local PostgreSQL)")
    assert POSTGRES_URL is not None
    url, name = _fresh_postgres(POSTGRES_URL)
    engine = migrate_and_seed(url)
    try:
        async with start_fake_telegram() as fake:
            settings = bot_settings(
                rasa_stack,
                fake,
                database_url=url,
                rasa_url=f"http://127.0.0.1:{free_port()}",
                rate_limit_burst=1000,  # each user writes every 0.1 s during the restart
            )
            users = [new_user_id() for _ in range(4)]
            keys: list[str] = []

            def send(label: str) -> None:
                for n, user in enumerate(users):
                    update = fake.user_message(user, f"{QUESTIONS[n]} ({label})")
                    keys.append(f"telegram:{user}:{update['message']['message_id']}")

            async with running_bot(settings) as task:
                await fake.wait_for("getUpdates", timeout=TIMEOUT)
                send("före")
                assert await eventually(lambda: _soak_counts(engine, set(keys))[0] == 4, 30)
                restart = asyncio.create_task(
                    asyncio.to_thread(
                        subprocess.run,
                        ["pg_ctlcluster", version, "main", "restart"],
                        check=True,
                        capture_output=True,
                    )
                )
                while not restart.done():  # keep messages coming while the server is down
                    send("under")
                    await asyncio.sleep(0.1)  # the pace of the messages (not a wait for anything)
                await restart
                await asyncio.to_thread(_pg_ready)
                send("efter")
                done = await eventually(
                    lambda: _soak_counts(engine, set(keys)) == (len(keys), 0), 90, 0.5
                )
                assert not task.done(), "the bot died"
                assert done, _soak_counts(engine, set(keys))
                harness = Harness(fake=fake, settings=settings, engine=engine)
                await harness.delivered(90, recipient="association")
            with Session(engine) as session:
                found = session.exec(
                    select(Enquiry.message_key).where(col(Enquiry.message_key).in_(keys))
                ).all()
                references = {
                    key: ref
                    for key, ref in session.exec(
                        select(Enquiry.message_key, Enquiry.reference).where(
                            col(Enquiry.message_key).in_(keys)
                        )
                    ).all()
                }
            assert Counter(found) == Counter(keys)
            for user in users:
                replies = [m for m in fake.sent_messages(chat_id=user) if "LOT-" in m["text"]]
                own = {
                    ref
                    for key, ref in references.items()
                    if key and key.startswith(f"telegram:{user}:")
                }
                answered = {ref for ref in own if ref and any(ref in m["text"] for m in replies)}
                # Every question got its reference. A reply may come twice only when the
                # database went away after Telegram took it but before the outbox row was
                # marked sent (the enquiry itself is never doubled).
                assert answered == own
                assert len(own) == len(keys) // len(users)
                assert len(own) <= len(replies) <= len(own) + 2
    finally:
        await asyncio.to_thread(_pg_ready)
        engine.dispose()
        _drop_postgres(POSTGRES_URL, name)
