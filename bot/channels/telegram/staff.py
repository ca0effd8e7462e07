"""Handlers for department staff in a private chat: see and keep their routes and contacts."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select
from telegram import Update

from bot.channels.telegram.common import Context, services
from bot.channels.telegram.department import refused
from bot.messages.texts import t
from db import crud
from db import routing_table as table
from db.models import Contact, Department, OutboxMessage, Route, StaffMember, StaffRole
from db.session import session_scope
from db.validation import ValidationProblem

log = logging.getLogger(__name__)
CONTACT_FIELDS = {"email", "phone", "hours", "role"}


def _department_for(
    session: Session, user_id: int, args: list[str]
) -> tuple[Department | None, list[str]]:
    """Return the department the user may edit (staff: their own; admins/coordinators: by key)."""
    members = crud.staff_roles(session=session, telegram_user_id=user_id)
    if args and any(m.role in {StaffRole.ADMIN, StaffRole.COORDINATOR} for m in members):
        department = crud.department_by_key(session=session, key=args[0])
        if department is not None:
            return department, args[1:]
    own = [m for m in members if m.role == StaffRole.STAFF and m.department_id is not None]
    if own:
        return session.get(Department, own[0].department_id), args
    return None, args


def _overview(session: Session, department: Department) -> str:
    """Describe a department's contacts and routes for staff."""
    contacts = session.exec(select(Contact).where(Contact.department_id == department.id)).all()
    lines = [f"{department.name} ({department.key})"]
    for contact in sorted(contacts, key=lambda c: c.kind):
        label = t("staff_contact" if contact.kind == "contact" else "staff_deputy", "sv")
        absent = ""
        if contact.absent_from or contact.absent_until:
            start = contact.absent_from.date().isoformat() if contact.absent_from else "…"
            end = contact.absent_until.date().isoformat() if contact.absent_until else "…"
            absent = " · " + t("staff_absent_range", "sv", start=start, end=end)
        lines.append(
            f"{label}: {contact.role}, {contact.email or '–'}, {contact.phone or '–'}, "
            f"{contact.hours or '–'}{absent}"
        )
    lines.append(t("staff_routes_header", "sv"))
    routes = session.exec(
        select(Route).where(Route.department_id == department.id).order_by(col(Route.intent))
    ).all()
    for route in routes:
        verified = route.last_verified_at.date().isoformat() if route.last_verified_at else "–"
        lines.append(
            f"• {route.intent} – {route.description[:60]} ({t('staff_verified', 'sv')} {verified})"
        )
    lines.append(t("staff_help", "sv"))
    return "\n".join(lines)


async def _with_department(
    update: Update, context: Context, command: str
) -> tuple[Department, list[str]] | None:
    """Return the department the sender may edit, or answer with a refusal."""
    assert update.effective_user is not None and update.message is not None
    with session_scope(services(context).engine) as session:
        department, rest = _department_for(
            session, update.effective_user.id, list(context.args or [])
        )
    if department is None:
        refused(update, command)
        await update.message.reply_text(t("not_allowed", "sv"))
        return None
    return department, rest


async def routes_command(update: Update, context: Context) -> None:
    """Show the staff member's department: contact, deputy, absence and routes."""
    found = await _with_department(update, context, "/routes")
    if found is None:
        return
    assert update.message is not None
    with session_scope(services(context).engine) as session:
        department = session.get(Department, found[0].id)
        assert department is not None
        text = _overview(session, department)
    await update.message.reply_text(text)


async def contact_command(update: Update, context: Context) -> None:
    """Change a contact detail: /contact [deputy] email|phone|hours|role VALUE."""
    found = await _with_department(update, context, "/contact")
    if found is None:
        return
    department, args = found
    assert update.message is not None and update.effective_user is not None
    kind = "contact"
    if args and args[0] in {"deputy", "ersättare", "ersattare"}:
        kind, args = "deputy", args[1:]
    if len(args) < 2 or args[0] not in CONTACT_FIELDS:
        await update.message.reply_text(t("staff_contact_usage", "sv"))
        return
    field, value = args[0], " ".join(args[1:])
    try:
        with session_scope(services(context).engine) as session:
            table.update_contact(
                session=session,
                department_key=department.key,
                kind=kind,
                changes={field: value},
                actor=f"telegram:{update.effective_user.id}",
            )
    except ValidationProblem as problem:
        await update.message.reply_text(problem.message("sv"))
        return
    await update.message.reply_text(t("staff_saved", "sv"))


