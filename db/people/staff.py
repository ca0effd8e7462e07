"""Staff roles and one-time invitations; roles are keyed on the staff person (staff_identities)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from db.models import (
    Department,
    DeskAccount,
    StaffInvite,
    StaffMember,
    StaffPerson,
    StaffRole,
    utcnow,
)
from db.people.departments import department_by_key
from db.people.staff_identities import (
    check_identity,
    erase_staff_person,
    find_staff_person,
    person_name,
    staff_person_for,
)
from db.plumbing.audit import record
from db.plumbing.validation import (
    DEPARTMENT_PROBLEM,
    INVITE_ROLE_PROBLEM,
    STAFF_DEPARTMENT_PROBLEM,
    STAFF_ROLE_PROBLEM,
    ValidationProblem,
    check_positive_int,
    clean_text,
)

INVITE_ROLES = (StaffRole.STAFF, StaffRole.COORDINATOR)


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


def staff_snapshot(
    member: StaffMember, person: StaffPerson, department_key: str | None
) -> dict[str, Any]:
    """Return the audited fields of a staff role."""
    return {
        "person": member.person_id,
        "name": person.name,
        "role": member.role,
        "department": department_key,
    }


def _find(
    session: Session, person_id: int, role: str, department_id: int | None
) -> StaffMember | None:
    return session.exec(
        select(StaffMember).where(
            StaffMember.person_id == person_id,
            StaffMember.role == role,
            StaffMember.department_id == department_id,
        )
    ).first()


def add_staff(
    *,
    session: Session,
    channel: str,
    address: str,
    role: str,
    actor: str,
    department_key: str | None = None,
    name: str | None = None,
    now: datetime | None = None,
) -> StaffMember:
    """Give the person behind an identity a role (staff needs a department).

    The person is created on first use; returns the existing role if any (a new name is kept).
    """
    now = now or utcnow()
    channel, address = check_identity(channel, address)
    staff_role = _role(role)
    department = _department_id(session, department_key)
    if staff_role == StaffRole.STAFF and department is None:
        raise ValidationProblem("department", STAFF_DEPARTMENT_PROBLEM)
    department_id = department.id if department else None
    key = department.key if department else None
    name = clean_text(name)
    person = staff_person_for(session=session, channel=channel, address=address, name=name)
    assert person.id is not None
    member = _find(session, person.id, staff_role, department_id)
    audit_key = f"{channel}:{address}"
    if member is not None:
        if name is not None and person.name != name:
            before = staff_snapshot(member, person, key)
            person.name = name
            session.add(person)
            record(
                session=session,
                actor=actor,
                entity="staff",
                key=audit_key,
                action="update",
                before=before,
                after=staff_snapshot(member, person, key),
                now=now,
            )
        return member
    member = StaffMember(
        person_id=person.id,
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
        key=audit_key,
        action="create",
        before=None,
        after=staff_snapshot(member, person, key),
        now=now,
    )
    return member


def list_staff(*, session: Session) -> Sequence[tuple[StaffMember, StaffPerson, Department | None]]:
    """Return every staff role with its person and department, by person and role."""
    return session.exec(
        select(StaffMember, StaffPerson, Department)
        .join(StaffPerson, col(StaffMember.person_id) == StaffPerson.id)
        .join(Department, col(StaffMember.department_id) == Department.id, isouter=True)
        .order_by(col(StaffMember.person_id), col(StaffMember.role))
    ).all()


def remove_staff(
    *,
    session: Session,
    channel: str,
    address: str,
    actor: str,
    role: str | None = None,
    department_key: str | None = None,
    now: datetime | None = None,
) -> int:
    """Remove a person's roles (all, or only one role / department); return how many went."""
    now = now or utcnow()
    channel, address = check_identity(channel, address)
    person = find_staff_person(session=session, channel=channel, address=address)
    if person is None:
        return 0
    query = select(StaffMember, Department).join(
        Department, col(StaffMember.department_id) == Department.id, isouter=True
    )
    query = query.where(StaffMember.person_id == person.id)
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
            key=f"{channel}:{address}",
            action="delete",
            before=staff_snapshot(member, person, department.key if department else None),
            after=None,
            now=now,
        )
        session.delete(member)
        removed += 1
    session.flush()
    if removed and person.id is not None and not _still_staff(session, person.id):
        erase_staff_person(session=session, person_id=person.id)  # their name goes with them
    return removed


def _still_staff(session: Session, person_id: int | None) -> bool:
    """Tell whether a staff person holds a role or a desk account still."""
    return (
        session.exec(select(StaffMember).where(StaffMember.person_id == person_id)).first()
        is not None
        or session.exec(select(DeskAccount).where(DeskAccount.person_id == person_id)).first()
        is not None
    )


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


def redeem_invite(
    *,
    session: Session,
    code: str,
    channel: str,
    address: str,
    name: str | None = None,
    now: datetime | None = None,
) -> StaffMember | None:
    """Use an invitation once: give the person behind the identity its role, or return None
    (unknown, expired or used)."""
    now = now or utcnow()
    invite = session.exec(select(StaffInvite).where(StaffInvite.code == code.strip())).first()
    if invite is None or invite.used_at is not None or invite.expires_at <= now:
        return None
    person = staff_person_for(session=session, channel=channel, address=address, name=name)
    claimed = session.execute(
        update(StaffInvite)
        .where(col(StaffInvite.id) == invite.id, col(StaffInvite.used_at).is_(None))
        .values(used_at=now, used_by=person.id)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.refresh(invite)
    actor = f"{channel}:{address}"
    department = session.get(Department, invite.department_id) if invite.department_id else None
    member = add_staff(
        session=session,
        channel=channel,
        address=address,
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
        after={"used_by": person.id, "used_at": now},
        now=now,
    )
    return member


@dataclass(frozen=True)
class Colleague:
    """Someone an enquiry can be assigned to: a staff person of the department.

    `staff_id` is the staff person's id, whether they hold the role themselves or through a
    desk account (one colleague, however many ways they sign in).
    """

    staff_id: int
    name: str


def department_colleagues(*, session: Session, department_id: int) -> list[Colleague]:
    """Return the department's staff (roles and enabled desk accounts), one per person, by name."""
    people: set[int] = set()
    for member in session.exec(
        select(StaffMember).where(
            StaffMember.department_id == department_id, StaffMember.role == StaffRole.STAFF
        )
    ).all():
        people.add(member.person_id)
    for account in session.exec(
        select(DeskAccount).where(
            DeskAccount.department_id == department_id,
            DeskAccount.role == StaffRole.STAFF,
            col(DeskAccount.disabled_at).is_(None),
        )
    ).all():
        people.add(account.person_id)
    found = [
        Colleague(person_id, person_name(session=session, person_id=person_id) or "")
        for person_id in people
    ]
    return sorted(found, key=lambda c: (c.name.lower(), c.staff_id))
