"""Latency and throughput: the whole path through the fake Telegram server, and Rasa alone."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func
from sqlmodel import col, select

from bench.footprint import own_peak_rss_mb, process_peaks, reset_own_peak, rss_mb
from bench.history import seed_history, stored_enquiries
from bot.settings import Settings
from bot.understanding.rasa_client import RasaClient, RasaError
from db.models import Enquiry
from db.plumbing.session import make_engine, session_scope

ANSWER_TIMEOUT = 60.0
WATCH_INTERVAL = 0.002
E2E_USER_BASE = 7_100_000_000
RASA_USER_BASE = 7_900_000_000
PHASE_STRIDE = 100_000


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """Return p50/p95/p99, mean and max in milliseconds (linear interpolation)."""
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None, "max_ms": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        position = q * (len(ordered) - 1)
        low, high = math.floor(position), math.ceil(position)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    return {
        "p50_ms": round(at(0.50) * 1000, 1),
        "p95_ms": round(at(0.95) * 1000, 1),
        "p99_ms": round(at(0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


@dataclass
class PhaseResult:
    """One load phase: latencies, wall time and what got lost."""

    users: int
    questions: int
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    keys: list[str] = field(default_factory=list)
    enquiries: int | None = None

    def summary(self) -> dict[str, Any]:
        """Return the phase's figures as JSON values."""
        answered = len(self.latencies)
        return {
            "users": self.users,
            "questions": self.questions,
            "answered": answered,
            "enquiries_recorded": self.enquiries,
            "zero_loss": answered == self.questions and self.enquiries == self.questions,
            "wall_s": round(self.wall, 2),
            "throughput_per_s": round(answered / self.wall, 2) if self.wall else 0.0,
            **percentiles(self.latencies),
        }


REFERENCE = re.compile(r"\bLOT-\d{4}-\d{5,}\b")


