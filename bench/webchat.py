"""`python -m bench.webchat`: many web-chat visitors with open event streams on one web process,
side by side with the Telegram path under the same load.

Reports, never fails. The web server (desk and chat, one process, one event loop) runs in a
child process on a loopback port, on its own SQLite file (or a fresh PostgreSQL database with
`--postgres`); Rasa is unreachable unless `--rasa URL` names a running server, so by default the
figures are the web layer's and the intake's: every question is registered and escalated with a
reference, as when Rasa is down. Each visitor opens the chat, chooses a language, opens the
event stream (as chat.js does), names the association and asks a question with `fetch`; the
latency is from the question's POST to the reply that names its reference arriving on the
stream. Printed: visitors, questions answered (zero lost and none doubled, checked in the
database), latency p50/p95, the server's memory per open stream (RSS with all streams open
minus before, divided by their number).

Then the same load on the Telegram path: a `lotsen bot` process (polling the fake Telegram Bot
API server in harness/, on its own SQLite file, the same Rasa URL) gets the same number of
people each sending the same question at the same moment; the latency is from the update being
queued at the fake server to the bot's sendMessage that names the question's reference. The bot
holds no connection per person, so its memory figure is the bot's peak RSS during the burst
minus before, per person (the web chat's peak during the burst is printed beside it). Before
each burst one person asks once (not counted), so what is loaded once (the language models) is
in "before". One table shows both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr
from sqlalchemy import func
from sqlmodel import Session, col, select

from bench.latency import AnswerWatcher, percentiles
from bench.scale import bot_env, bot_process
from bot.settings import Settings
from db.models import Enquiry
from db.plumbing.session import make_engine
from harness.database import migrate_and_seed
from harness.fake_telegram import start_fake_telegram
from harness.ports import free_port
from harness.webchat import CSRF_RE, NONCE_RE

TIMEOUT = aiohttp.ClientTimeout(total=300, sock_read=300)
TELEGRAM_USER_BASE = 7_300_000_000
SAMPLE_SECONDS = 0.05
WARM_UP = -1
"""The person whose one question before the burst loads what loads once (not counted)."""


def _serve(settings: Settings, port: int, ready: Any) -> None:
    """Serve the web server with the chat until killed (the child process)."""
    from aiohttp import web

    from bot.channels.desk.server import runner_for
    from bot.ratelimit import DatabaseRateLimiter
    from bot.services import create_services
    from db.people.limits import Limit
    from harness.webchat import build_chat_app

    logging.getLogger("bot.conversation").setLevel(logging.ERROR)  # "Rasa unavailable" × N

    async def main() -> None:
        services = create_services(settings)
        # Every visitor comes from 127.0.0.1: the per-address limit on new chats stays out.
        starts = DatabaseRateLimiter(services.engine, Limit(rate=1000.0, burst=10**6))
        app = build_chat_app(settings, services.engine, services, start_limiter=starts)
        runner = runner_for(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def question(n: int) -> str:
    """Return the n-th person's question (the same on both paths)."""
    return f"Fråga {n}: var bokar vi en hall?"


