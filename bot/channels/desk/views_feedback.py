"""The public feedback page /svar/<token>: one tap says whether an answer helped, then an
optional comment (db/feedback.py). Reached from the signed link in an answer sent by e-mail or
in the web chat; no sign-in, no JavaScript, in the association's language (the link's `?lang=`).

GET only shows (a mail filter that fetches the link changes nothing); the tap and the comment
are POSTs to the same address, each followed by a redirect back to it. A link that was altered
or cut short, or has expired, gets a polite page and changes nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlmodel import Session

from bot.channels.desk.web import SETTINGS, now_of, read_form, render, run_db, see_other
from bot.conversation import association_actor
from db import feedback
from db.enquiries import crud
from db.enquiries.workflow import WorkflowError
from db.models import AssociationUser
from db.plumbing.phrases import Phrase

MAX_TOKEN = 200


def _address(request: web.Request, token: str) -> str:
    """Return the page's own address (keeping the chosen language)."""
    language = request.query.get("lang", "")
    query = f"?{urlencode({'lang': language})}" if language.isalpha() and len(language) < 9 else ""
    return f"/svar/{token}{query}"


def _state(target: feedback.LinkTarget) -> str:
    if target.feedback is not None:
        return "commented" if target.feedback.comment is not None else "rated"
    return "ask" if target.may_rate else "handled"


async def _show(
    request: web.Request, token: str, status: int = 200, problem: Phrase | None = None
) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    now = now_of(request)

    def load(session: Session) -> dict[str, Any]:
        found = feedback.read_link(
            session=session, secret=settings.link_signing_key(), token=token, now=now
        )
        municipality = crud.get_municipality(session=session)
        if isinstance(found, feedback.LinkRefusal):
            return {"refusal": found.value, "municipality": municipality}
        return {
            "state": _state(found),
            "reference": found.enquiry.reference,
            "helpful": found.feedback.helpful if found.feedback else None,
            "municipality": municipality,
        }

    data = await run_db(request, load)
    if "refusal" in data:
        code = 410 if data["refusal"] == feedback.LinkRefusal.EXPIRED else 404
        return render(request, "feedback_problem.html", status=code, public=True, **data)
    return render(
        request,
        "feedback.html",
        status=status,
        public=True,
        action=_address(request, token),
        problem=problem,
        limit=feedback.MAX_COMMENT,
        **data,
    )


async def feedback_page(request: web.Request) -> web.StreamResponse:
    """Show the question "did the answer help?", the comment form, or the thanks."""
    token = request.match_info["token"][:MAX_TOKEN]
    return await _show(request, token)


async def feedback_submit(request: web.Request) -> web.StreamResponse:
    """Record the tap or the comment; anything else changes nothing and shows the page."""
    token = request.match_info["token"][:MAX_TOKEN]
    form = await read_form(request)
    settings = request.app[SETTINGS]
    now = now_of(request)
    rating = str(form.get("rating", ""))
    comment = str(form.get("comment", ""))

    def act(session: Session) -> Phrase | None:
        found = feedback.read_link(
            session=session, secret=settings.link_signing_key(), token=token, now=now
        )
        if isinstance(found, feedback.LinkRefusal):
            return None  # the page says why
        if rating in ("yes", "no"):
            user = (
                session.get(AssociationUser, found.enquiry.user_id)
                if found.enquiry.user_id
                else None
            )
            try:
                feedback.rate(
                    session=session,
                    enquiry=found.enquiry,
                    helpful=rating == "yes",
                    channel=user.channel if user else "web",
                    actor=association_actor(user) if user else "association",
                    answer=found.answer,
                    now=now,
                )
            except WorkflowError:
                return None  # rated already, or handled meanwhile: the page shows which
            return None
        if "comment" in form and found.feedback is not None:
            try:
                feedback.add_comment(
                    session=session, feedback=found.feedback, text=comment, now=now
                )
            except feedback.FeedbackError as refusal:
                return refusal.phrase
        return None

    problem = await run_db(request, act)
    if problem is not None:
        return await _show(request, token, status=400, problem=problem)
    raise see_other(_address(request, token))
