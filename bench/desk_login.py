"""`python -m bench.desk_login`: /rapport latency alone and beside a flood of bad sign-ins.

Reports, never fails. The desk runs in its own thread and event loop on a loopback port; the
flood and the measuring client share the main loop. Four phases, side by side:

- quiet: no sign-ins at all;
- shared pool: hashing the old way, on the worker pool the pages' database calls use, unbounded
  and unthrottled (what the desk did before);
- bounded pool: today's desk, attackers behind an HTTPS proxy from ever new addresses and names,
  so throttling does not help and only the bounded password pool protects the pages;
- one address: today's desk, every attempt from one address (throttled after 20).

Before them, the time of one failed sign-in for an existing, an unknown and a disabled name.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import multiprocessing
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from sqlalchemy.engine import Engine

from bench.history import seed_history
from bench.latency import percentiles
from bot.channels.desk.app import build_desk_app
from bot.channels.desk.password_pool import PasswordPool
from bot.channels.desk.throttle import LoginLimits
from bot.settings import Settings
from db.plumbing.session import session_scope
from harness.database import migrate_and_seed

T = TypeVar("T")
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60)
UNLIMITED = LoginLimits(per_account=10**9, per_address=10**9)


class SharedPool(PasswordPool):
    """Sign-ins the old way: hashing and database steps on the pages' worker pool, unbounded."""

    def __init__(self) -> None:
        super().__init__(waiting=10**9)
        if self.db_executor is not None:
            self.db_executor.shutdown()
        self.db_executor = None  # run_db's default: the pool the pages use

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.to_thread(work)


@dataclass(frozen=True)
class Phase:
    """One way of running the desk while /rapport is measured."""

    name: str
    flood: bool
    pool: Callable[[], PasswordPool] = PasswordPool
    limits: LoginLimits | None = None
    https_proxy: bool = False


PHASES = (
    Phase("quiet", flood=False),
    Phase("shared pool (before)", flood=True, pool=SharedPool, limits=UNLIMITED),
    Phase("bounded pool, many addresses", flood=True, https_proxy=True),
    Phase("one address (throttled)", flood=True),
)


@contextlib.contextmanager
def serving(app: web.Application) -> Iterator[int]:
    """Serve the app on a free loopback port in its own thread and event loop; yield the port."""
    loop = asyncio.new_event_loop()
    ready, port = threading.Event(), [0]
    runner = web.AppRunner(app, access_log=None)

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port[0] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()

    thread = threading.Thread(target=loop.run_forever, name="bench-desk", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    ready.wait(30)
    try:
        yield port[0]
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


async def _flood(
    base: str, workers: int, stop: Callable[[], bool], *, rotate_addresses: bool
) -> Counter[int]:
    """Send bad sign-ins from `workers` loops until told to stop; count the statuses."""
    statuses: Counter[int] = Counter()
    numbers = itertools.count()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), timeout=REQUEST_TIMEOUT
    ) as http:

        async def attacker() -> None:
            while not stop():
                n = next(numbers)
                token = secrets.token_urlsafe(12)
                headers = {"Cookie": f"lotsen_desk_pre={token}"}
                if rotate_addresses:
                    headers["X-Forwarded-For"] = f"2001:db8::{n:x}"  # documentation prefix
                data = {"csrf": token, "username": f"angripare{n}", "password": "gissning"}
                try:
                    async with http.post(f"{base}/desk/login", data=data, headers=headers) as r:
                        await r.read()
                        statuses[r.status] += 1
                except (aiohttp.ClientError, TimeoutError):
                    statuses[0] += 1

        await asyncio.gather(*(attacker() for _ in range(workers)))
    return statuses


def flood_process(base: str, workers: int, rotate_addresses: bool, stop: Any, results: Any) -> None:
    """Run the flood in a process of its own (off the desk's interpreter lock) until `stop`."""
    started = time.perf_counter()
    statuses = asyncio.run(_flood(base, workers, stop.is_set, rotate_addresses=rotate_addresses))
    results.put((dict(statuses), time.perf_counter() - started))


async def _measure(base: str, samples: int) -> list[float]:
    """Fetch /rapport one after the other; return each request's seconds."""
    seconds: list[float] = []
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as http:
        for _ in range(samples):
            started = time.perf_counter()
            async with http.get(f"{base}/rapport") as response:
                await response.read()
            seconds.append(time.perf_counter() - started)
    return seconds


