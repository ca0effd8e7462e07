"""Helpers for web-chat tests and the bench: the web server with the chat, and a visitor.

`Visitor` is a browser without JavaScript over plain HTTP: it reads the page's forms (CSRF
token, message id, buttons) and posts them as the page would, keeping the chat's cookie.
"""

from __future__ import annotations

import asyncio
import html
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.engine import Engine

from bot.channels.desk.app import build_desk_app
from bot.channels.desk.server import runner_for
from bot.channels.webchat.app import mount_webchat
from bot.ratelimit import RateLimiter
from bot.services import Services, create_services
from bot.settings import Settings
from harness.ports import free_port

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
NONCE_RE = re.compile(r'name="msg" value="([^"]+)"')
ENTRY_RE = re.compile(
    r'<li class="msg (in|out)" id="m(\d+)" data-id="\d+" lang="([a-z]+)" dir="(ltr|rtl)">'
    r'.*?<p class="text">(.*?)</p>',
    re.S,
)
BUTTON_RE = re.compile(r'<button type="submit" name="action" value="([^"]+)"[^>]*>(.*?)</button>')


@dataclass(frozen=True)
class Entry:
    """One message of the transcript as the page shows it."""

    id: int
    outbound: bool
    language: str
    direction: str
    text: str


def entries_of(page: str) -> list[Entry]:
    """Return the transcript shown on a chat page."""
    return [
        Entry(int(number), side == "out", language, way, html.unescape(text))
        for side, number, language, way, text in ENTRY_RE.findall(page)
    ]


def buttons_of(page: str) -> dict[str, str]:
    """Return the page's buttons: label -> action (the last offered wins)."""
    return {html.unescape(label): html.unescape(value) for value, label in BUTTON_RE.findall(page)}


def build_chat_app(
    settings: Settings,
    engine: Engine,
    services: Services,
    *,
    limiter: RateLimiter | None = None,
    start_limiter: RateLimiter | None = None,
) -> web.Application:
    """Return the desk's web application with the web chat mounted."""
    app = build_desk_app(settings, engine)
    mount_webchat(app, services, limiter=limiter, start_limiter=start_limiter)
    return app


class Visitor:
    """A visitor without JavaScript: every answer is a new page."""

    def __init__(self, session: aiohttp.ClientSession, base: str = "") -> None:
        self.http = session
        self.base = base
        self.page = ""

    async def open(self, path: str = "/chatt") -> str:
        """Load a page; return its HTML (kept as the current page)."""
        async with self.http.get(self.base + path) as response:
            self.page = await response.text()
            self.status = response.status
        return self.page

    async def post(self, data: dict[str, str], path: str = "/chatt") -> aiohttp.ClientResponse:
        """Post a form of the current page (its CSRF token and message id added)."""
        fields = {"csrf": CSRF_RE.findall(self.page)[0], **data}
        nonce = NONCE_RE.findall(self.page)
        if nonce and path == "/chatt":
            fields.setdefault("msg", nonce[0])
        async with self.http.post(self.base + path, data=fields, allow_redirects=True) as response:
            self.page = await response.text()
            self.status = response.status
            return response

    async def start(self, language: str = "sv") -> None:
        """Open the first page and choose a language."""
        await self.open()
        await self.post({"lang": language})

    async def say(self, text: str) -> None:
        """Write a message and send it."""
        await self.post({"text": text})

    async def press(self, label: str) -> None:
        """Press the button with this label."""
        await self.post({"action": buttons_of(self.page)[label]})

    @property
    def entries(self) -> list[Entry]:
        """Return the transcript on the current page."""
        return entries_of(self.page)

    @property
    def transcript(self) -> str:
        """Return the transcript's text."""
        return "\n".join(entry.text for entry in self.entries)


class LiveChat:
    """The web server with the chat on a free local port, served from a background thread."""

    def __init__(self, settings: Settings, engine: Engine, **limits: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._settings, self._engine, self._limits = settings, engine, limits
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        services = create_services(self._settings)
        app = build_chat_app(self._settings, self._engine, services, **self._limits)
        runner = runner_for(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.run_until_complete(services.aclose())
        self._loop.close()

    def __enter__(self) -> LiveChat:
        self._thread.start()
        assert self._ready.wait(30), "the web server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)


@asynccontextmanager
async def visitor_session() -> AsyncIterator[aiohttp.ClientSession]:
    """Yield an HTTP client session with its own cookie jar (one browser)."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        yield session
