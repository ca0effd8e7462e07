"""The desk web application: every route wired in one place, and its start for `lotsen run`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from aiohttp import web
from sqlalchemy.engine import Engine

from bot.channels.desk import (
    views_auth,
    views_department,
    views_enquiries,
    views_inbox,
    views_link,
    views_queue,
    views_register,
    views_report,
)
from bot.channels.desk.password_pool import PasswordPool
from bot.channels.desk.throttle import LoginLimits
from bot.channels.desk.web import (
    CLOCK,
    ENGINE,
    LOGIN_LIMITS,
    PASSWORD_POOL,
    SETTINGS,
    https_only,
    problem,
)
from bot.settings import Settings
from db.models import utcnow
from db.plumbing.phrases import N_, Phrase

HERE = Path(__file__).resolve().parent
DEFAULT_HOST = "127.0.0.1"
HSTS = "max-age=31536000"
log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], object]
) -> web.StreamResponse:
    """Add defensive headers to every response; an unexpected error is a plain 500 page."""
    headers = dict(SECURITY_HEADERS)
    if https_only(request.app[SETTINGS]):
        headers["Strict-Transport-Security"] = HSTS
    try:
        response = await handler(request)  # type: ignore[misc]
    except web.HTTPException as exc:
        exc.headers.update(headers)
        raise
    except Exception:
        log.exception("desk: unexpected error on %s %s", request.method, request.path)
        failure = problem(
            request,
            500,
            Phrase(N_("Något gick fel")),
            Phrase(N_("Sidan kunde inte visas. Försök igen om en stund.")),
        )
        failure.headers.update(headers)
        raise failure from None
    assert isinstance(response, web.StreamResponse)
    response.headers.update(headers)
    return response


async def _root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/desk")


def build_desk_app(
    settings: Settings,
    engine: Engine,
    *,
    clock: Callable[[], datetime] = utcnow,
    password_pool: PasswordPool | None = None,
    login_limits: LoginLimits | None = None,
) -> web.Application:
    """Build the desk application; `clock` is the current time (frozen in tests)."""
    app = web.Application(middlewares=[security_headers], client_max_size=256 * 1024)
    app[SETTINGS] = settings
    app[ENGINE] = engine
    app[CLOCK] = clock
    app[PASSWORD_POOL] = password_pool or PasswordPool()
    app[LOGIN_LIMITS] = login_limits or LoginLimits()

    async def warm_pool(app: web.Application) -> None:
        await app[PASSWORD_POOL].warm()

    async def close_pool(app: web.Application) -> None:
        app[PASSWORD_POOL].close()

    app.on_startup.append(warm_pool)
    app.on_cleanup.append(close_pool)
    app.router.add_get("/", _root)
    app.router.add_get("/desk", views_auth.home)
    app.router.add_get("/desk/login", views_auth.login_page)
    app.router.add_post("/desk/login", views_auth.login_submit)
    app.router.add_post("/desk/logout", views_auth.logout)
    app.router.add_get("/desk/queue", views_queue.queue_page)
    app.router.add_get(r"/desk/queue/{escalation_id:\d+}", views_queue.case_page)
    app.router.add_post(r"/desk/queue/{escalation_id:\d+}/{action}", views_queue.case_action)
    app.router.add_get("/desk/department", views_department.department_index)
    app.router.add_get("/desk/department/{key}", views_department.department_page)
    app.router.add_post("/desk/department/{key}/{what}/{kind}", views_department.department_edit)
    app.router.add_post("/desk/department/{key}/{what}", views_department.department_edit)
    app.router.add_get("/desk/inbox", views_inbox.inbox_page)
    app.router.add_get("/desk/inbox/{reference}", views_inbox.inbox_enquiry_page)
    app.router.add_post("/desk/inbox/{reference}/{action}", views_inbox.inbox_action)
    app.router.add_get("/desk/link", views_link.link_page)
    app.router.add_post("/desk/link", views_link.link_submit)
    app.router.add_get("/desk/enquiries", views_enquiries.enquiries_page)
    app.router.add_get("/desk/enquiries/{reference}", views_enquiries.enquiry_page)
    app.router.add_get("/rapport", views_report.report_page)
    app.router.add_get("/diarium", views_register.diarium_page)
    app.router.add_get("/rapport.csv", views_report.report_csv)
    app.router.add_get("/rapport.json", views_report.report_json)
    app.router.add_static("/static", HERE / "static", append_version=True)
    return app


def desk_base_url(settings: Settings) -> str:
    """Return the address put into sign-in links (DESK_BASE_URL when set, else local)."""
    return settings.desk_url


async def start_desk(
    settings: Settings, engine: Engine, *, host: str | None = None
) -> web.AppRunner:
    """Start serving the desk on the web port; call `await runner.cleanup()` to stop."""
    runner = web.AppRunner(build_desk_app(settings, engine), access_log=None)
    await runner.setup()
    listen = host or getattr(settings, "web_listen", None) or DEFAULT_HOST
    await web.TCPSite(runner, str(listen), settings.web_port).start()
    return runner
