"""The chat's pages: `/chatt` (GET shows the conversation, POST hands in what the visitor did).

Without JavaScript every answer is a new page (POST-redirect-GET); with it, chat.js posts the
same forms with `fetch` (answered with JSON) and receives new messages from `/chatt/events`.

A chat starts when the visitor picks a language; only then is the first-party cookie set
(a random secret, HttpOnly, SameSite=Lax, Secure behind HTTPS; the database keeps its hash).
Forms carry a token derived from the chat (CSRF) and a per-page message id: the same form
posted twice (double click, reload, a retried `fetch`) is one message. What the visitor wrote
is written into the transcript before the page says it was received, then handed to the
conversation as from the writer `web`/visitor/chat; the replies are outbox rows the delivery
(delivery.py) puts into the transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from aiohttp import web
from markupsafe import Markup
from multidict import MultiDictProxy
from sqlmodel import Session, select

from bot.channels.desk.pages import (
    DEFAULT_VIEW,
    PageTexts,
    View,
    direction,
    view_accepted,
    view_named,
)
from bot.channels.desk.server import SECURITY_HEADERS
from bot.channels.desk.web import (
    ENGINE,
    SETTINGS,
    client_address,
    read_form,
    run_db,
    same_token,
    secure_cookies,
)
from bot.channels.webchat.delivery import Hub, deliver
from bot.channels.webchat.pages import chat_environment
from bot.conversation import Conversation
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, normalise_language
from bot.messages import choices
from bot.messages.department import already_handled, button_invalid
from bot.ratelimit import RateLimiter
from db import webchat
from db.enquiries.notifications import Kind
from db.enquiries.workflow import WorkflowError, record_feedback
from db.intake import Writer, message_key
from db.models import AssociationUser, Enquiry, WebChat, WebChatEntry, utcnow
from db.people import identities
from db.people.limits import Verdict, person_key
from db.plumbing.session import session_scope
from db.privacy.masking import clean_text, mask_personal_data

log = logging.getLogger(__name__)
T = TypeVar("T")

CHAT_COOKIE = "lotsen_chatt"
COOKIE_SECONDS = 180 * 24 * 3600
MAX_TEXT = 8000
"""Characters a message form takes at all (the conversation answers longer questions politely
with its own limit, MAX_MESSAGE_CHARS); more is refused with the site's page."""
RECOVER_AFTER = timedelta(seconds=60)
"""A recorded message still unhandled after this is handed in again (see `recover`)."""
STREAM_SECONDS = 300.0
HEARTBEAT_SECONDS = 15.0
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s.]{2,63}")
NONCE = re.compile(r"[A-Za-z0-9_-]{16,32}")
REFERENCE = re.compile(r"[A-Za-z0-9-]{3,32}")
COMMANDS = {
    "cmd:status": Kind.STATUS,
    "cmd:help": Kind.HELP,
    "cmd:language": Kind.LANGUAGE_CHOICE,
    "/status": Kind.STATUS,
    "/help": Kind.HELP,
    "/hjälp": Kind.HELP,
    "/language": Kind.LANGUAGE_CHOICE,
    "/språk": Kind.LANGUAGE_CHOICE,
}
CHAT_CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

CONVERSATION = web.AppKey("webchat_conversation", Conversation)
HUB = web.AppKey("webchat_hub", Hub)
LIMITER: web.AppKey[RateLimiter] = web.AppKey("webchat_limiter")
START_LIMITER: web.AppKey[RateLimiter] = web.AppKey("webchat_start_limiter")


@dataclass(frozen=True)
class Shown:
    """One transcript entry as the page shows it."""

    id: int
    outbound: bool
    text: str
    language: str
    direction: str
    choices: list[list[tuple[str, str, str | None]]]  # label, action, the label's language


