"""Crash safety of the web chat: `lotsen run` (supervisor, Rasa, action server and the web server
with the chat) is killed with SIGKILL while several visitors write over HTTP, then started
again. Every question the page acknowledged is recorded once and answered once; a question whose
post died with the process is sent again with the same message id (as chat.js does) and is
recorded and answered once too.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import Session, col, select

from db.models import Enquiry, OutboxMessage, WebChatEntry
from db.plumbing.session import make_engine
from harness.database import migrate_and_seed
from harness.ports import free_port
from harness.processes import (
    alive,
    descendants,
    kill_all,
    listening,
    lotsen_env,
    run_lotsen,
)
from harness.wait import eventually
from harness.webchat import CSRF_RE, Visitor

pytestmark = [pytest.mark.slow, pytest.mark.rasa]

QUESTIONS = [
    "Hur söker vår förening aktivitetsstöd för barn och unga?",
    "Vi vill boka en idrottshall på söndagar, hur gör vi?",
    "Behöver vi bygglov för att bygga ett förråd vid klubbstugan?",
    "Vi vill ha en marknad på torget i maj, vem ger tillstånd att använda torget?",
]
VISITORS = 5
PER_VISITOR = 4
FETCH = {"X-Lotsen-Fetch": "1"}


class Writer:
    """One visitor writing questions with `fetch`, as chat.js does: each question keeps its
    message id until the page acknowledges it; a post that fails waits for the server to come
    back and is sent again unchanged."""

    def __init__(self, n: int, base: str, up: asyncio.Event) -> None:
        self.n, self.base, self.up = n, base, up
        self.acknowledged: list[str] = []
        self.sent: list[str] = []
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=120)
        )

    async def start(self) -> None:
        visitor = Visitor(self.http, self.base)
        await visitor.start("sv")
        await visitor.say(f"Krasch-föreningen nummer {self.n}")
        self.csrf = CSRF_RE.findall(visitor.page)[0]

    async def post(self, text: str) -> None:
        nonce = secrets.token_urlsafe(12)
        self.sent.append(text)
        while True:
            await self.up.wait()
            try:
                async with self.http.post(
                    f"{self.base}/chatt",
                    data={"csrf": self.csrf, "msg": nonce, "text": text},
                    headers=FETCH,
                ) as response:
                    if response.status == 200 and "next" in await response.json():
                        self.acknowledged.append(text)
                        return
            except (TimeoutError, aiohttp.ClientError):
                pass  # the server died under the post: send the same message again

    async def write(self) -> None:
        for q in range(PER_VISITOR):
            await self.post(f"{QUESTIONS[(self.n + q) % len(QUESTIONS)]} (besökare {self.n}:{q})")

    async def page(self) -> str:
        async with self.http.get(f"{self.base}/chatt") as response:
            return await response.text()


@pytest.mark.timeout(900)
async def test_kill_minus_nine_of_lotsen_run_while_visitors_write_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    env = lotsen_env(
        tmp_path,
        LINK_SECRET="crash test",  # the chats' cookies and forms stay valid across the restart
        RATE_LIMIT_BURST="1000",  # the visitors write faster than people do
        # The departments are reachable (by e-mail; nothing listens there, the mail waits in the
        # outbox), so the questions are routed by the model and forwarded, not only escalated.
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(free_port()),
        SMTP_STARTTLS="false",
    )
    url, web_port = env["DATABASE_URL"], int(env["WEB_PORT"])
    migrate_and_seed(url).dispose()
    log = tmp_path / "run.log"

    def start() -> subprocess.Popen[bytes]:
        return run_lotsen(env, log, stdin=subprocess.PIPE)  # the console chat waits for questions

    def serving() -> bool:
        return (
            run.poll() is None and listening(web_port) and "Rasa server: ready" in log.read_text()
        )

    base = f"http://127.0.0.1:{web_port}"
    up = asyncio.Event()
    writers = [Writer(n, base, up) for n in range(VISITORS)]
    tree: dict[tuple[int, int], str] = {}
    run = start()
    try:
        assert await eventually(serving, 300), log.read_text()[-3000:]
        up.set()
        await asyncio.gather(*(w.start() for w in writers))
        writing = asyncio.gather(*(w.write() for w in writers))
        assert await eventually(lambda: sum(len(w.acknowledged) for w in writers) >= 4, 120)
        up.clear()  # a post that fails from here on waits for the new start
        tree = descendants(run.pid)
        run.kill()
        run.wait(10)
        in_flight = [w.sent[-1] for w in writers if w.sent[-1] not in w.acknowledged]
        assert await eventually(lambda: not alive(tree), 60), f"still alive: {alive(tree)}"
        run = start()
        assert await eventually(serving, 300), log.read_text()[-3000:]
        up.set()
        await asyncio.wait_for(writing, 300)
        every = [text for w in writers for text in w.acknowledged]
        assert len(every) == VISITORS * PER_VISITOR

        engine = make_engine(url)

        def state() -> tuple[list[Enquiry], int]:
            with Session(engine) as session:
                enquiries = session.exec(select(Enquiry).where(col(Enquiry.text).in_(every))).all()
                waiting = session.exec(
                    select(OutboxMessage).where(
                        OutboxMessage.channel == "web", col(OutboxMessage.sent_at).is_(None)
                    )
                ).all()
            return list(enquiries), len(waiting)

        # Recorded but not handed in when the process died: the next start's delivery loop
        # hands it in (after a minute), so wait for every question and every reply.
        assert await eventually(lambda: len(state()[0]) >= len(every) and state()[1] == 0, 300), (
            len(state()[0]),
            len(every),
            state()[1],
            log.read_text()[-3000:],
        )
        enquiries, _ = state()
        assert Counter(e.text for e in enquiries) == Counter(every)  # none lost, none doubled
        with Session(engine) as session:
            said = [e.text for e in session.exec(select(WebChatEntry)).all() if e.outbound]
            written = [
                e.text
                for e in session.exec(select(WebChatEntry)).all()
                if not e.outbound and e.text in every
            ]
        engine.dispose()
        assert Counter(written) == Counter(every)  # each in the transcript once
        for enquiry in enquiries:
            assert enquiry.reference is not None
            answers = [text for text in said if enquiry.reference in text]
            assert len(answers) == 1, (enquiry.reference, answers)
        # What each visitor's page shows: every question of theirs once, each reference once.
        for w in writers:
            page = await w.page()
            for text in w.acknowledged:
                reference = next(e.reference for e in enquiries if e.text == text)
                assert reference is not None and page.count(reference) >= 1, (reference, page)
        print(f"in flight at the kill: {in_flight}")
    finally:
        tree.update(descendants(run.pid))
        run.terminate()
        try:
            run.wait(30)
        except subprocess.TimeoutExpired:
            run.kill()
        kill_all(tree)
        for w in writers:
            await w.http.close()