def _phase(base: str, phase: Phase, samples: int, workers: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    flood = (
        context.Process(
            target=flood_process,
            args=(base, workers, phase.https_proxy, stop, results),
            name="bench-flood",
        )
        if phase.flood
        else None
    )
    if flood is not None:
        flood.start()
        time.sleep(3.0)  # the process starts and the flood reaches its steady state
    seconds = asyncio.run(_measure(base, samples))
    statuses: dict[int, int] = {}
    flood_seconds = 0.0
    if flood is not None:
        stop.set()
        statuses, flood_seconds = results.get(timeout=120)
        flood.join(timeout=60)
    return {
        "rapport": percentiles(seconds),
        "flood_statuses": dict(sorted(statuses.items())),
        "flood_per_s": round(sum(statuses.values()) / flood_seconds, 1) if flood_seconds else None,
    }


FAILED_NAMES = {"existing": "bench.existing", "unknown": "bench.unknown", "disabled": "bench.off"}
BENCH_PASSWORD = "ett långt bänklösenord"


def _accounts(engine: Engine) -> None:
    """Add the accounts the timing of failed sign-ins uses (one of them disabled)."""
    from bot.channels.desk.accounts import add_account

    with session_scope(engine) as session:
        for kind in ("existing", "disabled"):
            account = add_account(
                session=session,
                username=FAILED_NAMES[kind],
                password=BENCH_PASSWORD,
                role="coordinator",
            )
            if kind == "disabled":
                account.disabled_at = account.created_at
                session.add(account)


async def _failed_sign_ins(base: str, samples: int) -> dict[str, Any]:
    """Time failed sign-ins one after the other, per kind of name (disabled: right password)."""
    figures: dict[str, Any] = {}
    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.DummyCookieJar(), timeout=REQUEST_TIMEOUT
    ) as http:
        for kind, name in FAILED_NAMES.items():
            password = BENCH_PASSWORD if kind == "disabled" else "gissning"
            seconds, statuses = [], Counter[int]()
            for _ in range(samples):
                token = secrets.token_urlsafe(12)
                started = time.perf_counter()
                async with http.post(
                    f"{base}/desk/login",
                    data={"csrf": token, "username": name, "password": password},
                    headers={"Cookie": f"lotsen_desk_pre={token}"},
                    allow_redirects=False,
                ) as response:
                    await response.read()
                    statuses[response.status] += 1
                seconds.append(time.perf_counter() - started)
            figures[kind] = {**percentiles(seconds), "statuses": dict(statuses)}
    return figures


def _engine(folder: Path, history: int) -> Engine:
    engine = migrate_and_seed(f"sqlite:///{folder / 'bench-desk.db'}")
    if history:
        seed_history(engine, count=history)
    return engine


def run(
    *, samples: int = 30, workers: int = 200, history: int = 200, report: Callable[[str], None]
) -> dict[str, Any]:
    """Run every phase on one seeded SQLite database; return the figures per phase."""
    results: dict[str, Any] = {"samples": samples, "flood_workers": workers, "history": history}
    with tempfile.TemporaryDirectory(prefix="lotsen-bench-desk-") as tmp:
        engine = _engine(Path(tmp), history)
        try:
            # First, while no lock from a flood phase refuses the loopback address.
            report("desk: failed sign-ins per kind of name …")
            _accounts(engine)
            settings = Settings(database_url=str(engine.url), _env_file=None)
            app = build_desk_app(settings, engine, login_limits=UNLIMITED)
            with serving(app) as port:
                results["failed_sign_in"] = asyncio.run(
                    _failed_sign_ins(f"http://127.0.0.1:{port}", samples)
                )
            for phase in PHASES:
                report(f"desk: {phase.name} …")
                base_url = "https://desk.bench.invalid" if phase.https_proxy else None
                settings = Settings(
                    database_url=str(engine.url),
                    desk_base_url=base_url,
                    _env_file=None,
                )
                pool = phase.pool()
                app = build_desk_app(
                    settings, engine, password_pool=pool, login_limits=phase.limits
                )
                with serving(app) as port:
                    figures = _phase(f"http://127.0.0.1:{port}", phase, samples, workers)
                figures["hashing_peak_threads"] = pool.peak_running
                figures["sign_ins_refused_busy"] = pool.refused
                results[phase.name] = figures
        finally:
            engine.dispose()
    return results


def render(results: dict[str, Any]) -> str:
    """Return the phases side by side as a text table."""
    names = [p.name for p in PHASES if p.name in results]
    rows: list[tuple[str, Callable[[dict[str, Any]], object]]] = [
        ("/rapport p50 (ms)", lambda f: f["rapport"]["p50_ms"]),
        ("/rapport p95 (ms)", lambda f: f["rapport"]["p95_ms"]),
        ("/rapport max (ms)", lambda f: f["rapport"]["max_ms"]),
        ("bad sign-ins per s", lambda f: f["flood_per_s"]),
        ("their answers", lambda f: ", ".join(f"{k}×{v}" for k, v in f["flood_statuses"].items())),
        ("hashing threads (peak)", lambda f: f["hashing_peak_threads"]),
    ]
    table = [["", *names]] + [
        [label, *(str(get(results[n]) or "–") for n in names)] for label, get in rows
    ]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    head = (
        f"/rapport latency, {results['samples']} requests per phase, beside "
        f"{results['flood_workers']} parallel bad sign-ins ({results['history']} past enquiries)"
    )
    failed = results.get("failed_sign_in", {})
    timing = [
        f"{kind:<9} p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms, answers {f['statuses']}"
        for kind, f in failed.items()
    ]
    return "\n".join(
        [head, "", *lines, "", "failed sign-in, one at a time, per kind of name:", *timing]
    )


def main(argv: list[str] | None = None) -> int:
    """Run, print; never fail on the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.desk_login", description=__doc__)
    parser.add_argument("--samples", type=int, default=30, help="/rapport requests per phase.")
    parser.add_argument("--workers", type=int, default=200, help="Parallel bad sign-ins.")
    parser.add_argument("--history", type=int, default=200, help="Past enquiries to seed.")
    args = parser.parse_args(argv)
    results = run(
        samples=args.samples,
        workers=args.workers,
        history=args.history,
        report=lambda line: print(f"[bench] {line}", file=sys.stderr),
    )
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
