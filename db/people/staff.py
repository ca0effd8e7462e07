"""Staff members and one-time invitations; roles are always keyed on the numeric Telegram id."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from db.models import Department, DeskAccount, StaffInvite, StaffMember, StaffRole, utcnow
from db.people.departments import department_by_key
from db.plumbing.audit import record
from db.plumbing.validation import (
    DEPARTMENT_PROBLEM,
    INVITE_ROLE_PROBLEM,
    STAFF_DEPARTMENT_PROBLEM,
    STAFF_ROLE_PROBLEM,
    TELEGRAM_ID_PROBLEM,
    ValidationProblem,
    check_positive_int,
    clean_text,
    parse_telegram_id,
)

INVITE_ROLES = (StaffRole.STAFF, StaffRole.COORDINATOR)


def parse_user_id(value: object) -> int:
    """Return a positive 64-bit Telegram user id, or raise ValidationProblem."""
    number = parse_telegram_id(value, "telegram_user_id")
    if number <= 0:
        raise ValidationProblem("telegram_user_id", TELEGRAM_ID_PROBLEM, value=value)
    return number


def _role(value: str) -> StaffRole:
    try:
        return StaffRole(value.strip().lower())
    except ValueError:
        raise ValidationProblem(
            "role",
            STAFF_ROLE_PROBLEM,
            value=value,
        ) from None


def _department_id(session: Session, key: str | None) -> Department | None:
    if key is None or not key.strip():
        return None
    department = department_by_key(session=session, key=key.strip())
    if department is None:
        raise ValidationProblem("department", DEPARTMENT_PROBLEM, value=key)
    return department


def staff_snapshot(member: StaffMember, department_key: str | None) -> dict[str, Any]:
    """Return the audited fields of a staff member."""
    return {
        "telegram_user_id": member.telegram_user_id,
        "name": member.name,
        "role": member.role,
        "department": department_key,
    }


def _find(
    session: Session, telegram_user_id: int, role: str, department_id: int | None
) -> StaffMember | None:
    return session.exec(
        select(StaffMember).where(
            StaffMember.telegram_user_id == telegram_user_id,
            StaffMember.role == role,
            StaffMember.department_id == department_id,
        )
    ).first()


def add_staff(
    *,
    session: Session,
    telegram_user_id: int | str,
    role: str,
    actor: str,
    department_key: str | None = None,
    name: str | None = None,
    now: datetime | None = None,
) -> StaffMember:
    """Give a Telegram user a role (staff needs a department); returns the existing row if any."""
    now = now or utcnow()
    user_id = parse_user_id(telegram_user_id)
    staff_role = _role(role)
    department = _department_id(session, department_key)
    if staff_role == StaffRole.STAFF and department is None:
        raise ValidationProblem("department", STAFF_DEPARTMENT_PROBLEM)
    department_id = department.id if department else None
    key = department.key if department else None
    member = _find(session, user_id, staff_role, department_id)
    name = clean_text(name)
    if member is not None:
        if name is not None and member.name != name:
            before = staff_snapshot(member, key)
            member.name = name
            session.add(member)
            record(
                session=session,
                actor=actor,
                entity="staff",
                key=str(user_id),
                action="update",
                before=before,
                after=staff_snapshot(member, key),
                now=now,
            )
        return member
    member = StaffMember(
        telegram_user_id=user_id,
        name=name,
        role=staff_role,
        department_id=department_id,
        created_at=now,
        created_by=actor,
    )
    session.add(member)
    session.flush()
    record(
        session=session,
        actor=actor,
        entity="staff",
        key=str(user_id),
        action="create",
        before=None,
        after=staff_snapshot(member, key),
        now=now,
    )
    return member


def list_staff(*, session: Session) -> Sequence[tuple[StaffMember, Department | None]]:
    """Return every staff role with its department, ordered by user id and role."""
    return session.exec(
        select(StaffMember, Department)
        .join(Department, col(StaffMember.department_id) == Department.id, isouter=True)
        .order_by(col(StaffMember.telegram_user_id), col(StaffMember.role))
    ).all()


def remove_staff(
    *,
    session: Session,
    telegram_user_id: int | str,
    actor: str,
    role: str | None = None,
    department_key: str | None = None,
    now: datetime | None = None,
) -> int:
    """Remove a user's roles (all, or only one role / department); return how many went."""
    now = now or utcnow()
    user_id = parse_user_id(telegram_user_id)
    query = select(StaffMember, Department).join(
        Department, col(StaffMember.department_id) == Department.id, isouter=True
    )
    query = query.where(StaffMember.telegram_user_id == user_id)
    if role is not None:
        query = query.where(StaffMember.role == _role(role))
    if department_key is not None:
        department = _department_id(session, department_key)
        query = query.where(StaffMember.department_id == (department.id if department else None))
    removed = 0
    for member, department in session.exec(query).all():
        record(
            session=session,
            actor=actor,
            entity="staff",
            key=str(user_id),
            action="delete",
            before=staff_snapshot(member, department.key if department else None),
            after=None,
            now=now,
        )
        session.delete(member)
        removed += 1
    return removed


