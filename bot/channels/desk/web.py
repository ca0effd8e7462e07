"""Shared plumbing for the desk's handlers: app keys, database calls, rendering, guards."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import jinja2
from aiohttp import web
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.channels.desk.auth import Principal, load_principal
from bot.settings import Settings
from db.session import session_scope

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SESSION_COOKIE = "lotsen_desk"
PRE_COOKIE = "lotsen_desk_pre"

ENGINE = web.AppKey("engine", Engine)
SETTINGS = web.AppKey("settings", Settings)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
Clock = Callable[[], datetime]
CLOCK: web.AppKey[Clock] = web.AppKey("clock")

PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("desk_principal")


def now_of(request: web.Request) -> datetime:
    """Return the app's current time (a frozen clock in tests)."""
    return request.app[CLOCK]()


async def run_db(request: web.Request, work: Callable[[Session], T]) -> T:
    """Run database work in one transaction on a worker thread (the event loop stays free)."""
    engine = request.app[ENGINE]

    def call() -> T:
        with session_scope(engine) as session:
            return work(session)

    return await asyncio.to_thread(call)


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """Render a template to an HTML response, with the signed-in person and CSRF token."""
    principal = request.get(PRINCIPAL)
    html = (
        request.app[TEMPLATES]
        .get_template(template)
        .render(
            principal=principal,
            csrf=principal.csrf_token if principal else "",
            path=request.path,
            **context,
        )
    )
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


def see_other(location: str) -> web.HTTPSeeOther:
    """Return a 303 redirect (after a successful POST)."""
    return web.HTTPSeeOther(location)


async def principal_of(request: web.Request) -> Principal | None:
    """Return the signed-in person for this request (cached on the request)."""
    if PRINCIPAL in request:
        return request[PRINCIPAL]
    cookie = request.cookies.get(SESSION_COOKIE)
    now = now_of(request)
    principal = (
        await run_db(request, lambda s: load_principal(session=s, cookie=cookie, now=now))
        if cookie
        else None
    )
    request[PRINCIPAL] = principal
    return principal


async def require(request: web.Request, *, coordinator: bool = False) -> Principal:
    """Return the signed-in person, redirecting to login or refusing when the role is missing."""
    principal = await principal_of(request)
    if principal is None:
        raise web.HTTPSeeOther("/desk/login")
    if coordinator and not principal.is_coordinator:
        raise forbidden(request)
    return principal


def forbidden(request: web.Request) -> web.HTTPForbidden:
    """Return a 403 with a readable page."""
    html = (
        request.app[TEMPLATES]
        .get_template("forbidden.html")
        .render(principal=request.get(PRINCIPAL), csrf="", path=request.path)
    )
    return web.HTTPForbidden(text=html, content_type="text/html")


async def checked_form(request: web.Request, principal: Principal) -> dict[str, str]:
    """Return the POSTed form after checking its CSRF token against the session's."""
    form = await request.post()
    sent = str(form.get("csrf", ""))
    if not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
        raise web.HTTPForbidden(text="Ogiltig eller saknad CSRF-token / invalid CSRF token.")
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


def set_session_cookie(request: web.Request, response: web.StreamResponse, value: str) -> None:
    """Set the desk session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS."""
    response.set_cookie(
        SESSION_COOKIE,
        value,
        httponly=True,
        samesite="Lax",
        secure=request.secure,
        path="/",
    )