def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


async def absent_command(update: Update, context: Context) -> None:
    """Mark the contact absent: /absent FROM UNTIL (YYYY-MM-DD), or /absent clear."""
    found = await _with_department(update, context, "/absent")
    if found is None:
        return
    department, args = found
    assert update.message is not None and update.effective_user is not None
    actor = f"telegram:{update.effective_user.id}"
    try:
        with session_scope(services(context).engine) as session:
            if args == ["clear"] or args == ["slut"]:
                table.clear_absence(session=session, department_key=department.key, actor=actor)
            else:
                days = [_parse_day(a) for a in args]
                if len(days) != 2 or None in days:
                    await update.message.reply_text(t("staff_absent_usage", "sv"))
                    return
                table.set_absence(
                    session=session,
                    department_key=department.key,
                    absent_from=days[0],
                    absent_until=days[1],
                    actor=actor,
                )
    except ValidationProblem as problem:
        await update.message.reply_text(problem.message("sv"))
        return
    await update.message.reply_text(t("staff_saved", "sv"))


async def verify_command(update: Update, context: Context) -> None:
    """Mark routes as checked: /verify INTENT, or /verify all for the whole department."""
    found = await _with_department(update, context, "/verify")
    if found is None:
        return
    department, args = found
    assert update.message is not None and update.effective_user is not None
    actor = f"telegram:{update.effective_user.id}"
    if len(args) != 1:
        await update.message.reply_text(t("staff_verify_usage", "sv"))
        return
    with session_scope(services(context).engine) as session:
        routes = session.exec(select(Route).where(Route.department_id == department.id)).all()
        intents = [r.intent for r in routes] if args[0] == "all" else [args[0]]
        if not set(intents) <= {r.intent for r in routes}:
            await update.message.reply_text(t("staff_unknown_route", "sv", intent=args[0]))
            return
        for intent in intents:
            table.mark_verified(session=session, intent=intent, actor=actor)
    await update.message.reply_text(t("staff_verified_done", "sv", count=len(intents)))


def staff_chat_ids(session: Session, department_id: int) -> list[int]:
    """Return the Telegram ids of a department's staff (their private chats)."""
    members = session.exec(
        select(StaffMember).where(
            StaffMember.department_id == department_id, StaffMember.role == StaffRole.STAFF
        )
    ).all()
    return sorted({m.telegram_user_id for m in members})


async def desk_command(update: Update, context: Context) -> None:
    """Send a one-time sign-in link to the desk (staff and coordinators only)."""
    assert update.message is not None and update.effective_user is not None
    from bot.channels.desk.app import desk_base_url
    from bot.channels.desk.auth import create_login_link

    svc = services(context)
    with session_scope(svc.engine) as session:
        link = create_login_link(
            session=session,
            telegram_user_id=update.effective_user.id,
            base_url=desk_base_url(svc.settings),
        )
    if link is None:
        refused(update, "/desk")
        await update.message.reply_text(t("not_allowed", "sv"))
        return
    await update.message.reply_text(t("desk_link", "sv", link=link))


def queue_route_reminders(session: Session, now: datetime) -> int:
    """Remind each department's staff of overdue routes, at most once a day; return reminders."""
    by_department: dict[str, list[str]] = {}
    for overdue in table.overdue_routes(session=session, now=now):
        by_department.setdefault(overdue.department_key, []).append(overdue.route.intent)
    sent = 0
    for key, intents in by_department.items():
        department = crud.department_by_key(session=session, key=key)
        if department is None or department.id is None:
            continue
        text = t("staff_route_reminder", "sv", routes="\n".join(f"• {i}" for i in intents))
        for chat_id in staff_chat_ids(session, department.id):
            recent = session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.chat_id == chat_id,
                    OutboxMessage.purpose == "route_reminder",
                    col(OutboxMessage.created_at) > now - timedelta(hours=20),
                )
            ).first()
            if recent is None:
                crud.enqueue_message(
                    session=session, chat_id=chat_id, text=text, purpose="route_reminder"
                )
                sent += 1
    return sent
