"""Crash safety: kill -9 the real bot mid-stream, or `lotsen run` itself; nothing is left over."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from sqlmodel import Session, col, func, select

from bot.settings import PROJECT_ROOT, Settings
from db.models import Enquiry, InboxUpdate
from db.session import make_engine
from tests.conftest import migrate_and_seed
from tests.fake_telegram import FakeTelegram, start_fake_telegram
from tests.process_helpers import alive, clean_env, descendants, kill_all, listening, wait_until
from tests.stack import free_port
from tests.telegram_fixtures import reset_transport_tables

QUESTIONS = [
    "Hur söker vår förening aktivitetsstöd för barn och unga?",
    "Vi vill boka en idrottshall på söndagar, hur gör vi?",
    "Behöver vi bygglov för att bygga ett förråd vid klubbstugan?",
    "Vi vill ha en marknad på torget i maj, vem ger tillstånd att använda torget?",
]


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """Run the fake Telegram Bot API server."""
    async with start_fake_telegram() as server:
        yield server


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
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "bot"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def _counts(settings: Settings, keys: list[str]) -> tuple[int, int]:
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        enquiries = session.exec(
            select(func.count()).select_from(Enquiry).where(col(Enquiry.message_key).in_(keys))
        ).one()
        unprocessed = session.exec(
            select(func.count())
            .select_from(InboxUpdate)
            .where(col(InboxUpdate.processed_at).is_(None))
        ).one()
    engine.dispose()
    return int(enquiries), int(unprocessed)


async def _wait_until(predicate: object, timeout: float) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.2)
    return False


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
                keys.append(f"tg:{user}:{update['message']['message_id']}")
        await _wait_until(lambda: _counts(rasa_stack, keys)[0] >= 3, 60)
        bot.send_signal(signal.SIGKILL)
        bot.wait(10)
        for n, user in enumerate(users):
            update = fake.user_message(user, f"{QUESTIONS[n % len(QUESTIONS)]} (efter krasch)")
            keys.append(f"tg:{user}:{update['message']['message_id']}")
        bot = _start_bot(rasa_stack, fake, log)
        done = await _wait_until(lambda: _counts(rasa_stack, keys) == (len(keys), 0), 120)
        enquiries, unprocessed = _counts(rasa_stack, keys)
        assert done, (
            f"{enquiries}/{len(keys)} enquiries, {unprocessed} unprocessed; "
            + log.read_text()[-3000:]
        )
        assert enquiries == len(keys)
        assert unprocessed == 0
        for user in users:
            answers = [m for m in fake.sent_messages(chat_id=user) if "LOT-" in m["text"]]
            assert len(answers) >= 3
    finally:
        bot.send_signal(signal.SIGTERM)
        try:
            bot.wait(15)
        except subprocess.TimeoutExpired:
            bot.kill()


def test_kill_minus_nine_of_lotsen_run_leaves_no_process_and_no_port_behind(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'lotsen.db'}"
    migrate_and_seed(url).dispose()
    rasa_port, action_port = free_port(), free_port()
    env = clean_env(
        DATABASE_URL=url,
        TRACKER_DB_URL=f"sqlite:///{tmp_path / 'tracker.db'}",
        RASA_PORT=str(rasa_port),
        RASA_URL=f"http://127.0.0.1:{rasa_port}",
        ACTION_PORT=str(action_port),
        WEB_PORT=str(free_port()),
    )
    log = tmp_path / "run.log"
    run = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.PIPE,  # the console chat waits for questions
        stdout=subprocess.DEVNULL,
        stderr=log.open("a"),
    )
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