async def _peak_rss(pid: int, peak: list[int]) -> None:
    """Keep the process's highest RSS (KiB) in `peak[0]` until cancelled."""
    while True:
        peak[0] = max(peak[0], _rss_kib(pid))
        await asyncio.sleep(SAMPLE_SECONDS)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _visitor(base: str, n: int, streams_open: asyncio.Event, opened: list[int]) -> float:
    """One visitor: start, open the stream, name the association, ask; return the latency."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar, timeout=TIMEOUT) as http:
        first = await (await http.get(f"{base}/chatt")).text()
        page = await (
            await http.post(f"{base}/chatt", data={"csrf": CSRF_RE.findall(first)[0], "lang": "sv"})
        ).text()
        csrf, nonce = CSRF_RE.findall(page)[0], NONCE_RE.findall(page)[0]
        last = max((int(x) for x in re.findall(r'data-id="(\d+)"', page)), default=0)
        stream = await http.get(f"{base}/chatt/events?after={last}")
        opened.append(n)
        await streams_open.wait()
        headers = {"X-Lotsen-Fetch": "1"}
        answer = await (
            await http.post(
                f"{base}/chatt",
                data={"csrf": csrf, "msg": nonce, "text": f"Förening nummer {n}"},
                headers=headers,
            )
        ).json()
        asked = time.perf_counter()
        await http.post(
            f"{base}/chatt",
            data={"csrf": csrf, "msg": answer["next"], "text": question(n)},
            headers=headers,
        )
        async for line in stream.content:
            if line.startswith(b"data: "):
                html = json.loads(line[6:])["html"]
                if re.search(r"\b[A-Z]+-\d+", html) and 'class="msg out"' in html:
                    latency = time.perf_counter() - asked
                    stream.close()
                    return latency
        raise RuntimeError(f"visitor {n}: the stream ended without the answer")


async def _run(base: str, visitors: int, pid: int) -> dict[str, Any]:
    warm = asyncio.Event()
    warm.set()
    await _visitor(base, WARM_UP, warm, [])  # what loads once (language models) is loaded
    before = _rss_kib(pid)
    streams_open, opened = asyncio.Event(), list[int]()
    tasks = [asyncio.create_task(_visitor(base, n, streams_open, opened)) for n in range(visitors)]
    while len(opened) < visitors and not any(t.done() for t in tasks):
        await asyncio.sleep(0.05)
    with_streams = _rss_kib(pid)
    peak = [with_streams]
    sampler = asyncio.create_task(_peak_rss(pid, peak))
    streams_open.set()
    started = time.perf_counter()
    try:
        latencies = await asyncio.gather(*tasks)
    finally:
        sampler.cancel()
    figures = _burst(visitors, time.perf_counter() - started, latencies, before, peak[0])
    figures["rss_streams_open_kib"] = with_streams
    figures["kib_per_open_stream"] = round((with_streams - before) / max(1, visitors), 1)
    return figures


def _burst(
    people: int, took: float, latencies: list[float], before: int, peak: int
) -> dict[str, Any]:
    """Return one burst's figures: timing, latency and the server's memory."""
    return {
        "people": people,
        "all_answered_after_s": round(took, 1),
        "questions_per_s": round(people / took, 1),
        "latency": percentiles(latencies),
        "rss_before_kib": before,
        "rss_peak_kib": peak,
        "kib_per_person_at_peak": round((peak - before) / max(1, people), 1),
    }


async def _telegram(settings: Settings, people: int, log: Path) -> dict[str, Any]:
    """The same burst on the Telegram path: `lotsen bot` against the fake Bot API server."""
    async with start_fake_telegram() as fake:
        with bot_process(bot_env(settings, fake), log) as bot:
            await fake.wait_for("getUpdates", timeout=120)
            watcher = AnswerWatcher(fake)
            watching = asyncio.create_task(watcher.run())
            warm = watcher.expect(TELEGRAM_USER_BASE - 1)
            fake.user_message(TELEGRAM_USER_BASE - 1, question(WARM_UP), first_name="Bench")
            await asyncio.wait_for(warm, 120)  # what loads once (language models) is loaded
            before = _rss_kib(bot.pid)
            peak = [before]
            sampler = asyncio.create_task(_peak_rss(bot.pid, peak))
            users = [TELEGRAM_USER_BASE + n for n in range(people)]
            futures = [watcher.expect(user) for user in users]
            queued = time.monotonic()
            for n, user in enumerate(users):
                fake.user_message(user, question(n), first_name="Bench")
            try:
                arrivals = await asyncio.wait_for(asyncio.gather(*futures), 300)
            finally:
                sampler.cancel()
                watching.cancel()
            took = time.monotonic() - queued
    return _burst(people, took, [arrived - queued for arrived in arrivals], before, peak[0])


def _recorded(url: str, people: int, prefix: str) -> tuple[int, int, int]:
    """Return (questions recorded, lost, doubled) of one path (its message keys' prefix)."""
    engine = make_engine(url)
    mine = col(Enquiry.message_key).startswith(prefix) & (col(Enquiry.text) != question(WARM_UP))
    with Session(engine) as session:
        enquiries = session.exec(select(func.count()).select_from(Enquiry).where(mine)).one()
        distinct = session.exec(select(func.count(func.distinct(Enquiry.text))).where(mine)).one()
    engine.dispose()
    return enquiries, people - distinct, enquiries - distinct


def _table(web: dict[str, Any], telegram: dict[str, Any]) -> list[str]:
    """Return the side-by-side table's lines."""

    def ms(value: float | None) -> str:
        return "–" if value is None else f"{value:.0f}"

    rows = [
        ("questions recorded", web["questions_recorded"], telegram["questions_recorded"]),
        (
            "lost / doubled",
            f"{web['lost']} / {web['doubled']}",
            f"{telegram['lost']} / {telegram['doubled']}",
        ),
        ("all answered after (s)", web["all_answered_after_s"], telegram["all_answered_after_s"]),
        ("questions per second", web["questions_per_s"], telegram["questions_per_s"]),
        ("reply latency p50 (ms)", ms(web["latency"]["p50_ms"]), ms(telegram["latency"]["p50_ms"])),
        ("reply latency p95 (ms)", ms(web["latency"]["p95_ms"]), ms(telegram["latency"]["p95_ms"])),
        ("server RSS before (KiB)", web["rss_before_kib"], telegram["rss_before_kib"]),
        ("server RSS peak in the burst (KiB)", web["rss_peak_kib"], telegram["rss_peak_kib"]),
        ("KiB per open connection", web["kib_per_open_stream"], "– (none held)"),
        (
            "KiB per person at the peak",
            web["kib_per_person_at_peak"],
            telegram["kib_per_person_at_peak"],
        ),
    ]
    lines = [f"{'':36} {'web chat':>16} {'Telegram':>16}"]
    lines += [f"{name:36} {a!s:>16} {b!s:>16}" for name, a, b in rows]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.webchat", description=__doc__)
    parser.add_argument("--visitors", type=int, default=200)
    parser.add_argument("--rasa", default=None, help="A running Rasa server (default: none).")
    parser.add_argument("--postgres", default=None, help="A database URL instead of SQLite.")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="lotsen-webchat-bench-"))
    url = args.postgres or f"sqlite:///{folder / 'bench.db'}"
    engine = migrate_and_seed(url)
    settings = Settings(
        database_url=url,
        rasa_url=args.rasa or f"http://127.0.0.1:{free_port()}",
        link_secret=SecretStr("bench"),
        rate_limit_burst=100,
        _env_file=None,
    )
    engine.dispose()
    port = free_port()
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    server = context.Process(target=_serve, args=(settings, port, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(120):
            print("the web server did not start")
            return 1
        assert server.pid is not None
        web = asyncio.run(_run(f"http://127.0.0.1:{port}", args.visitors, server.pid))
    finally:
        server.kill()
        server.join(10)
    recorded = _recorded(url, args.visitors, "web:")
    web["questions_recorded"], web["lost"], web["doubled"] = recorded

    # The same database: each path counts only its own questions (by their message keys).
    telegram = asyncio.run(_telegram(settings, args.visitors, folder / "bot.log"))
    recorded = _recorded(url, args.visitors, "telegram:")
    telegram["questions_recorded"], telegram["lost"], telegram["doubled"] = recorded
    print(
        f"{args.visitors} people each ask one question at the same moment; Rasa "
        + (f"at {args.rasa}" if args.rasa else "unreachable (both register and escalate)")
    )
    for line in _table(web, telegram):
        print(line)
    print(json.dumps({"webchat": web, "telegram": telegram}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
