"""`python -m bench.bot_turn`: the bot's CPU per question around Rasa, limit apart or folded in.

Issue 21's before/after run showed the bot process using more CPU per message than at
`f414f76`; the suspects were the per-person rate limit (one more transaction with a row lock
per message) and the identity lookup. This measures the bot's own path of a question, in one
process, on a fresh database (SQLite, and PostgreSQL with `--postgres URL`), with Rasa
unreachable so that every question takes the whole of the bot's database path: the limit,
the turn (the identity lookup), and the intake registering the question for the coordinator.
Two ways, in alternating rounds of the same questions, CPU time of this process only
(`time.process_time`, so other jobs on the machine do not count):

- **apart** — `RateLimiter.check` in a transaction of its own, then
  `Conversation.handle_text` (how the Telegram channel took the limit before; the console, the
  web chat and a Redis store still ask first);
- **folded** — `Conversation.handle_text(admit=RateLimiter.admit_in(…))`: the limit taken in
  the turn's own transaction (one session, one commit and one worker-thread hop fewer).

Besides, the identity lookup alone (`identify` in a turn of its own) and the limit alone, per
call. Reports, never fails; writes `var/bench-bot-turn.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.stack import fresh_postgres
from bot.conversation import Conversation
from bot.ratelimit import DatabaseRateLimiter
from bot.services import create_services
from bot.settings import PROJECT_ROOT, Settings
from db.intake import Writer
from db.people import identities
from db.people.limits import Limit, Verdict, person_key
from harness.database import migrate_and_seed
from harness.ports import free_port

QUESTIONS = (
    "Hej! Vi vill söka bidrag för ett sommarläger för barn, hur gör vi?",
    "Får vi ha en loppis på torget och söka pengar för det?",
    "Hur bokar vi idrottshallen för vår fotbollsklubb på söndagar?",
    "Vem lagar gungan i parken vid skolan?",
)
PEOPLE = 40
LIMIT = Limit(rate=1000.0, burst=100_000)  # every question passes: the cost, not a refusal
OUT = PROJECT_ROOT / "var" / "bench-bot-turn.json"


async def _cpu_per_call(run: Callable[[int], Awaitable[None]], n: int, start: int) -> list[float]:
    """Return the CPU milliseconds of each of `n` calls of `run`."""
    spent = []
    for i in range(start, start + n):
        before = time.process_time()
        await run(i)
        spent.append((time.process_time() - before) * 1000)
    return spent


async def measure(database_url: str, *, rounds: int, per_round: int) -> dict[str, Any]:
    """Measure both ways on one database; return the CPU ms per question (p50, mean)."""
    engine = migrate_and_seed(database_url)
    settings = Settings(
        database_url=database_url,
        rasa_url=f"http://127.0.0.1:{free_port()}",  # unreachable: the bot's whole path
        _env_file=None,
    )
    services = create_services(settings)
    conversation = Conversation(services)
    limiter = DatabaseRateLimiter(engine, LIMIT)

    def writer(i: int) -> Writer:
        person = str(900_000 + i % PEOPLE)
        return Writer("telegram", person, person)

    async def apart(i: int) -> None:
        w = writer(i)
        key = f"telegram:{w.address}:apart{i}"
        if await limiter.check(person_key("telegram", w.address), key=key) == Verdict.OK:
            await conversation.handle_text(writer=w, text=QUESTIONS[i % 4], message_key=key)

    async def folded(i: int) -> None:
        w = writer(i)
        key = f"telegram:{w.address}:folded{i}"
        admit = limiter.admit_in(person_key("telegram", w.address), key=key)
        await conversation.handle_text(
            writer=w, text=QUESTIONS[i % 4], message_key=key, admit=admit
        )

    async def lookup(i: int) -> None:
        w = writer(i)
        await services.db(
            lambda session: identities.identify(session=session, writer=w, language="sv").id
        )

    async def limit_alone(i: int) -> None:
        await limiter.check(person_key("telegram", writer(i).address), key=f"alone{i}")

    ways: dict[str, Callable[[int], Awaitable[None]]] = {
        "apart": apart,
        "folded": folded,
        "identity lookup alone": lookup,
        "rate limit alone": limit_alone,
    }
    spent: dict[str, list[float]] = {name: [] for name in ways}
    try:
        for way in ways.values():  # warm up: the people exist, the statements are compiled
            await _cpu_per_call(way, PEOPLE, 10**6)
        for r in range(rounds):
            for name, way in ways.items():
                spent[name] += await _cpu_per_call(way, per_round, r * per_round)
    finally:
        await services.aclose()
        engine.dispose()
    return {
        name: {
            "p50": statistics.median(values),
            "mean": sum(values) / len(values),
            "n": len(values),
        }
        for name, values in spent.items()
    }


def report(results: dict[str, dict[str, Any]]) -> str:
    """Return the results as a Markdown table, apart and folded side by side."""
    lines = [
        "| database | apart p50 / mean | folded p50 / mean | identity lookup | rate limit |",
        "| --- | --- | --- | --- | --- |",
    ]
    for backend, found in results.items():
        cells = [
            f"{found[name]['p50']:.2f} / {found[name]['mean']:.2f} ms"
            for name in ("apart", "folded")
        ]
        alone = [
            f"{found[name]['mean']:.2f} ms"
            for name in ("identity lookup alone", "rate limit alone")
        ]
        lines.append(f"| {backend} | {' | '.join(cells)} | {' | '.join(alone)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.bot_turn", description=__doc__)
    parser.add_argument(
        "--postgres", help="also measure on PostgreSQL (a fresh database on this server)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=40)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # "Rasa unavailable" once per question
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        results["SQLite"] = asyncio.run(measure(url, rounds=args.rounds, per_round=args.per_round))
    if args.postgres:
        with fresh_postgres(args.postgres) as url:
            results["PostgreSQL"] = asyncio.run(
                measure(url, rounds=args.rounds, per_round=args.per_round)
            )
    print(report(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
