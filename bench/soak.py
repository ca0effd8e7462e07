"""The soak: thousands of questions through `lotsen run` while its parts are killed.

`lotsen run` (supervisor, bot, Rasa server, action server) runs as a process tree of its own,
with a Telegram token pointing at the fake Telegram server in this process, on a PostgreSQL
server of the soak's own (or SQLite when none can be started). Many associations write at a
steady rate; on the way:

1. the Rasa server is killed (SIGKILL to its process group; the supervisor restarts it),
2. the action server is killed the same way,
3. PostgreSQL restarts as after a crash (immediate shutdown, recovery on start),
4. the whole `lotsen run` tree is killed with SIGKILL, just after Telegram took a reply whose
   answer the bot never saw, and `lotsen run` is started again.

Then every question is checked against what the fake Telegram server delivered: *lost* (no
reply reached the association), *duplicated* (a reply delivered more often than the outbox
sent it), *dead letters* (updates kept after failing). It reports; it never fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlmodel import Session, col, func, select

from bench.data import DEFAULT_EVAL, load_eval
from bench.latency import percentiles
from bench.stack import COORDINATOR_CHAT, PrivateServer, private_postgres
from bot.channels.telegram.outbox import MAX_ATTEMPTS as OUTBOX_MAX_ATTEMPTS
from bot.settings import PROJECT_ROOT
from bot.understanding.evaluation import ESCALATE
from db.enquiries.notifications import Kind, Recipient
from db.models import (
    Enquiry,
    EscalationReason,
    InboxUpdate,
    OutboxMessage,
)
from db.plumbing.session import make_engine

USER_BASE = 7_300_000_000
START_TIMEOUT = 300.0
FALLBACK_QUESTIONS = (
    "Hur söker vår förening aktivitetsstöd för barn och unga?",
    "Vi vill boka en idrottshall på söndagar, hur gör vi?",
    "Behöver vi bygglov för att bygga ett förråd vid klubbstugan?",
)


@dataclass(frozen=True)
class SoakPlan:
    """How much load, from how many associations, at what rate; how long to wait at the end."""

    messages: int = 2000
    users: int = 200
    rate_per_s: float = 5.0
    settle_s: float = 900.0
    faults: tuple[str, ...] = ("rasa", "actions", "postgres", "lotsen run")


FULL_SOAK = SoakPlan()
SMOKE_SOAK = SoakPlan(messages=30, users=6, rate_per_s=3.0, settle_s=300.0)

FAULT_NAMES = {
    "rasa": "Rasa server killed (SIGKILL)",
    "actions": "action server killed (SIGKILL)",
    "postgres": "PostgreSQL restarted (immediate shutdown)",
    "lotsen run": "lotsen run tree killed (SIGKILL) and started again",
}


def soak_texts(path: Path = DEFAULT_EVAL) -> list[str]:
    """Return the questions to ask: the in-scope lines of the development set."""
    if not path.is_file():
        return list(FALLBACK_QUESTIONS)
    return [e.text for e in load_eval(path) if e.label != ESCALATE] or list(FALLBACK_QUESTIONS)


class LotsenRun:
    """`lotsen run` as its own process tree: started, killed in parts or whole, started again."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.seen: dict[tuple[int, int], str] = {}

    def start(self) -> None:
        """Start `lotsen run` (it stops what an earlier, killed run left behind)."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run"],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def _tree(self) -> dict[tuple[int, int], str]:
        from harness.processes import descendants

        assert self.process is not None
        tree = descendants(self.process.pid)
        self.seen.update(tree)
        return tree

    def kill_child(self, marker: str) -> None:
        """SIGKILL the process group of the child whose command line holds `marker`."""
        pid = next(pid for (pid, _), command in self._tree().items() if marker in command)
        os.killpg(os.getpgid(pid), signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL `lotsen run` itself; wait until its whole tree is gone."""
        from harness.processes import alive
        from harness.wait import wait_until

        assert self.process is not None
        tree = self._tree()
        self.process.kill()
        self.process.wait(10)
        wait_until(lambda: not alive(tree), 60)

    def stop(self) -> None:
        """Stop `lotsen run` as Ctrl-C does; kill whatever of its trees is left."""
        from harness.processes import kill_all

        if self.process is not None and self.process.poll() is None:
            self._tree()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        kill_all(self.seen)


