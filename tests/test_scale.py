"""Scale-out with real parts: two Rasa replicas with a Redis lock store and PostgreSQL.

One stack for the module (two Rasa servers are heavy): 500 messages from 50 associations are
answered once each and in order; one replica is killed mid-way and the other takes over; two
bot processes in webhook mode share one database and one webhook port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.processes import procfs
from bot.processes.supervisor import Child, Supervisor
from bot.settings import PROJECT_ROOT, Settings
from db.models import Enquiry, EscalationReason, InboxUpdate
from db.plumbing.session import make_engine
from harness.fake_telegram import FakeTelegram, start_fake_telegram
from harness.ports import free_port
from harness.stack import running_redis, running_stack, stack_settings
from harness.telegram import (
    Harness,
    bot_settings,
    escalations_of,
    new_user_id,
    progress,
    reset_transport_tables,
    running_bot,
)
from harness.wait import eventually
from tests.conftest import POSTGRES_URL, _drop_postgres, _fresh_postgres

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(600)]

QUESTIONS = [
    "Hur söker vår förening aktivitetsstöd för barn och unga?",
    "Vi vill boka en idrottshall på söndagar, hur gör vi?",
    "Behöver vi bygglov för att bygga ett förråd vid klubbstugan?",
    "Vi vill ha en marknad på torget i maj, vem ger tillstånd att använda torget?",
    "Kan vår förening få hjälp med läxhjälp för barn på skolan?",
]
COORDINATOR_CHAT = -1_000_000_000_017


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    """Run two Rasa replicas and one action server on PostgreSQL with a Redis lock store."""
    if not POSTGRES_URL:
        pytest.skip("needs PostgreSQL (LOTSEN_TEST_POSTGRES_URL)")
    url, name = _fresh_postgres(POSTGRES_URL)
    folder = tmp_path_factory.mktemp("replicas")
    try:
        with running_redis(folder / "redis") as redis_url:
            settings = stack_settings(
                folder,
                database_url=url,
                tracker_db_url=None,
                rasa_replicas=2,
                lock_store_url=redis_url,
                coordinator_chat_id=COORDINATOR_CHAT,
            )
            with running_stack(settings) as supervisor:
                yield supervisor
    finally:
        _drop_postgres(POSTGRES_URL, name)


def _rasa(supervisor: Supervisor, name: str) -> Child:
    return next(child for child in supervisor.children if child.name == name)


def _cpu_seconds(child: Child) -> float:
    """Return the CPU time the processes of a child's group have used so far."""
    assert child.process is not None
    ticks = 0
    for pid in procfs.group_members(child.process.pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _done(engine: Engine, keys: list[str]) -> tuple[int, int]:
    with Session(engine) as session:
        return progress(session, keys)


async def _until(engine: Engine, keys: list[str], count: int, timeout: float) -> bool:
    def reached() -> bool:
        done, waiting = _done(engine, keys)
        return done >= count and (count < len(keys) or waiting == 0)

    return await eventually(reached, timeout, 0.5)


def _send(fake: FakeTelegram, users: list[int], rounds: range) -> dict[int, list[str]]:
    """Queue one question per user per round (all at once); return each user's keys in order."""
    sent: dict[int, list[str]] = {user: [] for user in users}
    for round_ in rounds:
        for n, user in enumerate(users):
            update = fake.user_message(
                user, f"{QUESTIONS[(n + round_) % len(QUESTIONS)]} ({round_})"
            )
            sent[user].append(f"telegram:{user}:{update['message']['message_id']}")
    return sent


def _assert_once_each_and_in_order(
    engine: Engine, fake: FakeTelegram, sent: dict[int, list[str]]
) -> None:
    """Every message made one enquiry and one answer; each chat's in the order it wrote them."""
    keys = [key for user_keys in sent.values() for key in user_keys]
    with Session(engine) as session:
        enquiries = session.exec(
            select(Enquiry).where(col(Enquiry.message_key).in_(keys)).order_by(col(Enquiry.id))
        ).all()
        unavailable = escalations_of(session, keys, EscalationReason.UNAVAILABLE)
    assert Counter(e.message_key for e in enquiries) == Counter(keys)  # 0 lost, 0 doubled
    assert unavailable == 0  # Rasa answered every one (no "Rasa unavailable" escalation)
    by_key = {e.message_key: e for e in enquiries}
    for user, user_keys in sent.items():
        ids = [by_key[key].id for key in user_keys]
        assert ids == sorted(ids), f"chat {user} was processed out of order"
        answers = [m["text"] for m in fake.sent_messages(chat_id=user) if "LOT-" in m["text"]]
        references = [by_key[key].reference for key in user_keys]
        assert len(answers) == len(user_keys), (user, answers)
        assert all(
            ref is not None and ref in text for ref, text in zip(references, answers, strict=True)
        ), (user, references, answers)


async def _run_load(
    supervisor: Supervisor, kill: str | None = None
) -> tuple[Engine, FakeTelegram, dict[int, list[str]]]:
    """Send 10 questions from each of 50 associations; kill a replica after 150 are done."""
    engine = make_engine(supervisor.settings.database_url)
    reset_transport_tables(engine)
    fake = await start_fake_telegram()
    settings = bot_settings(supervisor.settings, fake, rate_limit_burst=1000)
    users = [new_user_id() for _ in range(50)]
    async with running_bot(settings) as task:
        await fake.wait_for("getUpdates", timeout=30)
        sent = _send(fake, users, range(5))
        keys = [key for user_keys in sent.values() for key in user_keys]
        assert await _until(engine, keys, 150, 180), _done(engine, keys)
        if kill is not None:
            child = _rasa(supervisor, kill)
            assert child.process is not None
            os.killpg(child.process.pid, signal.SIGKILL)
        more = _send(fake, users, range(5, 10))
        for user in users:
            sent[user] += more[user]
        keys = [key for user_keys in sent.values() for key in user_keys]
        assert await _until(engine, keys, len(keys), 240), _done(engine, keys)
        await Harness(fake=fake, settings=settings, engine=engine).delivered(
            60, recipient="association"
        )
        assert not task.done()
    return engine, fake, sent


async def test_two_replicas_answer_500_messages_from_50_associations_once_each_in_order(
    replicas: Supervisor,
) -> None:
    first, second = _rasa(replicas, "Rasa server"), _rasa(replicas, "Rasa server 2")
    before = (_cpu_seconds(first), _cpu_seconds(second))
    engine, fake, sent = await _run_load(replicas)
    try:
        assert sum(len(keys) for keys in sent.values()) == 500
        _assert_once_each_and_in_order(engine, fake, sent)
        worked = (_cpu_seconds(first) - before[0], _cpu_seconds(second) - before[1])
        assert min(worked) > 1.0, f"the conversations were not spread: CPU {worked}"
    finally:
        await fake.close()
        engine.dispose()


async def test_a_replica_killed_mid_way_is_replaced_by_the_other_and_comes_back(
    replicas: Supervisor,
) -> None:
    killed = _rasa(replicas, "Rasa server 2")
    assert killed.process is not None
    old_pid = killed.process.pid
    engine, fake, sent = await _run_load(replicas, kill="Rasa server 2")
    try:
        assert sum(len(keys) for keys in sent.values()) == 500
        _assert_once_each_and_in_order(engine, fake, sent)
        reports = [line for line in replicas.reported if "stopped unexpectedly" in line]
        assert reports and reports[-1].startswith("!! Rasa server 2 stopped unexpectedly")
        # The supervisor restarts it (back-off, then about a minute).
        await eventually(
            lambda: (
                killed.process is not None
                and killed.process.pid != old_pid
                and replicas._serves(killed)
            ),
            120,
            0.5,
        )
        assert killed.process is not None and killed.process.pid != old_pid
        assert replicas._serves(killed), "the killed replica did not come back"
    finally:
        await fake.close()
        engine.dispose()


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "bot"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def _worker_env(settings: Settings, fake: FakeTelegram, port: int) -> dict[str, str]:
    from bot.processes.supervisor import settings_env

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LOTSEN_"))}
    env.update(settings_env(settings))
    env.update(
        {
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_BASE_URL": fake.api_root,
            "TELEGRAM_MODE": "webhook",
            "WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram",
            "WEBHOOK_SECRET": "scale-test-secret",
            "WEBHOOK_LISTEN": "127.0.0.1",
            "WEBHOOK_PORT": str(port),
            "BOT_WORKERS": "2",
            "RATE_LIMIT_BURST": "1000",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


async def test_two_bot_workers_in_webhook_mode_share_one_database_and_survive_a_kill(
    replicas: Supervisor, tmp_path: Path
) -> None:
    engine = make_engine(replicas.settings.database_url)
    reset_transport_tables(engine)
    port = free_port()
    async with start_fake_telegram(webhook_new_connections=True) as fake:
        env = _worker_env(replicas.settings, fake, port)
        workers = [_start_worker(env, tmp_path / f"bot-{n}.log") for n in (1, 2)]
        try:
            await fake.wait_for_count("setWebhook", 2, timeout=60)
            users = [new_user_id() for _ in range(20)]
            sent = _send(fake, users, range(4))
            keys = [key for user_keys in sent.values() for key in user_keys]
            assert await _until(engine, keys, 40, 120), _done(engine, keys)
            workers[0].send_signal(signal.SIGKILL)  # mid-stream: its claims run out
            workers[0].wait(10)
            more = _send(fake, users, range(4, 10))
            for user in users:
                sent[user] += more[user]
            keys = [key for user_keys in sent.values() for key in user_keys]
            logs = "".join(p.read_text()[-2000:] for p in tmp_path.glob("bot-*.log"))
            assert await _until(engine, keys, len(keys), 240), (_done(engine, keys), logs)
            harness = Harness(fake=fake, settings=replicas.settings, engine=engine)
            await harness.delivered(150, recipient="association")  # the killed one's leases end
            _assert_once_each_and_in_order(engine, fake, sent)
            with Session(engine) as session:
                workers_seen = session.exec(
                    select(InboxUpdate.claimed_by).where(col(InboxUpdate.processed_at).is_not(None))
                ).all()
            assert len(set(workers_seen)) == 2, Counter(workers_seen)  # both did work
            assert workers[1].poll() is None, logs
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.terminate()
                    try:
                        worker.wait(20)
                    except subprocess.TimeoutExpired:
                        worker.kill()
            engine.dispose()


async def test_the_scale_benchmark_measures_cpu_per_message_on_the_replicas(
    replicas: Supervisor, tmp_path: Path
) -> None:
    from bench.scale import load_texts, measure

    engine = make_engine(replicas.settings.database_url)
    reset_transport_tables(engine)
    engine.dispose()
    result = await measure(replicas, {1: 2, 4: 2}, load_texts(), tmp_path / "bot.log", report=print)
    assert [level["users"] for level in result["levels"]] == [1, 4]
    for level in result["levels"]:
        assert level["zero_loss"] and level["rasa_failed"] == 0, level
        cpu = level["cpu_ms_per_message"]
        assert cpu["bot"] > 0 and cpu["rasa"] > 0 and cpu["actions"] > 0
        assert cpu["total"] == pytest.approx(cpu["bot"] + cpu["rasa"] + cpu["actions"], abs=0.2)
    assert result["sustained_rate_per_s"] > 0
