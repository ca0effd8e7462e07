"""Shared plumbing for the desk's handlers: app keys, database calls, rendering, guards."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.channels.desk.auth import Principal, load_principal
from bot.channels.desk.pages import (
    BILINGUAL,
    LANGUAGE_COOKIE,
    VIEWS,
    PageTexts,
    View,
    environment,
    view_named,
)
from bot.channels.desk.password_pool import PasswordPool
from bot.channels.desk.throttle import LoginLimits
from bot.settings import Settings
from db.plumbing.phrases import N_, Phrase
from db.plumbing.session import session_scope

T = TypeVar("T")
log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SESSION_COOKIE = "lotsen_desk"
PRE_COOKIE = "lotsen_desk_pre"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600

ENGINE = web.AppKey("engine", Engine)
SETTINGS = web.AppKey("settings", Settings)
Clock = Callable[[], datetime]
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
PASSWORD_POOL = web.AppKey("password_pool", PasswordPool)
LOGIN_LIMITS = web.AppKey("login_limits", LoginLimits)

PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("desk_principal")


def now_of(request: web.Request) -> datetime:
    """Return the app's current time (a frozen clock in tests)."""
    return request.app[CLOCK]()


async def run_db(
    request: web.Request, work: Callable[[Session], T], *, executor: Executor | None = None
) -> T:
    """Run database work in one transaction on a worker thread (the event loop stays free).

    Pages use the default worker pool; sign-ins pass the password pool's own executor.
    """
    engine = request.app[ENGINE]

    def call() -> T:
        with session_scope(engine) as session:
            return work(session)

    if executor is None:
        return await asyncio.to_thread(call)
    return await asyncio.get_running_loop().run_in_executor(executor, call)