def create_invite(
    *,
    session: Session,
    department_key: str,
    actor: str,
    role: str = StaffRole.STAFF,
    hours: int = 48,
    now: datetime | None = None,
) -> StaffInvite:
    """Create a random one-time invitation code for a department that expires after `hours`."""
    now = now or utcnow()
    staff_role = _role(role)
    if staff_role not in INVITE_ROLES:
        raise ValidationProblem("role", INVITE_ROLE_PROBLEM, value=role)
    department = _department_id(session, department_key)
    assert department is not None
    lifetime = check_positive_int(hours, "hours")
    invite = StaffInvite(
        code=secrets.token_urlsafe(24),
        role=staff_role,
        department_id=department.id,
        expires_at=now + timedelta(hours=lifetime),
    )
    session.add(invite)
    session.flush()
    record(
        session=session,
        actor=actor,
        entity="invite",
        key=str(invite.id),
        action="create",
        before=None,
        after={"role": staff_role, "department": department.key, "expires_at": invite.expires_at},
        now=now,
    )
    return invite


def invite_link(bot_username: str, code: str) -> str:
    """Return the Telegram deep link that starts the bot with the invitation code."""
    return f"https://t.me/{bot_username.lstrip('@')}?start={code}"


def redeem_invite(
    *,
    session: Session,
    code: str,
    telegram_user_id: int,
    name: str | None = None,
    now: datetime | None = None,
) -> StaffMember | None:
    """Use an invitation once: give the user its role, or return None (unknown/expired/used)."""
    now = now or utcnow()
    invite = session.exec(select(StaffInvite).where(StaffInvite.code == code.strip())).first()
    if invite is None or invite.used_at is not None or invite.expires_at <= now:
        return None
    claimed = session.execute(
        update(StaffInvite)
        .where(col(StaffInvite.id) == invite.id, col(StaffInvite.used_at).is_(None))
        .values(used_at=now, used_by=telegram_user_id)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.refresh(invite)
    actor = f"telegram:{telegram_user_id}"
    department = session.get(Department, invite.department_id) if invite.department_id else None
    member = add_staff(
        session=session,
        telegram_user_id=telegram_user_id,
        role=invite.role,
        actor=actor,
        department_key=department.key if department else None,
        name=name,
        now=now,
    )
    record(
        session=session,
        actor=actor,
        entity="invite",
        key=str(invite.id),
        action="redeem",
        before=None,
        after={"used_by": telegram_user_id, "used_at": now},
        now=now,
    )
    return member


@dataclass(frozen=True)
class Colleague:
    """Someone an enquiry can be assigned to: department staff on Telegram or a desk account.

    `staff_id` is the Telegram user id, or minus the desk account's id (never a Telegram id).
    """

    staff_id: int
    name: str


def department_colleagues(*, session: Session, department_id: int) -> list[Colleague]:
    """Return the department's staff (Telegram members and enabled desk accounts), by name."""
    found: dict[int, Colleague] = {}
    for member in session.exec(
        select(StaffMember).where(
            StaffMember.department_id == department_id, StaffMember.role == StaffRole.STAFF
        )
    ).all():
        name = member.name or f"Telegram {member.telegram_user_id}"
        found[member.telegram_user_id] = Colleague(member.telegram_user_id, name)
    for account in session.exec(
        select(DeskAccount).where(
            DeskAccount.department_id == department_id,
            DeskAccount.role == StaffRole.STAFF,
            col(DeskAccount.disabled_at).is_(None),
        )
    ).all():
        assert account.id is not None
        found[-account.id] = Colleague(-account.id, account.username)
    return sorted(found.values(), key=lambda c: (c.name.lower(), c.staff_id))