async def _until(check: Callable[[], bool], timeout: float, step: float = 0.5) -> float | None:
    """Wait until `check()` holds (run in a thread); return the seconds it took, or None."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await asyncio.to_thread(check):
            return round(time.monotonic() - started, 1)
        await asyncio.sleep(step)
    return None


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _rasa_ready(url: str) -> bool:
    try:
        return bool(httpx.get(f"{url}/status", timeout=2.0).json().get("model_file"))
    except (httpx.HTTPError, ValueError):
        return False


def _database_ready(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


@dataclass
class Soak:
    """One soak: the run under test, the fake Telegram server and what was asked when."""

    run: LotsenRun
    fake: Any
    url: str
    env: dict[str, str]
    server: PrivateServer | None
    asked: dict[str, tuple[int, float]] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)

    async def polling_again(self, after: int) -> float | None:
        """Return the seconds until the bot polls Telegram again after a request position."""
        return await _until(
            lambda: any(r.method == "getUpdates" for r in self.fake.requests[after:]),
            START_TIMEOUT,
        )

    async def fault(self, name: str, at_message: int) -> None:
        """Inject one fault and record how long until the part was back."""
        rasa_url = self.env["RASA_URL"]
        actions = f"http://127.0.0.1:{self.env['ACTION_PORT']}/health"
        started = time.monotonic()
        back: float | None
        if name == "rasa":
            self.run.kill_child(" run --enable-api")
            await asyncio.sleep(1)
            back = await _until(lambda: _rasa_ready(rasa_url), START_TIMEOUT)
        elif name == "actions":
            self.run.kill_child("-m rasa_sdk")
            await asyncio.sleep(1)
            back = await _until(lambda: _answers(actions), START_TIMEOUT)
        elif name == "postgres":
            if self.server is None:
                self.faults.append({"fault": FAULT_NAMES[name], "skipped": "SQLite"})
                return
            await asyncio.to_thread(self.server.restart)
            back = await _until(lambda: _database_ready(self.url), START_TIMEOUT)
        else:
            # Telegram takes the next reply but its answer never comes: the bot dies first.
            self.fake.lose_answer("sendMessage", hang=True)
            mark = len(self.fake.requests)
            await _until(
                lambda: any(r.method == "sendMessage" for r in self.fake.requests[mark:]), 30, 0.05
            )
            started = time.monotonic()
            await asyncio.to_thread(self.run.kill)
            self.fake.lose_answer("sendMessage", times=0)
            mark = len(self.fake.requests)
            self.run.start()
            back = await self.polling_again(mark)
        self.faults.append(
            {
                "fault": FAULT_NAMES[name],
                "at_message": at_message,
                "back_after_s": None if back is None else round(time.monotonic() - started, 1),
            }
        )


def _key_of(dedupe_key: str | None) -> str | None:
    """Return the inbound message key of a reply (`telegram:<chat>:<message>` of `…:<tag>`)."""
    parts = (dedupe_key or "").split(":")
    return ":".join(parts[:3]) if len(parts) >= 4 and parts[0] == "telegram" else None


def _progress(url: str, keys: set[str]) -> tuple[int, int, int]:
    """Return (questions with a sent reply, updates still to process, replies still to send)."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            sent = session.exec(
                select(OutboxMessage.dedupe_key).where(
                    OutboxMessage.recipient == Recipient.ASSOCIATION,
                    col(OutboxMessage.sent_at).is_not(None),
                )
            ).all()
            waiting = session.exec(
                select(func.count())
                .select_from(InboxUpdate)
                .where(col(InboxUpdate.processed_at).is_(None), col(InboxUpdate.dead_at).is_(None))
            ).one()
            unsent = session.exec(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    col(OutboxMessage.sent_at).is_(None),
                    OutboxMessage.attempts < OUTBOX_MAX_ATTEMPTS,
                )
            ).one()
    except Exception:
        return 0, -1, -1  # the database is restarting
    finally:
        engine.dispose()
    answered = {_key_of(k) for k in sent} & keys
    return len(answered), int(waiting), int(unsent)


def _deliveries(fake: Any) -> dict[tuple[int, int], float]:
    """Return every message the fake Telegram server holds from the bot: (chat, id) -> when."""
    return {
        (int(r.params["chat_id"]), int(r.response["message_id"])): r.at
        for r in fake.requests
        if r.method in ("sendMessage", "sendDocument") and r.ok
    }


def _verdict(soak: Soak) -> dict[str, Any]:
    """Check every question against the database and what Telegram holds."""
    from harness.telegram import escalations_of

    keys = set(soak.asked)
    delivered = _deliveries(soak.fake)
    engine = make_engine(soak.url)
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage).where(col(OutboxMessage.sent_at).is_not(None))
        ).all()
        enquiries = session.exec(
            select(Enquiry.message_key).where(col(Enquiry.message_key).in_(keys))
        ).all()
        unavailable = escalations_of(session, list(keys), EscalationReason.UNAVAILABLE)
        dead = session.exec(
            select(func.count())
            .select_from(InboxUpdate)
            .where(col(InboxUpdate.dead_at).is_not(None))
        ).one()
    engine.dispose()
    first_reply: dict[str, float] = {}
    sent_to: Counter[int] = Counter()
    cards = 0
    for row in rows:
        at = delivered.get((int(row.address or 0), int(row.external_id or 0)))
        if row.recipient == Recipient.ASSOCIATION:
            sent_to[int(row.address or 0)] += 1
            key = _key_of(row.dedupe_key)
            if key in keys and at is not None:
                first_reply[key] = min(first_reply.get(key, at), at)
        elif row.kind == Kind.CARD:
            cards += 1
    to_chat = Counter(chat for chat, _ in delivered)
    duplicated = sum(max(0, to_chat[chat] - count) for chat, count in sent_to.items())
    latencies = [first_reply[k] - soak.asked[k][1] for k in first_reply]
    return {
        "answered": len(first_reply),
        "lost": len(keys - set(first_reply)),
        "duplicated": duplicated,
        "cards_duplicated": max(0, to_chat[COORDINATOR_CHAT] - cards),
        "enquiries": len(enquiries),
        "enquiries_doubled": sum(n - 1 for n in Counter(enquiries).values()),
        "registered_while_unavailable": int(unavailable),
        "dead_letters": int(dead),
        "checked_in_chat": sum(1 for r in soak.fake.requests if r.method.startswith("editMessage")),
        "latency": percentiles(latencies),
    }


