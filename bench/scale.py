"""Scale-out: the whole path with the bot in its own process, and the CPU every message costs.

The stack is started as `lotsen run` starts it (the supervisor), the bot runs as `lotsen bot`
in a process of its own and polls the fake Telegram server of this process, and closed-loop
users ask questions. For each phase: latency, throughput, loss, and the CPU time the bot, the
Rasa server(s) and the action server(s) spent per answered message (from /proc, so the fake
Telegram server and the load generator are not counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import col, func, select

from bench.cpu import CpuMeter
from bench.data import nlu_examples
from bench.latency import E2E_USER_BASE, Load
from bot.processes.supervisor import Supervisor, settings_env
from bot.settings import PROJECT_ROOT, Settings
from db.models import Enquiry, Escalation, EscalationReason
from db.plumbing.session import make_engine

SCALE_LEVELS = {1: 20, 10: 10, 50: 4}
SMOKE_SCALE_LEVELS = {1: 15, 5: 2}
"""Fifteen messages at 1 user: CPU is read in 10 ms ticks per process, so fewer are too coarse."""
WARM_UP = 3
WARM_UP_USERS = E2E_USER_BASE + 90_000
"""Clear of the phases' users (E2E_USER_BASE + phase × 100 000) and of the tests' users."""

BEFORE_CPU_MS = {
    "sqlite": {1: 63.5, 10: 56.8, 50: 59.7},
    "postgresql": {1: 75.5, 10: 61.6, 50: 65.2},
}
"""CPU per answered message (ms: bot + Rasa + action server) before issue 17, measured with this
module on the code of commit 79e70f3 (one Rasa server, no lock store), SCALE_LEVELS users."""


def load_texts(count: int = 200) -> list[str]:
    """Return questions that become enquiries: topic examples the model was trained on."""
    texts = [
        text
        for intent, text in nlu_examples(PROJECT_ROOT / "nlu")
        if intent.startswith("topic_") and len(text) >= 30
    ]
    step = max(1, len(texts) // count)
    return texts[::step][:count]


def rasa_failed(database_url: str, keys: Sequence[str]) -> int:
    """Count the questions Rasa did not handle (registered as "Rasa unavailable")."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count())
                    .select_from(Escalation)
                    .join(Enquiry, col(Enquiry.id) == Escalation.enquiry_id)
                    .where(
                        col(Enquiry.message_key).in_(list(keys)),
                        Escalation.reason == EscalationReason.UNAVAILABLE,
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def bot_env(settings: Settings, fake: Any) -> dict[str, str]:
    """Return the environment of a `lotsen bot` process for these settings and the fake."""
    env = dict(os.environ)
    env.update(settings_env(settings))
    env.update(
        {
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_BASE_URL": fake.api_root,
            "TELEGRAM_POLL_TIMEOUT": "10",
            "RATE_LIMIT_BURST": "1000000",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@contextmanager
def bot_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run `lotsen bot` until the block ends."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "bot"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def child_groups(supervisor: Supervisor) -> dict[str, list[int]]:
    """Return the keeper pids of the supervised children, by kind (Rasa, action server)."""
    groups: dict[str, list[int]] = {"rasa": [], "actions": []}
    for child in supervisor.children:
        if child.process is None:
            continue
        kind = "rasa" if child.name.startswith("Rasa") else "actions"
        groups[kind].append(child.process.pid)
    return groups


async def measure(
    supervisor: Supervisor,
    levels: dict[int, int],
    texts: Sequence[str],
    log: Path,
    *,
    report: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Drive a `lotsen bot` process on a running stack through every load level."""
    from harness.fake_telegram import start_fake_telegram

    settings = supervisor.settings
    phases: list[dict[str, Any]] = []
    async with start_fake_telegram() as fake:
        load = Load(settings, fake, texts)
        watcher = asyncio.get_running_loop().create_task(load.watcher.run())
        try:
            with bot_process(bot_env(settings, fake), log) as bot:
                for n in range(WARM_UP):
                    latency, _ = await load.ask(WARM_UP_USERS + n, texts[n % len(texts)])
                    if latency is None:
                        raise RuntimeError(f"the bot did not answer; see {log}")
                meter = CpuMeter({"bot": [bot.pid], **child_groups(supervisor)})
                for users, per_user in levels.items():
                    report(f"scale: {users} users × {per_user}")
                    meter.restart()
                    phase = await load.end_to_end(users, per_user)
                    summary = phase.summary()
                    summary["cpu_ms_per_message"] = meter.per_message(len(phase.latencies))
                    summary["machine_busy"] = meter.machine_busy()
                    summary["rasa_failed"] = await asyncio.to_thread(
                        rasa_failed, settings.database_url, phase.keys
                    )
                    phases.append(summary)
                    if bot.poll() is not None:
                        raise RuntimeError(f"the bot stopped during the benchmark; see {log}")
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    zero_loss = [p["throughput_per_s"] for p in phases if p["zero_loss"]]
    return {
        "levels": phases,
        "sustained_rate_per_s": max(zero_loss) if zero_loss else None,
        "extra_messages_to_users": load.watcher.extra_messages,
    }


@dataclass(frozen=True)
class Topology:
    """One way to run the stack: database, Rasa replicas, and whether Redis holds the locks."""

    backend: str
    replicas: int
    lock_store: bool

    @property
    def name(self) -> str:
        """Return the topology's label, e.g. "postgresql, 2 Rasa + Redis"."""
        return f"{self.backend}, {self.replicas} Rasa" + (" + Redis" if self.lock_store else "")


def topologies(postgres_url: str | None, replicas: Sequence[int]) -> list[Topology]:
    """Return today's default (SQLite, one Rasa) and, on PostgreSQL with Redis, each count."""
    plan = [Topology("sqlite", 1, lock_store=False)]
    if postgres_url:
        plan += [Topology("postgresql", n, lock_store=True) for n in replicas]
    return plan


def run_scale(
    folder: Path,
    *,
    postgres_url: str | None,
    replicas: Sequence[int] = (1, 2),
    smoke: bool = False,
    report: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Measure every topology, one after the other, with the same load."""
    from bench.stack import COORDINATOR_CHAT, fresh_postgres
    from harness.stack import running_redis, running_stack, stack_settings

    levels = SMOKE_SCALE_LEVELS if smoke else SCALE_LEVELS
    texts = load_texts()
    out: list[dict[str, Any]] = []
    for number, topology in enumerate(topologies(postgres_url, replicas)):
        here = folder / f"scale-{number}"
        with contextlib.ExitStack() as stack:
            overrides: dict[str, object] = {
                "coordinator_chat_id": COORDINATOR_CHAT,
                "rasa_replicas": topology.replicas,
            }
            if topology.backend == "postgresql":
                assert postgres_url is not None
                overrides["database_url"] = stack.enter_context(fresh_postgres(postgres_url))
                overrides["tracker_db_url"] = None
            if topology.lock_store:
                overrides["lock_store_url"] = stack.enter_context(running_redis(here / "redis"))
            report(f"scale: starting {topology.name} …")
            started = time.perf_counter()
            supervisor = stack.enter_context(running_stack(stack_settings(here, **overrides)))
            ready = round(time.perf_counter() - started, 1)
            result = asyncio.run(
                measure(supervisor, levels, texts, here / "bot.log", report=report)
            )
        out.append(
            {
                "topology": topology.name,
                "backend": topology.backend,
                "replicas": topology.replicas,
                "lock_store": topology.lock_store,
                "stack_ready_s": ready,
                **result,
            }
        )
    return out
