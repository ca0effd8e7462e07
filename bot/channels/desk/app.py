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
    views_feedback,
    views_inbox,
    views_link,
    views_queue,
    views_register,
    views_report,
    views_routes,
)
from bot.channels.desk.password_pool import PasswordPool
from bot.channels.desk.server import SECURITY_HEADERS, SERVER_NAME, runner_for
from bot.channels.desk.throttle import LoginLimits
from bot.channels.desk.web import (
    CLOCK,
    DOMAIN_FILE,
    ENGINE,
    LOGIN_LIMITS,
    PASSWORD_POOL,
    SETTINGS,
    https_only,
    not_found,
    problem,
)
from bot.settings import PROJECT_ROOT, Settings
from db.models import utcnow
from db.plumbing.phrases import N_, Phrase

HERE = Path(__file__).resolve().parent
DEFAULT_HOST = "127.0.0.1"
HSTS = "max-age=31536000"
log = logging.getLogger(__name__)


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], object]
) -> web.StreamResponse:
    """Add defensive headers to every response; aiohttp's own refusals become the site's pages."""
    headers = {**SECURITY_HEADERS, "Server": SERVER_NAME}
    if https_only(request.app[SETTINGS]):
        headers["Strict-Transport-Security"] = HSTS
    try:
        response = await handler(request)  # type: ignore[misc]
    except web.HTTPException as exc:
        polite = _polite(request, exc)
        polite.headers.update(headers)
        raise polite from None
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
    for name, value in headers.items():
        # A page with its own policy (the web chat's allows its one script) keeps it.
        response.headers.setdefault(name, value)
    return response


def _polite(request: web.Request, exc: web.HTTPException) -> web.HTTPException:
    """Return the site's page for an error aiohttp answered in plain text (404, 405, 413)."""
    if exc.content_type == "text/html" or exc.status not in (404, 405, 413):
        return exc
    if exc.status == 404:
        return not_found(request)
    if exc.status == 413:
        return problem(
            request,
            413,
            Phrase(N_("Det du skickade var för stort")),
            Phrase(N_("Skicka mindre på en gång och försök igen.")),
        )
    refused = problem(
        request,
        405,
        Phrase(N_("Det går inte att göra så här")),
        Phrase(N_("Sidan tar inte emot den här sortens begäran. Gå tillbaka och försök igen.")),
    )
    if "Allow" in exc.headers:
        refused.headers["Allow"] = exc.headers["Allow"]
    return refused


async def _root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/desk")


def build_desk_app(
    settings: Settings,
    engine: Engine,
    *,
    clock: Callable[[], datetime] = utcnow,
    password_pool: PasswordPool | None = None,
    login_limits: LoginLimits | None = None,
    domain_file: Path | None = None,
) -> web.Application:
    """Build the desk application; `clock` is the current time (frozen in tests), `domain_file`
    the Rasa domain whose topic intents the routing page lists (the project's by default)."""
    app = web.Application(middlewares=[security_headers], client_max_size=256 * 1024)
    app[SETTINGS] = settings
    app[ENGINE] = engine
    app[CLOCK] = clock
    app[DOMAIN_FILE] = domain_file or PROJECT_ROOT / "domain.yml"
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
    app.router.add_get("/desk/routes", views_routes.routes_page)
    app.router.add_post("/desk/routes/{intent}", views_routes.routes_move)
    app.router.add_post("/desk/authorities/{key}", views_routes.authority_save)
    app.router.add_post("/desk/authorities/{key}/{action:remove}", views_routes.authority_save)
    app.router.add_get("/desk/training", views_routes.training_page)
    app.router.add_post(
        r"/desk/training/{candidate_id:\d{1,12}}/{action}", views_routes.training_review
    )
    app.router.add_get("/desk/inbox", views_inbox.inbox_page)
    app.router.add_get("/desk/inbox/{reference}", views_inbox.inbox_enquiry_page)
    app.router.add_post("/desk/inbox/{reference}/{action}", views_inbox.inbox_action)
    app.router.add_get("/desk/link", views_link.link_page)
    app.router.add_post("/desk/link", views_link.link_submit)
    app.router.add_get("/desk/enquiries", views_enquiries.enquiries_page)
    app.router.add_get("/desk/enquiries/{reference}", views_enquiries.enquiry_page)
    app.router.add_get("/rapport", views_report.report_page)
    app.router.add_get("/diarium", views_register.diarium_page)
    app.router.add_get("/svar/{token}", views_feedback.feedback_page)
    app.router.add_post("/svar/{token}", views_feedback.feedback_submit)
    app.router.add_post("/desk/enquiries/{reference}/register", views_register.mark_enquiry)
    app.router.add_post(
        "/desk/enquiries/{reference}/private-person", views_register.mark_private_person
    )
    app.router.add_get("/rapport.csv", views_report.report_csv)
    app.router.add_get("/rapport.json", views_report.report_json)
    app.router.add_static("/static", HERE / "static", append_version=True)
    return app


def desk_base_url(settings: Settings) -> str:
    """Return the address put into sign-in links (DESK_BASE_URL when set, else local)."""
    return settings.desk_url


async def start_desk(
    settings: Settings,
    engine: Engine,
    *,
    host: str | None = None,
    mount: Callable[[web.Application], None] | None = None,
) -> web.AppRunner:
    """Start serving the desk on the web port; call `await runner.cleanup()` to stop.

    `mount` adds more pages to the same server (the web chat, bot/channels/webchat).
    """
    app = build_desk_app(settings, engine)
    if mount is not None:
        mount(app)
    runner = runner_for(app)
    await runner.setup()
    listen = host or getattr(settings, "web_listen", None) or DEFAULT_HOST
    await web.TCPSite(runner, str(listen), settings.web_port).start()
    return runner
