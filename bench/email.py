"""`python -m bench.email`: how fast the outbox's e-mail goes out, and the inbox page's latency.

Reports, never fails. A fresh SQLite database with N enquiries forwarded by e-mail to one
department, a real SMTP server on loopback (aiosmtpd), and the e-mail dispatcher sending until
the outbox is empty; then the department inbox (`/desk/inbox`) and one enquiry's page, each
fetched repeatedly by a clerk of that department with N enquiries open.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bench.latency import percentiles
from bot.channels.desk.app import build_desk_app
from bot.channels.email.outbox import EmailDispatcher
from db.enquiries import lifecycle
from db.people import departments
from db.plumbing.session import session_scope
from harness.database import migrate_and_seed
from harness.desk import Clock, csrf_of, login_path
from harness.people import staff_member
from harness.smtp import smtp_server
from harness.workflow import local, routed_enquiry

NOW = local(2026, 3, 16, 9)
CLERK = 222


def _forward_many(url: str, count: int) -> None:
    engine = migrate_and_seed(url)
    with session_scope(engine) as session:
        department = departments.department_by_key(session=session, key="kultur_fritid")
        assert department is not None
        department.channels = "email"
        staff_member(session, CLERK, "staff", department.id)
        for number in range(count):
            enquiry = routed_enquiry(
                session,
                now=NOW,
                department_chat=None,
                text=f"Fråga {number}: hur söker vi aktivitetsstöd?",
                association=f"Förening {number % 50}",
            )
            lifecycle.forwarded(session=session, enquiry=enquiry, department=department, now=NOW)
    engine.dispose()


async def _send_all(url: str, count: int) -> dict[str, float]:
    from db.plumbing.session import make_engine

    engine = make_engine(url)
    with smtp_server() as smtp:
        dispatcher = EmailDispatcher(smtp.settings(url), engine, clock=Clock(NOW))
        rounds: list[float] = []
        started = time.perf_counter()
        sent = 0
        while sent < count:
            began = time.perf_counter()
            done = await dispatcher.step()
            rounds.append(time.perf_counter() - began)
            if not done:
                break
            sent += done
        elapsed = time.perf_counter() - started
        received = len(smtp.inbox.received)
    engine.dispose()
    return {
        "sent": sent,
        "received": received,
        "seconds": round(elapsed, 2),
        "mails_per_s": round(sent / elapsed, 1) if elapsed else 0.0,
        "round_p50_ms": percentiles(rounds)["p50_ms"] or 0.0,
    }


async def _pages(url: str, repeats: int) -> dict[str, dict[str, float | None]]:
    from db.plumbing.session import make_engine

    engine = make_engine(url)
    with smtp_server() as smtp:
        app = build_desk_app(smtp.settings(url), engine, clock=Clock(NOW))
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            path = login_path(engine, CLERK, NOW)
            page = await client.get(path)
            await client.post(
                "/desk/login",
                data={"csrf": csrf_of(await page.text()), "token": path.split("token=")[1]},
            )
            inbox = await (await client.get("/desk/inbox")).text()
            reference = re.findall(r"LOT-\d{4}-\d{5}", inbox)[0]
            timings: dict[str, dict[str, float | None]] = {}
            for name, target in (("inbox", "/desk/inbox"), ("enquiry", f"/desk/inbox/{reference}")):
                samples = []
                for _ in range(repeats):
                    began = time.perf_counter()
                    response = await client.get(target)
                    await response.read()
                    assert response.status == 200, (target, response.status)
                    samples.append(time.perf_counter() - began)
                timings[name] = percentiles(samples)
        finally:
            await client.close()
    engine.dispose()
    return timings


def main(argv: list[str] | None = None) -> None:
    """Run the e-mail and inbox benchmark and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.email", description=__doc__)
    parser.add_argument("--count", type=int, default=300, help="Enquiries forwarded by e-mail.")
    parser.add_argument("--repeats", type=int, default=30, help="Fetches of each page.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        _forward_many(url, args.count)
        sending = asyncio.run(_send_all(url, args.count))
        pages = asyncio.run(_pages(url, args.repeats))
    print(f"e-mail: {sending['sent']} sent, {sending['received']} received by the SMTP server")
    print(
        f"  {sending['seconds']} s in all, {sending['mails_per_s']} mails/s, "
        f"p50 {sending['round_p50_ms']} ms per round of up to 50"
    )
    for name, figures in pages.items():
        print(
            f"/desk/{name} with {args.count} open enquiries: p50 {figures['p50_ms']} ms, "
            f"p95 {figures['p95_ms']} ms"
        )


if __name__ == "__main__":
    main()