class AnswerWatcher:
    """Resolve a chat's waiter when a sendMessage for that chat names a new reference number.

    The answer to a question is the first message to its chat that carries a reference the
    chat has not been sent before; other messages to the chat are counted as extras.
    """

    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.seen = 0
        self.waiting: dict[int, asyncio.Future[float]] = {}
        self.references: dict[int, set[str]] = {}
        self.users: set[int] = set()
        self.extra_messages = 0
        self.extra_samples: list[str] = []

    def expect(self, chat_id: int) -> asyncio.Future[float]:
        """Return a future for the arrival time (monotonic) of the chat's next answer."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[chat_id] = future
        self.users.add(chat_id)
        return future

    def drain(self) -> None:
        """Look at the requests received since the last call."""
        requests = self.fake.requests
        for request in requests[self.seen :]:
            if request.method != "sendMessage":
                continue
            chat = request.params.get("chat_id")
            if not isinstance(chat, int):
                continue
            known = self.references.setdefault(chat, set())
            new = set(REFERENCE.findall(str(request.params.get("text") or ""))) - known
            known |= new
            future = self.waiting.get(chat)
            if new and future is not None:
                del self.waiting[chat]
                if not future.done():
                    future.set_result(request.at)
            elif chat in self.users:
                self.extra_messages += 1
                if len(self.extra_samples) < 5:
                    self.extra_samples.append(str(request.params.get("text"))[:100])
        self.seen = len(requests)

    async def run(self) -> None:
        """Watch until cancelled."""
        while True:
            self.drain()
            await asyncio.sleep(WATCH_INTERVAL)


def _count_enquiries(database_url: str, keys: Sequence[str]) -> int:
    engine = make_engine(database_url)
    try:
        total = 0
        with session_scope(engine) as session:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                total += int(
                    session.exec(
                        select(func.count())
                        .select_from(Enquiry)
                        .where(col(Enquiry.message_key).in_(chunk))
                    ).one()
                )
        return total
    finally:
        engine.dispose()


@dataclass
class LoadPlan:
    """What load to apply: concurrency levels, questions per user, history factors."""

    levels: dict[int, int]
    scaling_users: int
    scaling_per_user: int
    history_factors: tuple[int, ...]


class Load:
    """Drive the bot (in this process) through the fake Telegram server, and Rasa directly."""

    def __init__(self, settings: Settings, fake: Any, texts: Sequence[str]) -> None:
        self.settings = settings
        self.fake = fake
        self.texts = list(texts)
        self.watcher = AnswerWatcher(fake)
        self.phase = 0

    def _text(self, user: int, n: int) -> str:
        return self.texts[(user * 7 + n) % len(self.texts)]

    async def ask(self, user_id: int, text: str) -> tuple[float | None, str]:
        """Queue one question; return its latency in seconds (None if unanswered) and key."""
        future = self.watcher.expect(user_id)
        queued = time.monotonic()
        update = self.fake.user_message(user_id, text, first_name="Bench")
        key = f"telegram:{user_id}:{update['message']['message_id']}"
        try:
            arrived = await asyncio.wait_for(future, ANSWER_TIMEOUT)
        except TimeoutError:
            self.watcher.waiting.pop(user_id, None)
            return None, key
        return arrived - queued, key

    async def end_to_end(self, users: int, per_user: int) -> PhaseResult:
        """Run `users` closed-loop users, each asking `per_user` questions in turn."""
        self.phase += 1
        base = E2E_USER_BASE + self.phase * PHASE_STRIDE
        result = PhaseResult(users, users * per_user)

        async def user(index: int) -> None:
            for n in range(per_user):
                latency, key = await self.ask(base + index, self._text(index, n))
                result.keys.append(key)
                if latency is not None:
                    result.latencies.append(latency)

        started = time.monotonic()
        await asyncio.gather(*(user(i) for i in range(users)))
        result.wall = time.monotonic() - started
        result.enquiries = await asyncio.to_thread(
            _count_enquiries, self.settings.database_url, result.keys
        )
        return result

    async def rasa_alone(self, users: int, per_user: int) -> PhaseResult:
        """The same load posted straight to Rasa's REST channel (action server included)."""
        self.phase += 1
        base = RASA_USER_BASE + self.phase * PHASE_STRIDE
        result = PhaseResult(users, users * per_user)
        client = RasaClient(self.settings.rasa_url, timeout=ANSWER_TIMEOUT)

        async def user(index: int) -> None:
            uid = base + index
            for n in range(per_user):
                key = f"bench-rasa:{uid}:{n}"
                text = self._text(index, n)
                result.keys.append(key)
                metadata = {
                    "message_key": key,
                    "channel": "telegram",
                    "address": str(uid),
                    "conversation": str(uid),
                    "language": "sv",
                    "reply_language": "sv",
                    "text": text,
                }
                started = time.perf_counter()
                try:
                    messages = await client.send(
                        sender=f"telegram:{uid}:{uid}", text=text, metadata=metadata
                    )
                except RasaError:
                    continue
                # The action names the enquiry's reference in its custom payload (the reply
                # itself goes to the outbox, which this phase leaves out).
                if any(REFERENCE.search(json.dumps(m.get("custom") or {})) for m in messages):
                    result.latencies.append(time.perf_counter() - started)

        started = time.monotonic()
        try:
            await asyncio.gather(*(user(i) for i in range(users)))
        finally:
            await client.aclose()
        result.wall = time.monotonic() - started
        result.enquiries = await asyncio.to_thread(
            _count_enquiries, self.settings.database_url, result.keys
        )
        return result


def _ratio(e2e: dict[str, Any], rasa: dict[str, Any], key: str) -> float | None:
    if e2e.get(key) is None or not rasa.get(key):
        return None
    return round(float(e2e[key]) / float(rasa[key]) - 1.0, 3)


FIRST_QUESTION = "Hej! Hur söker vår förening aktivitetsstöd för barn och unga?"


