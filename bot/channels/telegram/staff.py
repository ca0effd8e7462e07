"""Handlers for department staff in a private chat: see and keep their routes and contacts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from sqlmodel import Session, select
from telegram import Update

from bot.channels.telegram.common import (
    STAFF_LANGUAGE,
    Context,
    refused,
    run_db,
    services,
    staff_person_id,
)
from bot.i18n import translate
from bot.messages import staff as texts
from bot.messages.department import not_allowed
from db.enquiries import crud
from db.enquiries.notifications import Channel
from db.models import Department, Route, StaffRole
from db.people import departments
from db.people.sign_in import create_login_link
from db.people.staff import redeem_invite
from db.plumbing.validation import ValidationProblem
from db.routing import absences, edits

log = logging.getLogger(__name__)
CONTACT_FIELDS = {"email", "phone", "hours", "role"}
Change = Callable[[Session, Department, list[str], str], str]
"""An edit of the sender's department: (session, department, arguments, actor) → the reply."""


def _department_for(
    session: Session, user_id: int, args: list[str]
) -> tuple[Department | None, list[str]]:
    """Return the department the user may edit (staff: their own; admins/coordinators: by key)."""
    members = crud.staff_roles(session=session, person_id=staff_person_id(session, user_id))
    if args and any(m.role in {StaffRole.ADMIN, StaffRole.COORDINATOR} for m in members):
        department = departments.department_by_key(session=session, key=args[0])
        if department is not None:
            return department, args[1:]
    own = [m for m in members if m.role == StaffRole.STAFF and m.department_id is not None]
    if own:
        return session.get(Department, own[0].department_id), args
    return None, args


async def _for_department(update: Update, context: Context, command: str, change: Change) -> None:
    """Run a change on the sender's department in one transaction and reply; refuse others."""
    assert update.effective_user is not None and update.message is not None
    user_id = update.effective_user.id
    args = list(context.args or [])

    def work(session: Session) -> str | None:
        department, rest = _department_for(session, user_id, args)
        if department is None:
            return None
        try:
            return change(session, department, rest, f"telegram:{user_id}")
        except ValidationProblem as problem:
            session.rollback()
            return translate(STAFF_LANGUAGE, problem.phrase)

    reply = await run_db(context, work)
    if reply is None:
        refused(update, command)
        reply = not_allowed(STAFF_LANGUAGE)
    await update.message.reply_text(reply)


def _show(session: Session, department: Department, _args: list[str], _actor: str) -> str:
    return texts.overview(session=session, department=department, language=STAFF_LANGUAGE)


async def routes_command(update: Update, context: Context) -> None:
    """Show the staff member's department: contact, deputy, absence and routes."""
    await _for_department(update, context, "/routes", _show)


def _contact(session: Session, department: Department, args: list[str], actor: str) -> str:
    kind = "contact"
    if args and args[0] in {"deputy", "ersättare", "ersattare"}:
        kind, args = "deputy", args[1:]
    if len(args) < 2 or args[0] not in CONTACT_FIELDS:
        return texts.contact_usage(STAFF_LANGUAGE)
    edits.update_contact(
        session=session,
        department_key=department.key,
        kind=kind,
        changes={args[0]: " ".join(args[1:])},
        actor=actor,
    )
    return texts.saved(STAFF_LANGUAGE)


async def contact_command(update: Update, context: Context) -> None:
    """Change a contact detail: /contact [deputy] email|phone|hours|role VALUE."""
    await _for_department(update, context, "/contact", _contact)


def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _absent(session: Session, department: Department, args: list[str], actor: str) -> str:
    if args in (["clear"], ["slut"]):
        absences.clear_absence(session=session, department_key=department.key, actor=actor)
        return texts.saved(STAFF_LANGUAGE)
    days = [_parse_day(a) for a in args]
    if len(days) != 2 or None in days:
        return texts.absent_usage(STAFF_LANGUAGE)
    absences.set_absence(
        session=session,
        department_key=department.key,
        absent_from=days[0],
        absent_until=days[1],
        actor=actor,
    )
    return texts.saved(STAFF_LANGUAGE)


async def absent_command(update: Update, context: Context) -> None:
    """Mark the contact absent: /absent FROM UNTIL (YYYY-MM-DD), or /absent clear."""
    await _for_department(update, context, "/absent", _absent)


def _verify(session: Session, department: Department, args: list[str], actor: str) -> str:
    if len(args) != 1:
        return texts.verify_usage(STAFF_LANGUAGE)
    routes = session.exec(select(Route).where(Route.department_id == department.id)).all()
    intents = [r.intent for r in routes] if args[0] == "all" else [args[0]]
    if not set(intents) <= {r.intent for r in routes}:
        return texts.unknown_route(STAFF_LANGUAGE, args[0])
    for intent in intents:
        edits.mark_verified(session=session, intent=intent, actor=actor)
    return texts.verified(STAFF_LANGUAGE, len(intents))


async def verify_command(update: Update, context: Context) -> None:
    """Mark routes as checked: /verify INTENT, or /verify all for the whole department."""
    await _for_department(update, context, "/verify", _verify)


async def desk_command(update: Update, context: Context) -> None:
    """Send a one-time sign-in link to the desk (staff and coordinators only)."""
    assert update.message is not None and update.effective_user is not None
    user_id = update.effective_user.id
    base_url = services(context).settings.desk_url
    link = await run_db(
        context,
        lambda session: create_login_link(
            session=session, person_id=staff_person_id(session, user_id), base_url=base_url
        ),
    )
    if link is None:
        refused(update, "/desk")
        await update.message.reply_text(not_allowed(STAFF_LANGUAGE))
        return
    await update.message.reply_text(texts.desk_link(STAFF_LANGUAGE, link))


async def redeem_invite_code(update: Update, context: Context, code: str) -> bool:
    """Redeem a staff invitation from a /start deep link; return whether it was one."""
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None and chat is not None
    if len(code) < 16:
        return False

    def redeem(session: Session) -> str | None:
        member = redeem_invite(
            session=session,
            code=code,
            channel=Channel.TELEGRAM,
            address=str(user.id),
            name=user.full_name,
        )
        return member.role if member else None

    role = await run_db(context, redeem)
    text = (
        texts.invite_accepted(STAFF_LANGUAGE, role)
        if role
        else texts.invite_refused(STAFF_LANGUAGE)
    )
    await context.bot.send_message(chat.id, text)
    return True
