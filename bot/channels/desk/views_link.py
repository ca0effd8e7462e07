"""Open an enquiry from the signed link in a department's e-mail.

Opening the link only shows a page with a button: mail filters that fetch every link to scan
it spend nothing. Pressing the button (a POST with a double-submit CSRF token) uses the link up
and opens a session for that one enquiry. A link that is altered, used, expired, or whose
enquiry is answered, closed or elsewhere shows a page that says what to do instead, and
changes nothing.
"""

from __future__ import annotations

from aiohttp import web
from sqlmodel import Session

from bot.channels.desk.auth import start_link_session
from bot.channels.desk.web import (
    PRE_COOKIE,
    SETTINGS,
    now_of,
    pre_csrf_ok,
    read_form,
    render,
    render_with_pre_csrf,
    run_db,
    set_session_cookie,
)
from db.enquiries import crud
from db.models import Municipality
from db.people.sign_in import EnquiryGrant, LinkRefusal, check_enquiry_link, redeem_enquiry_link

STATUS = {LinkRefusal.INVALID: 400}
"""HTTP status of a refused link: 400 when it cannot be read, 410 (gone) otherwise."""


def _municipality(session: Session) -> Municipality:
    return crud.get_municipality(session=session)


async def _refused(request: web.Request, refusal: LinkRefusal) -> web.Response:
    municipality = await run_db(request, _municipality)
    return render(
        request,
        "link_problem.html",
        status=STATUS.get(refusal, 410),
        refusal=refusal.value,
        municipality=municipality,
    )


async def link_page(request: web.Request) -> web.StreamResponse:
    """Show what the link opens and the button that uses it (looking changes nothing)."""
    token = request.query.get("token", "").strip()
    secret = request.app[SETTINGS].link_signing_key()
    now = now_of(request)

    def check(session: Session) -> EnquiryGrant | LinkRefusal:
        return check_enquiry_link(session=session, secret=secret, token=token, now=now)

    found = await run_db(request, check) if token else LinkRefusal.INVALID
    if isinstance(found, LinkRefusal):
        return await _refused(request, found)
    return render_with_pre_csrf(request, "link.html", token=token, grant=found, error=None)


async def link_submit(request: web.Request) -> web.StreamResponse:
    """Use the link up and sign in to its one enquiry."""
    form = await read_form(request)
    token = str(form.get("token", "")).strip()
    secret = request.app[SETTINGS].link_signing_key()
    now = now_of(request)

    def check(session: Session) -> EnquiryGrant | LinkRefusal:
        return check_enquiry_link(session=session, secret=secret, token=token, now=now)

    if not pre_csrf_ok(request, form):
        found = await run_db(request, check) if token else LinkRefusal.INVALID
        if isinstance(found, LinkRefusal):
            return await _refused(request, found)
        return render_with_pre_csrf(
            request, "link.html", status=403, token=token, grant=found, error="csrf"
        )

    def redeem(session: Session) -> tuple[EnquiryGrant, str] | LinkRefusal:
        found = redeem_enquiry_link(session=session, secret=secret, token=token, now=now)
        if isinstance(found, LinkRefusal):
            return found
        cookie = start_link_session(session=session, grant=found, now=now)
        if cookie is None:
            session.rollback()  # the enquiry left the mailbox a moment ago: the link stays
            return LinkRefusal.MOVED
        return found, cookie

    outcome = await run_db(request, redeem) if token else LinkRefusal.INVALID
    if isinstance(outcome, LinkRefusal):
        return await _refused(request, outcome)
    grant, cookie = outcome
    response = web.Response(status=303, headers={"Location": f"/desk/inbox/{grant.reference}"})
    set_session_cookie(request, response, cookie)
    response.del_cookie(PRE_COOKIE)
    return response