async def run_load(
    settings: Settings,
    questions: Callable[[], Sequence[str]],
    plan: LoadPlan,
    *,
    history: bool,
    report: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Start the bot against a fake Telegram server and measure every phase of the plan.

    The first question measures the cold start; `questions` is called after it (in a thread)
    to get the texts for the load.
    """
    from bot.channels.telegram.app import run_bot
    from harness.fake_telegram import start_fake_telegram

    out: dict[str, Any] = {"levels": [], "scaling": []}
    async with start_fake_telegram() as fake:
        bot_settings = settings.model_copy(
            update={
                "telegram_bot_token": SecretStr(fake.token),
                "telegram_api_base_url": fake.api_root,
                "telegram_poll_timeout": 10,
                # The load generator's users send faster than a person would.
                "rate_limit_burst": 1_000_000,
            }
        )
        load = Load(settings, fake, [FIRST_QUESTION])
        watcher = asyncio.get_running_loop().create_task(load.watcher.run())
        stop = asyncio.Event()
        reset_own_peak()
        rss_before = rss_mb_self()
        bot = asyncio.get_running_loop().create_task(run_bot(bot_settings, stop))
        try:
            latency, _ = await load.ask(E2E_USER_BASE, FIRST_QUESTION)
            if latency is None:
                raise RuntimeError("the bot never answered the first question")
            out["cold_start"] = {"bot_start_to_first_answer_s": round(latency, 2)}
            load.texts = list(await asyncio.to_thread(questions)) or [FIRST_QUESTION]
            for users, per_user in plan.levels.items():
                report(f"load: Rasa alone, {users} users × {per_user}")
                rasa = (await load.rasa_alone(users, per_user)).summary()
                report(f"load: end to end, {users} users × {per_user}")
                e2e = (await load.end_to_end(users, per_user)).summary()
                _check(bot)
                out["levels"].append(
                    {
                        "users": users,
                        "end_to_end": e2e,
                        "rasa_alone": rasa,
                        "overhead_p50": _ratio(e2e, rasa, "p50_ms"),
                        "overhead_p95": _ratio(e2e, rasa, "p95_ms"),
                    }
                )
            out["extra_messages_to_users"] = load.watcher.extra_messages
            out["extra_message_samples"] = load.watcher.extra_samples
            out["footprint"] = {
                **process_peaks(settings),
                "bot_process": own_peak_rss_mb(),
                "bot_process_before_bot_mb": rss_before,
            }
            if history:
                out["scaling"] = await _scaling(load, plan, report)
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(bot, 30)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    zero_loss = [
        level["end_to_end"]["throughput_per_s"]
        for level in out["levels"]
        if level["end_to_end"]["zero_loss"]
    ]
    out["sustained_rate_per_s"] = max(zero_loss) if zero_loss else None
    return out


def rss_mb_self() -> float | None:
    """Return this process's resident memory now (MB)."""
    import os

    return rss_mb(os.getpid())


def _check(bot: asyncio.Task[None]) -> None:
    if bot.done():
        bot.result()
        raise RuntimeError("the bot stopped during the benchmark")


async def _scaling(load: Load, plan: LoadPlan, report: Callable[[str], None]) -> list[Any]:
    """Measure the same load with 1×, 10×, 100× the enquiries stored."""
    engine = make_engine(load.settings.database_url)
    results = []
    try:
        base = await asyncio.to_thread(stored_enquiries, engine)
        for factor in plan.history_factors:
            stored = await asyncio.to_thread(stored_enquiries, engine)
            target = base * factor
            seconds = 0.0
            if target > stored:
                report(f"scaling: seeding {target - stored} past enquiries ({factor}×)")
                seconds = await asyncio.to_thread(seed_history, engine, count=target - stored)
            report(f"scaling: {plan.scaling_users} users at {factor}× history")
            phase = await load.end_to_end(plan.scaling_users, plan.scaling_per_user)
            results.append(
                {
                    "factor": factor,
                    "stored_enquiries": await asyncio.to_thread(stored_enquiries, engine),
                    "seed_seconds": seconds,
                    **phase.summary(),
                }
            )
    finally:
        engine.dispose()
    return results
