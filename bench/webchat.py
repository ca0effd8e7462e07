"""`python -m bench.webchat`: many web-chat visitors with open event streams on one web process.

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
from sqlmodel import Session, select

from bench.latency import percentiles
from bot.settings import Settings
from db.models import Enquiry
from harness.database import migrate_and_seed
from harness.ports import free_port
from harness.webchat import CSRF_RE, NONCE_RE

TIMEOUT = aiohttp.ClientTimeout(total=300, sock_read=300)


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
            data={"csrf": csrf, "msg": answer["next"], "text": f"Fråga {n}: var bokar vi en hall?"},
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
    before = _rss_kib(pid)
    streams_open, opened = asyncio.Event(), list[int]()
    tasks = [asyncio.create_task(_visitor(base, n, streams_open, opened)) for n in range(visitors)]
    while len(opened) < visitors and not any(t.done() for t in tasks):
        await asyncio.sleep(0.05)
    with_streams = _rss_kib(pid)
    streams_open.set()
    started = time.perf_counter()
    latencies = await asyncio.gather(*tasks)
    took = time.perf_counter() - started
    return {
        "visitors": visitors,
        "all_answered_after_s": round(took, 1),
        "questions_per_s": round(visitors / took, 1),
        "latency": percentiles(latencies),
        "rss_before_kib": before,
        "rss_streams_open_kib": with_streams,
        "kib_per_open_stream": round((with_streams - before) / max(1, visitors), 1),
    }


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
        figures = asyncio.run(_run(f"http://127.0.0.1:{port}", args.visitors, server.pid))
    finally:
        server.kill()
        server.join(10)
    with Session(engine) as session:
        enquiries = session.exec(select(func.count()).select_from(Enquiry)).one()
        distinct = session.exec(select(func.count(func.distinct(Enquiry.text)))).one()
    engine.dispose()
    figures["questions_recorded"] = enquiries
    figures["lost"] = args.visitors - distinct
    figures["doubled"] = enquiries - distinct
    latency = figures["latency"]
    print(f"web chat: {args.visitors} visitors with open event streams on one web process")
    print(f"  questions recorded {enquiries}, lost {figures['lost']}, doubled {figures['doubled']}")
    print(
        f"  all {args.visitors} asked at once: answered after {figures['all_answered_after_s']} s "
        f"({figures['questions_per_s']} questions/s); reply latency p50 "
        f"{latency['p50_ms']:.0f} ms, p95 {latency['p95_ms']:.0f} ms"
    )
    print(
        f"  server memory {figures['rss_before_kib']} KiB before, "
        f"{figures['rss_streams_open_kib']} KiB with the streams open: "
        f"{figures['kib_per_open_stream']} KiB per open stream"
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
