"""Helpers for desk tests: staff members, sign-in by link or password, CSRF tokens, a server."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import Engine

from bot.channels.desk.app import build_desk_app
from bot.channels.desk.throttle import LoginLimits
from bot.channels.desk.web import PRE_COOKIE, SESSION_COOKIE
from bot.settings import Settings
from db.people import departments
from db.people.sign_in import create_login_link
from db.plumbing.session import session_scope
from harness.people import staff_id, staff_member

COORDINATOR_ID = 111
STAFF_ID = 222
OTHER_STAFF_ID = 333
BASE_URL = "http://desk.test"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


DeskClient = TestClient[web.Request, web.Application]
"""A client of the desk served on a real local port."""


@dataclass
class Clock:
    """A frozen, movable clock handed to the desk app."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


def add_staff(engine: Engine) -> None:
    """Add a coordinator, a kultur_fritid clerk and a teknik clerk."""
    with session_scope(engine) as session:
        culture = departments.department_by_key(session=session, key="kultur_fritid")
        technical = departments.department_by_key(session=session, key="teknik")
        assert culture is not None and technical is not None
        staff_member(session, COORDINATOR_ID, "coordinator", name="Cora")
        staff_member(session, STAFF_ID, "staff", culture.id, name="Sam")
        staff_member(session, OTHER_STAFF_ID, "staff", technical.id, name="Tove")


def person(engine: Engine, telegram_user_id: int) -> int:
    """Return the id of the staff person behind a Telegram user (the desk names them so)."""
    with session_scope(engine) as session:
        return staff_id(session, telegram_user_id)


def login_path(engine: Engine, telegram_user_id: int, now: datetime) -> str:
    """Return the path and query of a fresh one-time sign-in link."""
    with session_scope(engine) as session:
        link = create_login_link(
            session=session,
            person_id=staff_id(session, telegram_user_id),
            base_url=BASE_URL,
            now=now,
        )
    assert link is not None
    return link.removeprefix(BASE_URL)


async def sign_in(client: DeskClient, engine: Engine, telegram_user_id: int, now: datetime) -> None:
    """Sign a staff member in on the client with a one-time link (the session cookie is kept)."""
    path = login_path(engine, telegram_user_id, now)
    page = await client.get(path)
    response = await client.post(
        "/desk/login",
        data={"csrf": csrf_of(await page.text()), "token": path.split("token=")[1]},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()


def csrf_of(html: str) -> str:
    """Return the first CSRF token in a page."""
    found = CSRF_RE.search(html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


def desk_settings(base_url: str | None = None) -> Settings:
    """Return settings for a desk under test (DESK_BASE_URL as given)."""
    return Settings(database_url="sqlite://", desk_base_url=base_url, _env_file=None)


@asynccontextmanager
async def desk_client(
    engine: Engine, clock: Clock, *, settings: Settings | None = None, **app_options: Any
) -> AsyncIterator[DeskClient]:
    """Serve the desk on a real local port and yield a client (refusals answered at once)."""
    app_options.setdefault("login_limits", LoginLimits(refusal_delay=0))
    app = build_desk_app(settings or desk_settings(), engine, clock=clock, **app_options)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@dataclass
class Answer:
    """A response read to the end: status, headers, cookies set and the body."""

    status: int
    headers: dict[str, str]
    cookies: dict[str, Any]
    text: str


async def password_attempt(
    client: DeskClient, username: str, password: str, *, headers: dict[str, str] | None = None
) -> Answer:
    """POST the password form with its own CSRF pair, independent of the client's cookie jar."""
    token = secrets.token_urlsafe(16)
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http,
        http.post(
            client.make_url("/desk/login"),
            data={"csrf": token, "username": username, "password": password},
            headers={"Cookie": f"{PRE_COOKIE}={token}", **(headers or {})},
            allow_redirects=False,
        ) as response,
    ):
        return Answer(
            status=response.status,
            headers=dict(response.headers),
            cookies=dict(response.cookies),
            text=await response.text(),
        )


def adopt_session(client: DeskClient, answer: Answer) -> None:
    """Put the session cookie of a successful sign-in into the client's cookie jar."""
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: answer.cookies[SESSION_COOKIE].value})