def _shown(entry: WebChatEntry) -> Shown:
    rows = []
    for line in entry.choices or []:
        row = []
        for label, action in line:
            code = action[5:] if action.startswith("lang:") and action[5:] in LANGUAGES else None
            row.append((str(label), str(action), code))
        rows.append(row)
    assert entry.id is not None
    return Shown(
        entry.id, entry.outbound, entry.text, entry.language, direction(entry.language), rows
    )


# --- signing, CSRF, the visitor's chat -------------------------------------------------------


def _sign(request: web.Request, purpose: str, value: str) -> str:
    key = request.app[SETTINGS].link_signing_key()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def _start_token(request: web.Request, hour: int | None = None) -> str:
    return _sign(request, "chat-start", str(int(time.time() // 3600) if hour is None else hour))


def _start_token_ok(request: web.Request, sent: str) -> bool:
    hour = int(time.time() // 3600)
    return any(same_token(sent, _start_token(request, h)) for h in (hour, hour - 1))


def _csrf(request: web.Request, chat: WebChat) -> str:
    return _sign(request, "chat-csrf", chat.key)


def resume_path(request: web.Request, chat: WebChat) -> str:
    """Return the signed path that, with a reference number, resumes the chat elsewhere."""
    return f"/chatt/fortsatt/{chat.key}/{_sign(request, 'chat-resume', chat.key)}"


def _same_origin(request: web.Request) -> bool:
    """Tell whether a POST came from our own pages (Origin / Sec-Fetch-Site, when sent)."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return True  # none, or hidden by the site's Referrer-Policy: Sec-Fetch-Site decided
    allowed = {f"{request.scheme}://{request.host}", request.app[SETTINGS].desk_url}
    return origin.rstrip("/") in allowed


async def _db(request: web.Request, work: Callable[[Session], T]) -> T:
    return await run_db(request, work)


async def _chat_of(request: web.Request) -> WebChat | None:
    token = request.cookies.get(CHAT_COOKIE)
    if not token:
        return None
    return await _db(request, lambda s: webchat.chat_by_token(session=s, token=token))


def _writer(chat: WebChat) -> Writer:
    return Writer(channel="web", address=chat.visitor, conversation=chat.key)


def _set_cookie(request: web.Request, response: web.StreamResponse, secret: str) -> None:
    response.set_cookie(
        CHAT_COOKIE,
        secret,
        max_age=COOKIE_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(request),
        path="/chatt",
    )


# --- rendering -------------------------------------------------------------------------------


def _view(request: web.Request, language: str | None = None) -> View:
    if language in LANGUAGES:
        return View(str(language))
    chosen = view_named(request.query.get("lang", ""))
    if chosen is not None and chosen.beside is None:
        return chosen
    return view_accepted(request.headers.get("Accept-Language")) or DEFAULT_VIEW


def _html(view: View, template: str, **context: Any) -> str:
    return chat_environment(view).get_template(template).render(**context)


def _page(
    request: web.Request, template: str, *, view: View, status: int = 200, **context: Any
) -> web.Response:
    response = web.Response(
        text=_html(view, template, **context),
        status=status,
        content_type="text/html",
        charset="utf-8",
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CHAT_CSP
    return response


_PROBLEMS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    413: web.HTTPRequestEntityTooLarge,
    429: web.HTTPTooManyRequests,
}


def _problem(request: web.Request, status: int, kind: str, view: View | None = None) -> Exception:
    """Return the chat's polite page for a refused request (nothing was changed)."""
    html = _html(view or _view(request), "chat_problem.html", kind=kind)
    exc_type = _PROBLEMS[status]
    if exc_type is web.HTTPRequestEntityTooLarge:
        return web.HTTPRequestEntityTooLarge(
            max_size=MAX_TEXT, actual_size=0, text=html, content_type="text/html"
        )
    return exc_type(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


def entry_html(request: web.Request, view: View, chat: WebChat, entry: WebChatEntry) -> str:
    """Return one transcript entry as the page's list item (for the event stream)."""
    return _html(
        view,
        "chat_entry.html",
        entry=_shown(entry),
        csrf=_csrf(request, chat),
        nonce=secrets.token_urlsafe(12),
    )


# --- pages -----------------------------------------------------------------------------------


async def chat_page(request: web.Request) -> web.StreamResponse:
    """Show the first page (no chat yet) or the visitor's conversation."""
    chat = await _chat_of(request)
    if chat is None:
        return _page(
            request,
            "chat_start.html",
            view=_view(request),
            csrf=_start_token(request),
            languages=[(code, LANGUAGE_NAMES[code], direction(code)) for code in LANGUAGES],
        )
    language = await request.app[CONVERSATION].language_of(writer=_writer(chat))

    def load(session: Session) -> tuple[list[WebChatEntry], bool]:
        delivered = deliver(session, chat=chat)
        if delivered:
            request.app[HUB].wake(delivered)
        entries = webchat.entries_after(session=session, chat=chat, after=0)
        return entries, webchat.person_of(session=session, chat=chat) is not None

    entries, _ = await _db(request, load)
    shown = [_shown(entry) for entry in entries]
    return _page(
        request,
        "chat.html",
        view=_view(request, language),
        entries=shown,
        last=shown[-1].id if shown else 0,
        csrf=_csrf(request, chat),
        nonce=secrets.token_urlsafe(12),
        email=chat.email or "",
        resume=request.app[SETTINGS].desk_url + resume_path(request, chat),
    )


async def chat_post(request: web.Request) -> web.StreamResponse:
    """Start a chat (a language chosen), or hand in a message, a button press, an address."""
    if not _same_origin(request):
        raise _problem(request, 403, "expired")
    form = await read_form(request)
    chat = await _chat_of(request)
    fetching = request.headers.get("X-Lotsen-Fetch") == "1"
    if chat is None:
        return await _start(request, form, fetching)
    if not same_token(str(form.get("csrf", "")), _csrf(request, chat)):
        raise _problem(request, 403, "expired")
    nonce = str(form.get("msg", ""))
    if not NONCE.fullmatch(nonce):
        raise _problem(request, 400, "unreadable")
    reload = False
    if "email" in form:
        await _save_email(request, chat, str(form.get("email", "")))
    elif form.get("action"):
        action = str(form["action"])
        if len(action) > 64:
            raise _problem(request, 400, "unreadable")
        key = message_key(
            "web", chat.key, f"{nonce}:{hashlib.sha256(action.encode()).hexdigest()[:8]}"
        )
        label = await _db(request, lambda s: _label_of(s, chat, action))
        wrong_language = action.startswith("lang:") and action[5:] not in LANGUAGES
        if (label is None and action not in COMMANDS) or wrong_language:
            raise _problem(request, 400, "unreadable")
        if await _admitted(request, chat, key, None):
            if label is not None:  # the commands' own buttons change nothing to keep
                await _record(request, chat, key, label, action=action)
            reload = await hand_in(request.app, chat, key, action=action)
    else:
        text = _text_of(request, form)
        key = message_key("web", chat.key, nonce)
        if await _admitted(request, chat, key, text):
            await _record(request, chat, key, text)
            await hand_in(request.app, chat, key, text=text)
    await _deliver_now(request, chat)
    if fetching:
        return web.json_response({"next": secrets.token_urlsafe(12), "reload": reload})
    raise web.HTTPSeeOther("/chatt#senaste")


async def _start(
    request: web.Request, form: MultiDictProxy[Any], fetching: bool
) -> web.StreamResponse:
    language = str(form.get("lang", ""))
    if not _start_token_ok(request, str(form.get("csrf", ""))):
        raise _problem(request, 403, "expired")
    if language not in LANGUAGES:
        raise _problem(request, 400, "unreadable")
    verdict = await request.app[START_LIMITER].check(
        person_key("web-start", client_address(request))
    )
    if verdict != Verdict.OK:
        raise _problem(request, 429, "busy", View(language))
    chat, secret = await _db(request, lambda s: webchat.start_chat(session=s))
    conversation, writer = request.app[CONVERSATION], _writer(chat)
    await conversation.start(writer=writer, key=message_key("web", chat.key, "start"))
    await conversation.set_language(
        writer=writer, language=language, key=message_key("web", chat.key, "language")
    )
    await _deliver_now(request, chat)
    response: web.StreamResponse
    if fetching:
        response = web.json_response({"next": secrets.token_urlsafe(12), "reload": True})
    else:
        response = web.HTTPSeeOther("/chatt")
    _set_cookie(request, response, secret)
    if isinstance(response, web.HTTPException):
        raise response
    return response


def _text_of(request: web.Request, form: MultiDictProxy[Any]) -> str:
    """Return the message written, refusing an empty, a huge or a binary one (changes nothing)."""
    raw = form.get("text")
    if not isinstance(raw, str):
        raise _problem(request, 400, "unreadable")
    if len(raw) > MAX_TEXT:
        raise _problem(request, 413, "too_long")
    if "\x00" in raw or "\ufffd" in raw:
        raise _problem(request, 400, "unreadable")
    if not clean_text(raw):
        raise _problem(request, 400, "empty")
    return raw


async def _admitted(request: web.Request, chat: WebChat, key: str, text: str | None) -> bool:
    """Ask the per-person limit; the first refusal of a flood is told once, in the chat."""
    verdict = await request.app[LIMITER].check(person_key("web", chat.visitor), key=key)
    if verdict == Verdict.OK:
        return True
    log.info("Rate limit for web chat %s: %s", chat.key, verdict)
    if verdict == Verdict.NOTIFY:
        await request.app[CONVERSATION].refuse_flood(writer=_writer(chat), text=text, key=key)
    return False


async def _record(
    request: web.Request, chat: WebChat, key: str, text: str, *, action: str | None = None
) -> None:
    """Write down what the visitor wrote or pressed (masked) before anything answers it."""
    shown = mask_personal_data(clean_text(text))

    def work(session: Session) -> None:
        person_id = webchat.person_of(session=session, chat=chat)
        person = session.get(AssociationUser, person_id) if person_id is not None else None
        language = normalise_language(person.language) if person is not None else "sv"
        webchat.record_inbound(
            session=session, chat=chat, key=key, text=shown, language=language, action=action
        )

    await _db(request, work)
    request.app[HUB].wake({chat.id} if chat.id is not None else set())


async def hand_in(
    app: web.Application,
    chat: WebChat,
    key: str,
    *,
    text: str | None = None,
    action: str | None = None,
) -> bool:
    """Hand a recorded message or button press to the conversation; mark it handled.

    Keyed by the message: handing the same one in again (a retried post, the recovery after
    a crash) answers it once. Returns whether the page's language may have changed.
    """
    conversation, writer = app[CONVERSATION], _writer(chat)
    reload = False
    refusal: str | None = None
    if action is None:
        kind = COMMANDS.get((text or "").strip().lower())
        if kind is not None:
            await conversation.reply(writer=writer, kind=kind, key=key)
        else:
            await conversation.handle_text(writer=writer, text=text or "", message_key=key)
    elif action in COMMANDS:
        await conversation.reply(writer=writer, kind=COMMANDS[action], key=key)
    elif action.startswith("lang:"):
        await conversation.set_language(writer=writer, language=action[5:], key=key)
        reload = True
    elif action.startswith("say:"):
        await conversation.handle_text(
            writer=writer, text=action.removeprefix("say:"), message_key=key
        )
    elif action.startswith("fb:"):
        refusal = await _app_db(app, lambda s: _feedback(s, chat, action))
    else:
        refusal = await conversation.press(writer=writer, data=action, key=key)

    def done(session: Session) -> None:
        if refusal is not None:
            person_id = webchat.person_of(session=session, chat=chat)
            person = session.get(AssociationUser, person_id) if person_id is not None else None
            language = normalise_language(person.language) if person is not None else "sv"
            webchat.record_notice(
                session=session, chat=chat, key=f"{key}:refusal", text=refusal, language=language
            )
        webchat.mark_handled(session=session, key=key)

    await _app_db(app, done)
    return reload


async def _app_db(app: web.Application, work: Callable[[Session], T]) -> T:
    def call() -> T:
        with session_scope(app[ENGINE]) as session:
            return work(session)

    return await asyncio.to_thread(call)


async def recover(app: web.Application, *, older_than: timedelta = RECOVER_AFTER) -> int:
    """Hand in what visitors wrote that was recorded but never handled (the web process died
    in between); return how many. Each is keyed, so nothing is answered twice."""
    waiting = await _app_db(
        app, lambda s: webchat.unhandled(session=s, before=utcnow() - older_than)
    )
    for chat, entry in waiting:
        assert entry.message_key is not None
        log.warning("web chat: handing in message %s again (not handled)", entry.message_key)
        await hand_in(
            app,
            chat,
            entry.message_key,
            text=None if entry.action else entry.text,
            action=entry.action,
        )
    return len(waiting)


def _label_of(session: Session, chat: WebChat, action: str) -> str | None:
    """Return the label of a button the chat was offered (None: it was never offered)."""
    entries = webchat.entries_after(session=session, chat=chat, after=0, limit=10_000)
    for entry in reversed(entries):
        for line in entry.choices or []:
            for label, offered in line:
                if offered == action:
                    return str(label)
    return None


def _feedback(session: Session, chat: WebChat, action: str) -> str | None:
    """Record whether an answer helped; return the refusal to show, or None when recorded."""
    person_id = webchat.person_of(session=session, chat=chat)
    parsed = choices.parse(action)
    enquiry = session.get(Enquiry, parsed.object_id) if parsed and parsed.kind == "fb" else None
    if parsed is None or enquiry is None or person_id is None or enquiry.user_id != person_id:
        return button_invalid("sv")
    try:
        record_feedback(
            session=session,
            enquiry=enquiry,
            helpful=parsed.action == "y",
            actor=f"association:web:{chat.visitor}",
        )
    except WorkflowError:
        return already_handled(normalise_language(enquiry.language))
    return None


async def _save_email(request: web.Request, chat: WebChat, email: str) -> None:
    email = email.strip()
    if email and not EMAIL.fullmatch(email):
        raise _problem(request, 400, "email")
    await _db(request, lambda s: _keep_email(s, chat, email.lower()))


def _keep_email(session: Session, chat: WebChat, email: str) -> None:
    """Store the chat's address and make it the person's e-mail identity (where the answer
    also goes); an address that is already someone else's identity stays theirs."""
    found = session.get(WebChat, chat.id)
    assert found is not None
    webchat.set_email(session=session, chat=found, email=email or None)
    person_id = webchat.person_of(session=session, chat=found)
    person = session.get(AssociationUser, person_id) if person_id is not None else None
    if email and person is not None:
        with contextlib.suppress(ValueError):
            identities.link(session=session, person=person, writer=Writer("email", email))


async def _deliver_now(request: web.Request, chat: WebChat) -> None:
    def work(session: Session) -> set[int]:
        return deliver(session, chat=chat)

    request.app[HUB].wake(await _db(request, work))


# --- the event stream ------------------------------------------------------------------------


async def events(request: web.Request) -> web.StreamResponse:
    """Stream the chat's new messages (server-sent events), from the last one the page has."""
    chat = await _chat_of(request)
    if chat is None:
        raise _problem(request, 404, "no_chat")
    after = 0
    for value in (request.query.get("after", ""), request.headers.get("Last-Event-ID", "")):
        if value.isdigit() and len(value) < 16:
            after = max(after, int(value))
    language = await request.app[CONVERSATION].language_of(writer=_writer(chat))
    view = View(language)
    response = web.StreamResponse(
        headers={
            **SECURITY_HEADERS,
            "Content-Security-Policy": CHAT_CSP,
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    await response.write(b"retry: 2000\n\n")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_SECONDS
    with contextlib.suppress(ConnectionResetError), request.app[HUB].listen(chat.id or 0) as news:
        while loop.time() < deadline:  # the page closed: the write fails, the stream ends
            news.clear()
            entries = await _db(request, _entries_after(chat, after))
            for entry in entries:
                data = json.dumps({"id": entry.id, "html": entry_html(request, view, chat, entry)})
                await response.write(f"id: {entry.id}\nevent: entry\ndata: {data}\n\n".encode())
                after = entry.id or after
            if entries:
                continue
            try:
                await asyncio.wait_for(news.wait(), HEARTBEAT_SECONDS)
            except TimeoutError:
                await response.write(b": ping\n\n")
    return response


def _entries_after(chat: WebChat, after: int) -> Callable[[Session], list[WebChatEntry]]:
    return lambda session: webchat.entries_after(session=session, chat=chat, after=after, limit=100)


# --- resuming on another device --------------------------------------------------------------


async def resume_page(request: web.Request) -> web.StreamResponse:
    """Ask for the reference number that, with this signed link, resumes the chat."""
    _check_link(request)
    return _page(
        request,
        "chat_resume.html",
        view=_view(request),
        csrf=_start_token(request),
        action=request.path,
        wrong=False,
    )


def _check_link(request: web.Request) -> str:
    key, signature = request.match_info["key"], request.match_info["signature"]
    if len(key) > 32 or not same_token(signature, _sign(request, "chat-resume", key)):
        raise _problem(request, 404, "link")
    return key


async def resume_submit(request: web.Request) -> web.StreamResponse:
    """Resume the chat when the reference number is one of its enquiries'; set the cookie."""
    key = _check_link(request)
    if not _same_origin(request):
        raise _problem(request, 403, "expired")
    form = await read_form(request)
    if not _start_token_ok(request, str(form.get("csrf", ""))):
        raise _problem(request, 403, "expired")
    verdict = await request.app[START_LIMITER].check(
        person_key("web-start", client_address(request))
    )
    if verdict != Verdict.OK:
        raise _problem(request, 429, "busy")
    reference = str(form.get("reference", "")).strip().upper()

    def work(session: Session) -> str | None:
        chat = webchat.chat_by_key(session=session, key=key)
        if chat is None or not REFERENCE.fullmatch(reference):
            return None
        person_id = webchat.person_of(session=session, chat=chat)
        found = session.exec(
            select(Enquiry.id).where(Enquiry.reference == reference, Enquiry.user_id == person_id)
        ).first()
        if person_id is None or found is None:
            return None
        return webchat.renew_secret(session=session, chat=chat)

    secret = await _db(request, work)
    if secret is None:
        return _page(
            request,
            "chat_resume.html",
            view=_view(request),
            status=400,
            csrf=_start_token(request),
            action=request.path,
            wrong=True,
        )
    response = web.HTTPSeeOther("/chatt")
    _set_cookie(request, response, secret)
    raise response


# --- the other pages -------------------------------------------------------------------------


async def privacy_page(request: web.Request) -> web.StreamResponse:
    """Say what the chat keeps about the visitor, and for how long."""
    return _page(request, "chat_privacy.html", view=_view(request))


async def accessibility_page(request: web.Request) -> web.StreamResponse:
    """The accessibility statement the law asks of a public-sector site."""
    return _page(request, "chat_accessibility.html", view=_view(request))


async def embed_script(request: web.Request) -> web.StreamResponse:
    """The script that puts a "Fråga kommunen" button on the municipality's own site."""
    view = _view(request)
    label = PageTexts(view).plain("Fråga kommunen")
    script = _html(
        view, "embed.js", label=Markup(json.dumps(label)), lang=Markup(json.dumps(view.main))
    )
    response = web.Response(text=script, content_type="text/javascript", charset="utf-8")
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
