"""Sign in with a one-time link or a local account, and sign out."""

from __future__ import annotations

import math

from aiohttp import web
from sqlmodel import Session

from bot.channels.desk.auth import end_session, start_session
from bot.channels.desk.signin import sign_in_with_password
from bot.channels.desk.web import (
    PRE_COOKIE,
    SESSION_COOKIE,
    checked_form,
    now_of,
    pre_csrf_ok,
    principal_of,
    read_form,
    render,
    render_with_pre_csrf,
    require,
    run_db,
    set_session_cookie,
)
from db.people.sign_in import redeem_login_token

BUSY_RETRY_SECONDS = 5


def _login_page(
    request: web.Request, status: int = 200, token: str = "", **context: object
) -> web.Response:
    """Render the sign-in page with a fresh pre-session CSRF token (double-submit cookie)."""
    return render_with_pre_csrf(request, "login.html", status=status, token=token, **context)


async def login_page(request: web.Request) -> web.StreamResponse:
    """Show the sign-in page (a link's confirm button, or the local account form)."""
    if await principal_of(request) is not None and "token" not in request.query:
        raise web.HTTPSeeOther("/desk")
    return _login_page(request, token=request.query.get("token", ""))


async def login_submit(request: web.Request) -> web.StreamResponse:
    """Redeem a one-time link or check a local password, then open a session."""
    form = await read_form(request)
    if not pre_csrf_ok(request, form):
        return _login_page(request, status=403, error="csrf")
    now = now_of(request)
    token = str(form.get("token", "")).strip()
    if token:

        def with_token(session: Session) -> str | None:
            person_id = redeem_login_token(session=session, token=token, now=now)
            if person_id is None:
                return None
            return start_session(session=session, person_id=person_id, now=now)

        value = await run_db(request, with_token)
        if value is None:
            return _login_page(request, status=400, error="link")
    else:
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        outcome = await sign_in_with_password(request, username, password)
        if outcome.busy:
            response = _login_page(request, status=503, error="busy", username=username)
            response.headers["Retry-After"] = str(BUSY_RETRY_SECONDS)
            return response
        if outcome.refused_until is not None:
            seconds = max(1, math.ceil((outcome.refused_until - now).total_seconds()))
            response = _login_page(
                request,
                status=429,
                error="throttled",
                minutes=math.ceil(seconds / 60),
                username=username,
            )
            response.headers["Retry-After"] = str(seconds)
            return response
        if outcome.cookie is None:
            return _login_page(request, status=400, error="password", username=username)
        value = outcome.cookie
    response = web.Response(status=303, headers={"Location": "/desk"})
    set_session_cookie(request, response, value)
    response.del_cookie(PRE_COOKIE)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session and return to the sign-in page."""
    principal = await require(request, link_ok=True)
    await checked_form(request, principal)
    cookie = request.cookies.get(SESSION_COOKIE)
    now = now_of(request)
    await run_db(request, lambda s: end_session(session=s, cookie=cookie, now=now))
    response = web.Response(status=303, headers={"Location": "/desk/login"})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def home(request: web.Request) -> web.StreamResponse:
    """Show the start page: what this person can do."""
    principal = await require(request)
    from db.models import Department

    def departments(session: Session) -> list[Department]:
        from sqlmodel import col, select

        rows = session.exec(select(Department).order_by(col(Department.name))).all()
        return [d for d in rows if principal.may_edit_department(d.id)]

    return render(request, "home.html", departments=await run_db(request, departments))
