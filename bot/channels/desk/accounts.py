"""Local desk accounts: create, disable, enable and change the role (every change audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from bot.channels.desk.auth import end_account_sessions
from bot.channels.desk.passwords import Passwords
from db.models import Department, DeskAccount, StaffRole, utcnow
from db.people import departments
from db.people.staff_identities import new_staff_person
from db.plumbing import audit
from db.plumbing.phrases import N_, DomainError
from db.plumbing.validation import (
    DEPARTMENT_PROBLEM,
    FIELD_PROBLEM,
    STAFF_DEPARTMENT_PROBLEM,
    STAFF_ROLE_PROBLEM,
    ValidationProblem,
)

USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")
DESK_ROLES = (StaffRole.STAFF, StaffRole.COORDINATOR, StaffRole.ADMIN)
MIN_PASSWORD = 12
AUDIT_ENTITY = "desk_account"


class AccountProblem(DomainError):
    """A refusal about a desk account (a phrase the command line shows in its language)."""


def normalise_username(value: str) -> str:
    """Return the form a username is stored and looked up in."""
    return value.strip().lower()


def check_username(value: str) -> str:
    """Return a normalised username, or raise ValidationProblem."""
    name = normalise_username(value)
    if not name or len(name) > 64 or not set(name) <= USERNAME_CHARS:
        raise ValidationProblem("username", FIELD_PROBLEM, value=value)
    return name


def find_account(*, session: Session, username: str) -> DeskAccount | None:
    """Return the account with this username (any case), disabled or not."""
    name = normalise_username(username)
    return session.exec(select(DeskAccount).where(DeskAccount.username == name)).first()


def _existing(session: Session, username: str) -> DeskAccount:
    account = find_account(session=session, username=username)
    if account is None or account.id is None:
        raise AccountProblem(
            N_("Det finns inget skrivbordskonto som heter {name!r}."),
            name=normalise_username(username),
        )
    return account


def _grant(session: Session, role: str, department_key: str | None) -> Department | None:
    """Check a role and its department; return the department (None for coordinators)."""
    if role not in DESK_ROLES:
        raise ValidationProblem("role", STAFF_ROLE_PROBLEM, value=role)
    department: Department | None = None
    if department_key:
        department = departments.department_by_key(session=session, key=department_key.strip())
        if department is None:
            raise ValidationProblem("department", DEPARTMENT_PROBLEM, value=department_key)
    if role == StaffRole.STAFF and department is None:
        raise ValidationProblem("department", STAFF_DEPARTMENT_PROBLEM)
    return department


def _snapshot(account: DeskAccount) -> dict[str, Any]:
    return {
        "role": account.role,
        "department_id": account.department_id,
        "disabled_at": account.disabled_at,
    }


def add_account(
    *,
    session: Session,
    username: str,
    password: str,
    role: str,
    department_key: str | None = None,
    now: datetime | None = None,
    passwords: Passwords | None = None,
    person_id: int | None = None,
) -> DeskAccount:
    """Create a local desk account with an argon2id password hash (staff name a department).

    The account belongs to the staff person `person_id` (one colleague, whether they sign in
    with it or with a link sent to their chat), else to a new person named after it.
    """
    name = check_username(username)
    department = _grant(session, role, department_key)
    if len(password) < MIN_PASSWORD:
        raise AccountProblem(
            N_("Lösenordet måste vara minst {count} tecken långt."), count=MIN_PASSWORD
        )
    if find_account(session=session, username=name):
        raise AccountProblem(
            N_("Det finns redan ett skrivbordskonto som heter {name!r}."), name=name
        )
    if person_id is None:
        person_id = new_staff_person(session=session, name=name).id
    assert person_id is not None
    account = DeskAccount(
        person_id=person_id,
        username=name,
        password_hash=(passwords or Passwords()).hash(password),
        role=role,
        department_id=department.id if department else None,
        created_at=now or utcnow(),
    )
    session.add(account)
    session.flush()
    return account


def _change(
    session: Session,
    account: DeskAccount,
    action: str,
    actor: str,
    now: datetime,
    **values: Any,
) -> int:
    """Apply a change, end the account's sessions, audit it; return the sessions ended."""
    before = _snapshot(account)
    for name, value in values.items():
        setattr(account, name, value)
    session.add(account)
    session.flush()
    assert account.id is not None
    ended = end_account_sessions(session=session, account_id=account.id, now=now)
    audit.record(
        session=session,
        actor=actor,
        entity=AUDIT_ENTITY,
        key=account.username,
        action=action,
        before=before,
        after={**_snapshot(account), "sessions_ended": ended},
        now=now,
    )
    return ended


def disable_account(
    *, session: Session, username: str, actor: str, now: datetime | None = None
) -> int:
    """Refuse the account's sign-ins and end its sessions for good; return the sessions ended."""
    account = _existing(session, username)
    if account.disabled_at is not None:
        raise AccountProblem(
            N_("Skrivbordskontot {name!r} är redan avstängt."), name=account.username
        )
    moment = now or utcnow()
    return _change(session, account, "disable", actor, moment, disabled_at=moment)


def enable_account(
    *, session: Session, username: str, actor: str, now: datetime | None = None
) -> None:
    """Let the account sign in again (its old sessions stay ended)."""
    account = _existing(session, username)
    if account.disabled_at is None:
        raise AccountProblem(
            N_("Skrivbordskontot {name!r} är inte avstängt."), name=account.username
        )
    _change(session, account, "enable", actor, now or utcnow(), disabled_at=None)


def set_account_role(
    *,
    session: Session,
    username: str,
    role: str,
    department_key: str | None,
    actor: str,
    now: datetime | None = None,
) -> int:
    """Give the account another role or department and end its sessions; return how many."""
    account = _existing(session, username)
    department = _grant(session, role, department_key)
    department_id = department.id if department else None
    if (account.role, account.department_id) == (role, department_id):
        raise AccountProblem(
            N_("Skrivbordskontot {name!r} har redan den rollen."), name=account.username
        )
    return _change(
        session, account, "set_role", actor, now or utcnow(), role=role, department_id=department_id
    )