@contextlib.asynccontextmanager
async def _running(plan: SoakPlan, postgres: bool, folder: Path) -> Any:
    """Yield a soak: database, fake Telegram server and a started `lotsen run`."""
    from harness.database import migrate_and_seed
    from harness.fake_telegram import start_fake_telegram
    from harness.ports import free_port
    from harness.processes import clean_env

    with ExitStack() as stack:
        server = stack.enter_context(private_postgres()) if postgres else None
        url = server.url if server else f"sqlite:///{folder / 'lotsen.db'}"
        migrate_and_seed(url).dispose()
        rasa_port = free_port()
        async with start_fake_telegram() as fake:
            env = clean_env(
                DATABASE_URL=url,
                RASA_PORT=str(rasa_port),
                RASA_URL=f"http://127.0.0.1:{rasa_port}",
                ACTION_PORT=str(free_port()),
                WEB_PORT=str(free_port()),
                TELEGRAM_BOT_TOKEN=fake.token,
                TELEGRAM_API_BASE_URL=fake.api_root,
                TELEGRAM_POLL_TIMEOUT="2",
                COORDINATOR_CHAT_ID=str(COORDINATOR_CHAT),
                RATE_LIMIT_BURST="100000",  # the load generator writes faster than people do
            )
            if server is None:
                env["TRACKER_DB_URL"] = f"sqlite:///{folder / 'tracker.db'}"
            run = LotsenRun(env, folder / "run.log")
            soak = Soak(run=run, fake=fake, url=url, env=env, server=server)
            try:
                run.start()
                if await soak.polling_again(0) is None:
                    raise RuntimeError(f"lotsen run did not start; see {run.log}")
                yield soak
            finally:
                await asyncio.to_thread(run.stop)


async def _ask(soak: Soak, plan: SoakPlan, texts: list[str], report: Callable[[str], None]) -> None:
    """Ask every question at the plan's rate, injecting each fault on the way."""
    every = plan.messages // (len(plan.faults) + 1)
    at = {every * (n + 1): name for n, name in enumerate(plan.faults)}
    faults: list[Awaitable[None]] = []
    started = time.monotonic()
    for n in range(plan.messages):
        if n in at:
            report(f"soak: {FAULT_NAMES[at[n]]} at message {n}")
            faults.append(asyncio.create_task(soak.fault(at[n], n)))
        user = USER_BASE + n % plan.users
        update = soak.fake.user_message(user, texts[n % len(texts)], first_name="Soak")
        soak.asked[f"telegram:{user}:{update['message']['message_id']}"] = (user, time.monotonic())
        await asyncio.sleep(max(0.0, started + (n + 1) / plan.rate_per_s - time.monotonic()))
    await asyncio.gather(*faults)


async def run_soak(
    plan: SoakPlan = FULL_SOAK,
    *,
    postgres: bool = True,
    report: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the soak and return its figures."""
    texts = soak_texts()
    with tempfile.TemporaryDirectory(prefix="lotsen-soak-") as folder:
        async with _running(plan, postgres, Path(folder)) as soak:
            backend = "postgresql" if soak.server is not None else "sqlite"
            report(f"soak: {plan.messages} questions from {plan.users} associations ({backend})")
            started = time.monotonic()
            await _ask(soak, plan, texts, report)
            asked = time.monotonic() - started
            report("soak: all asked; waiting for the last answers")
            keys = set(soak.asked)
            settled = await _until(
                lambda: _progress(soak.url, keys) == (len(keys), 0, 0), plan.settle_s, 2.0
            )
            wall = time.monotonic() - started
            verdict = _verdict(soak)
            return {
                "backend": backend,
                "messages": plan.messages,
                "associations": plan.users,
                "rate_per_s": round(plan.messages / asked, 2),
                "faults": sorted(soak.faults, key=lambda f: f.get("at_message", 0)),
                "settled": settled is not None,
                "wall_s": round(wall, 1),
                **verdict,
            }


def main() -> int:
    """`python -m bench.soak [MESSAGES]`: run the soak alone and print its figures."""
    import json

    messages = int(sys.argv[1]) if len(sys.argv) > 1 else SoakPlan.messages
    result = asyncio.run(run_soak(SoakPlan(messages=messages), report=lambda line: print(line)))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