def view_of(request: web.Request) -> View:
    """Return the languages of this request's page: `?lang=`, the one chosen before, or both.

    Accept-Language is not consulted: every browser sends one, and the desk's default is the
    page every colleague can read, Swedish with English beside it.
    """
    for value in (request.query.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        view = view_named(value) if value else None
        if view is not None:
            return view
    return BILINGUAL


def texts_of(request: web.Request) -> PageTexts:
    """Return the text helpers of this request's view (for texts views build, e.g. chart titles)."""
    return PageTexts(view_of(request))


def _view_link(request: web.Request, view: View) -> str:
    """Return the link that shows this page in another view (the path stays out: one 404)."""
    if request.method not in ("GET", "HEAD"):
        return f"/desk?lang={view.code}"
    return f"?{request.rel_url.update_query(lang=view.code).raw_query_string}"


def _page(request: web.Request, template: str, **context: Any) -> str:
    """Return a template rendered in the request's view, for the signed-in person (if any)."""
    principal = request.get(PRINCIPAL)
    view = view_of(request)
    languages = [
        (_view_link(request, other), other.name, other.main if other.beside is None else None)
        for other in VIEWS
        if other != view
    ]
    return (
        environment(view)
        .get_template(template)
        .render(
            **{
                "principal": principal,
                "csrf": principal.csrf_token if principal else "",
                "path": request.path,
                "languages": languages,
                **context,
            }
        )
    )


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """Render a template to an HTML response; a `?lang=` choice is remembered in a cookie."""
    html = _page(request, template, **context)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    chosen = view_named(request.query.get("lang", ""))
    if chosen is not None:
        response.set_cookie(
            LANGUAGE_COOKIE,
            chosen.code,
            max_age=LANGUAGE_COOKIE_SECONDS,
            httponly=True,
            samesite="Lax",
            secure=secure_cookies(request),
            path="/",
        )
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


async def require(
    request: web.Request, *, coordinator: bool = False, link_ok: bool = False
) -> Principal:
    """Return the signed-in person, redirecting to login or refusing when the role is missing.

    Someone signed in with an e-mail link sees their one enquiry only: every page that is not
    for them (`link_ok`) leads back to it.
    """
    principal = await principal_of(request)
    if principal is None:
        raise web.HTTPSeeOther("/desk/login")
    if principal.by_link and not link_ok:
        raise web.HTTPSeeOther(f"/desk/inbox/{principal.enquiry_reference}")
    if coordinator and not principal.is_coordinator:
        raise forbidden(request)
    return principal


def hidden_from(
    request: web.Request, principal: Principal, reference: str, action: str = "view"
) -> web.HTTPException:
    """Log that someone asked for an enquiry that is not theirs to work, and return the one 404."""
    log.warning(
        "desk: refused inbox %s of %r to %s (answered 404)", action, reference, principal.actor
    )
    return not_found(request)


def render_with_pre_csrf(
    request: web.Request, template: str, status: int = 200, **context: Any
) -> web.Response:
    """Render a page whose form posts before any session (double-submit CSRF cookie)."""
    pre = secrets.token_urlsafe(24)
    response = render(request, template, status=status, pre_csrf=pre, **context)
    response.set_cookie(
        PRE_COOKIE, pre, httponly=True, samesite="Strict", secure=secure_cookies(request)
    )
    return response


def pre_csrf_ok(request: web.Request, form: MultiDictProxy[Any]) -> bool:
    """Tell whether a pre-session form came back with the token its page set as a cookie."""
    sent, cookie = str(form.get("csrf", "")), request.cookies.get(PRE_COOKIE, "")
    return bool(cookie) and same_token(sent, cookie)


def same_token(sent: str, expected: str) -> bool:
    """Compare a token a client sent with the expected one in constant time (any characters)."""
    return hmac.compare_digest(
        sent.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def https_only(settings: Settings) -> bool:
    """Tell whether the desk is published over HTTPS (DESK_BASE_URL starts with https://)."""
    return (settings.desk_base_url or "").strip().lower().startswith("https://")


def client_address(request: web.Request) -> str:
    """Return the client's address: the peer, or behind a local HTTPS proxy the hop it added."""
    peer = request.remote or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and https_only(request.app[SETTINGS]):
        try:
            local_proxy = ipaddress.ip_address(peer).is_loopback
        except ValueError:
            local_proxy = False
        if local_proxy:
            return forwarded.split(",")[-1].strip()[:64] or peer
    return peer


class _MethodNotAllowed(web.HTTPClientError):
    """405 with the site's page (aiohttp's own needs the method and the allowed ones)."""

    status_code = 405


class _TooLarge(web.HTTPClientError):
    """413 with the site's page."""

    status_code = 413


_PROBLEMS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    405: _MethodNotAllowed,
    413: _TooLarge,
    429: web.HTTPTooManyRequests,
    500: web.HTTPInternalServerError,
    503: web.HTTPServiceUnavailable,
}


def problem(request: web.Request, status: int, title: Phrase, text: Phrase) -> web.HTTPException:
    """Return an HTTP error with a readable page in the request's view."""
    html = _page(request, "problem.html", csrf="", title=title, text=text)
    return _PROBLEMS[status](
        text=html, content_type="text/html", headers={"Cache-Control": "no-store"}
    )


def not_found(request: web.Request) -> web.HTTPException:
    """Return the one 404 for anything missing or not the person's to see (no existence oracle)."""
    return problem(
        request,
        404,
        Phrase(N_("Hittades inte")),
        Phrase(N_("Det finns inget här, eller så hör det inte till dig.")),
    )


def bad_request(request: web.Request) -> web.HTTPException:
    """Return a 400 for a request body or address that cannot be read."""
    return problem(
        request,
        400,
        Phrase(N_("Felaktig begäran")),
        Phrase(N_("Begäran gick inte att läsa. Gå tillbaka och försök igen.")),
    )


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    """Return the POSTed form; a body that cannot be decoded is a 400, never a crash."""
    try:
        return await request.post()
    except web.HTTPException:
        raise
    except (ValueError, LookupError, AssertionError, HttpProcessingError):
        # No multipart boundary, bytes not in the declared charset, an unknown charset, a part
        # with broken headers.
        raise bad_request(request) from None


def forbidden(request: web.Request) -> web.HTTPForbidden:
    """Return a 403 with a readable page."""
    html = _page(request, "forbidden.html", csrf="")
    return web.HTTPForbidden(text=html, content_type="text/html")


async def checked_form(request: web.Request, principal: Principal) -> dict[str, str]:
    """Return the POSTed form after checking its CSRF token against the session's."""
    form = await read_form(request)
    sent = str(form.get("csrf", ""))
    if not principal.csrf_token or not same_token(sent, principal.csrf_token):
        raise problem(
            request,
            403,
            Phrase(N_("Formuläret hade gått ut")),
            Phrase(N_("Ladda om sidan och försök igen.")),
        )
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


def set_session_cookie(request: web.Request, response: web.StreamResponse, value: str) -> None:
    """Set the desk session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS."""
    response.set_cookie(
        SESSION_COOKIE,
        value,
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(request),
        path="/",
    )


def secure_cookies(request: web.Request) -> bool:
    """Tell whether cookies get `Secure`: the request came over TLS, or DESK_BASE_URL is https."""
    return request.secure or https_only(request.app[SETTINGS])
