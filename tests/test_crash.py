"""Crash safety: kill -9 the real bot mid-stream, or `lotsen run` itself; nothing is left over.

With a Telegram token pointing at the fake server, `lotsen run` (supervisor, bot, Rasa, action
server) is killed with SIGKILL during a burst of questions and started again: no question is
lost and none is answered twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, func, select

from bot.channels.telegram.outbox import MAX_ATTEMPTS as OUTBOX_MAX_ATTEMPTS
from bot.settings import Settings
from db.models import Enquiry, OutboxMessage
from db.plumbing.session import make_engine
from harness.database import migrate_and_seed
from harness.fake_telegram import FakeTelegram
from harness.ports import free_port
from harness.processes import (
    alive,
    descendants,
    kill_all,
    listening,
    lotsen_env,
    run_lotsen,
)
from harness.telegram import COORDINATOR_CHAT, progress, reset_transport_tables
from harness.wait import eventually, wait_until

QUESTIONS = [
    "Hur söker vår förening aktivitetsstöd för barn och unga?",
    "Vi vill boka en idrottshall på söndagar, hur gör vi?",
    "Behöver vi bygglov för att bygga ett förråd vid klubbstugan?",
    "Vi vill ha en marknad på torget i maj, vem ger tillstånd att använda torget?",
]


def _start_bot(settings: Settings, fake: FakeTelegram, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        {
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_BASE_URL": fake.api_root,
            "TELEGRAM_POLL_TIMEOUT": "1",
            "DATABASE_URL": settings.database_url,
            "RASA_URL": settings.rasa_url,
            "LOG_LEVEL": "WARNING",
        }
    )
    return run_lotsen(env, log, command="bot")


def _counts(settings: Settings, keys: list[str]) -> tuple[int, int]:
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        done = progress(session, keys)
    engine.dispose()
    return done


async def test_kill_minus_nine_loses_and_doubles_nothing(
    rasa_stack: Settings, fake: FakeTelegram, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    engine = make_engine(rasa_stack.database_url)
    reset_transport_tables(engine)  # a new fake numbers its updates from 1 again
    engine.dispose()
    users = [9_100_000_000 + n for n in range(6)]
    keys: list[str] = []
    bot = _start_bot(rasa_stack, fake, log)
    try:
        for round_ in range(2):
            for n, user in enumerate(users):
                update = fake.user_message(
                    user, f"{QUESTIONS[(n + round_) % len(QUESTIONS)]} ({round_})"
                )
                keys.append(f"telegram:{user}:{update['message']['message_id']}")
        assert await eventually(lambda: _counts(rasa_stack, keys)[0] >= 3, 60)
        bot.send_signal(signal.SIGKILL)
        bot.wait(10)
        for n, user in enumerate(users):
            update = fake.user_message(user, f"{QUESTIONS[n % len(QUESTIONS)]} (efter krasch)")
            keys.append(f"telegram:{user}:{update['message']['message_id']}")
        bot = _start_bot(rasa_stack, fake, log)
        done = await eventually(lambda: _counts(rasa_stack, keys) == (len(keys), 0), 120)
        enquiries, unprocessed = _counts(rasa_stack, keys)
        assert done, (
            f"{enquiries}/{len(keys)} enquiries, {unprocessed} unprocessed; "
            + log.read_text()[-3000:]
        )
        assert enquiries == len(keys)
        assert unprocessed == 0

        def answers(user: int) -> list[dict[str, Any]]:
            return [m for m in fake.sent_messages(chat_id=user) if "LOT-" in m["text"]]

        # Recorded is not yet answered: the outbox sends each answer after its commit.
        await eventually(lambda: all(len(answers(user)) >= 3 for user in users), 60)
        for user in users:
            assert len(answers(user)) >= 3
    finally:
        bot.send_signal(signal.SIGTERM)
        try:
            bot.wait(15)
        except subprocess.TimeoutExpired:
            bot.kill()


def test_kill_minus_nine_of_lotsen_run_leaves_no_process_and_no_port_behind(
    tmp_path: Path,
) -> None:
    env = lotsen_env(tmp_path)
    migrate_and_seed(env["DATABASE_URL"]).dispose()
    rasa_port, action_port = int(env["RASA_PORT"]), int(env["ACTION_PORT"])
    log = tmp_path / "run.log"
    run = run_lotsen(env, log, stdin=subprocess.PIPE)  # the console chat waits for questions
    tree: dict[tuple[int, int], str] = {}
    try:
        assert wait_until(
            lambda: "Rasa server: ready" in log.read_text() or run.poll() is not None, 240
        )
        assert run.poll() is None, log.read_text()[-3000:]
        tree = descendants(run.pid)
        commands = "\n".join(tree.values())
        assert "lotsen_rasa.server run" in commands and "rasa_sdk" in commands, commands
        assert "multiprocessing" in commands, commands  # the action server's worker
        run.kill()
        run.wait(10)
        assert wait_until(lambda: not alive(tree), 60), f"still alive: {alive(tree)}"
        assert not listening(rasa_port)
        assert not listening(action_port)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)
        kill_all(tree)


def _delivery_state(url: str, keys: list[str]) -> tuple[int, int, int]:
    """Return (enquiries for the keys, updates still unprocessed, association replies unsent)."""
    engine = make_engine(url)
    with Session(engine) as session:
        enquiries, unprocessed = progress(session, keys)
        unsent = session.exec(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.recipient == "association",
                col(OutboxMessage.sent_at).is_(None),
                OutboxMessage.attempts < OUTBOX_MAX_ATTEMPTS,
            )
        ).one()
    engine.dispose()
    return enquiries, unprocessed, int(unsent)


@pytest.mark.timeout(900)
async def test_kill_minus_nine_of_lotsen_run_during_a_burst_loses_none_and_answers_none_twice(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    env = lotsen_env(
        tmp_path,
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_BASE_URL=fake.api_root,
        TELEGRAM_POLL_TIMEOUT="1",
        COORDINATOR_CHAT_ID=str(COORDINATOR_CHAT),
        RATE_LIMIT_BURST="1000",  # the burst comes faster than people write
        # The departments are reachable (by e-mail; nothing listens there, the mail waits in the
        # outbox), so every Telegram message of the burst is a reply to an association, not a
        # card for the coordinators about a department nobody can reach.
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(free_port()),
        SMTP_STARTTLS="false",
    )
    url = env["DATABASE_URL"]
    migrate_and_seed(url).dispose()
    log = tmp_path / "run.log"

    def start() -> subprocess.Popen[bytes]:
        return run_lotsen(env, log)

    def ask(label: str) -> None:
        for n, user in enumerate(users):
            update = fake.user_message(user, f"{QUESTIONS[n % len(QUESTIONS)]} ({label})")
            keys.append(f"telegram:{user}:{update['message']['message_id']}")

    def answers() -> list[Any]:
        return [r for r in fake.requests if r.method == "sendMessage" and r.params["chat_id"] > 0]

    users = [9_200_000_000 + n for n in range(12)]
    keys: list[str] = []
    tree: dict[tuple[int, int], str] = {}
    run = start()
    try:
        await fake.wait_for("getUpdates", timeout=240)  # Rasa, actions and the bot are up
        for round_ in range(4):
            ask(f"runda {round_}")
        assert await eventually(lambda: len(answers()) >= 8, 120), log.read_text()[-3000:]
        # Telegram takes the next reply, but its answer never reaches the bot: it dies first.
        fake.lose_answer("sendMessage", hang=True)
        seen = len(fake.requests)
        assert await eventually(
            lambda: any(r.method == "sendMessage" for r in fake.requests[seen:]), 60
        )
        hung = next(r for r in fake.requests[seen:] if r.method == "sendMessage")
        tree = descendants(run.pid)
        run.kill()
        run.wait(10)
        assert await eventually(lambda: not alive(tree), 60), f"still alive: {alive(tree)}"
        ask("under omstarten")
        run = start()
        done = await eventually(lambda: _delivery_state(url, keys) == (len(keys), 0, 0), 400)
        assert done, (_delivery_state(url, keys), len(keys), log.read_text()[-3000:])
    finally:
        tree.update(descendants(run.pid))
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(30)
        except subprocess.TimeoutExpired:
            run.kill()
        kill_all(tree)

    engine = make_engine(url)
    with Session(engine) as session:
        enquiries = session.exec(select(Enquiry).where(col(Enquiry.message_key).in_(keys))).all()
        replies = session.exec(
            select(OutboxMessage).where(OutboxMessage.recipient == "association")
        ).all()
    engine.dispose()
    assert Counter(e.message_key for e in enquiries) == Counter(keys)  # none lost, none doubled
    delivered = [r for r in answers() if r.ok]
    for user in users:
        texts = [r.params["text"] for r in delivered if r.params["chat_id"] == user]
        doubled = [text for text, count in Counter(texts).items() if count > 1]
        assert doubled == [], f"answered twice: {doubled}"
        mine = {e.reference for e in enquiries if e.chat_id == user}
        assert len(mine) == 5
        for reference in mine:
            assert sum(reference in text for text in texts) == 1, (reference, texts)
    # Every reply the outbox holds as sent is the message Telegram has under that id.
    by_id = {(r.params["chat_id"], r.response["message_id"]): r for r in delivered}
    assert all((int(r.address or 0), int(r.external_id or 0)) in by_id for r in replies)
    assert len(replies) == len(delivered)
    # The reply Telegram had taken when the bot died was found there, not sent again.
    where = (str(hung.params["chat_id"]), str(hung.response["message_id"]))
    assert [(r.address, r.external_id) for r in replies].count(where) == 1
