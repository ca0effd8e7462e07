"""Desk sign-in: who is signed in, one-time links from Telegram, sessions and CSRF tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from db import crud
from db.models import DeskAccount, DeskSession, StaffRole, utcnow
from db.sign_in import token_hash

LOGIN_LINK_MINUTES = 10
SESSION_IDLE = timedelta(hours=8)
SESSION_MAX = timedelta(hours=12)


@dataclass
class Principal:
    """The person behind a desk session, with the roles and departments they may act for."""

    name: str
    actor: str
    staff_user_id: int
    roles: set[str] = field(default_factory=set)
    department_ids: set[int] = field(default_factory=set)
    telegram_user_id: int | None = None
    account_id: int | None = None
    csrf_token: str = ""

    @property
    def is_admin(self) -> bool:
        """Tell whether the person is an administrator."""
        return StaffRole.ADMIN in self.roles

    @property
    def is_coordinator(self) -> bool:
        """Tell whether the person may work the queue and see every department."""
        return self.is_admin or StaffRole.COORDINATOR in self.roles

    def may_edit_department(self, department_id: int | None) -> bool:
        """Tell whether the person may see and change this department's routing entries."""
        return self.is_coordinator or (
            department_id is not None and department_id in self.department_ids
        )


def grants_digest(principal: Principal) -> str:
    """Return a digest of the roles and departments a session was opened with."""
    roles = ",".join(sorted(principal.roles))
    departments = ",".join(str(d) for d in sorted(principal.department_ids))
    return token_hash(f"{roles}|{departments}")


def _telegram_principal(session: Session, telegram_user_id: int) -> Principal | None:
    rows = crud.staff_roles(session=session, telegram_user_id=telegram_user_id)
    if not rows:
        return None
    name = next((r.name for r in rows if r.name), None) or f"Telegram {telegram_user_id}"
    return Principal(
        name=name,
        actor=f"web:staff:{telegram_user_id}",
        staff_user_id=telegram_user_id,
        roles={r.role for r in rows},
        department_ids={r.department_id for r in rows if r.department_id is not None},
        telegram_user_id=telegram_user_id,
    )


def local_staff_id(account_id: int) -> int:
    """Return the queue staff id of a local account (negative: never a Telegram id)."""
    return -account_id


def _account_principal(account: DeskAccount) -> Principal | None:
    if account.disabled_at is not None or account.id is None:
        return None
    return Principal(
        name=account.username,
        actor=f"web:{account.username}",
        staff_user_id=local_staff_id(account.id),
        roles={account.role},
        department_ids={account.department_id} if account.department_id is not None else set(),
        account_id=account.id,
    )


# --- one-time links ---------------------------------------------------------------------------


def _principal_of(
    session: Session, *, telegram_user_id: int | None, account_id: int | None
) -> Principal | None:
    if telegram_user_id is not None:
        return _telegram_principal(session, telegram_user_id)
    account = session.get(DeskAccount, account_id) if account_id is not None else None
    return _account_principal(account) if account is not None else None


def start_session(
    *,
    session: Session,
    telegram_user_id: int | None = None,
    account_id: int | None = None,
    now: datetime | None = None,
) -> str | None:
    """Open a desk session for a Telegram user or a local account; return the cookie value.

    Returns None when the person holds no desk role (or the account is disabled).
    """
    if (telegram_user_id is None) == (account_id is None):
        raise ValueError("a desk session belongs to exactly one Telegram user or local account")
    principal = _principal_of(session, telegram_user_id=telegram_user_id, account_id=account_id)
    if principal is None:
        return None
    now = now or utcnow()
    cookie = secrets.token_urlsafe(32)
    session.add(
        DeskSession(
            session_hash=token_hash(cookie),
            telegram_user_id=telegram_user_id,
            account_id=account_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_MAX,
            grants=grants_digest(principal),
        )
    )
    session.flush()
    return cookie


def load_principal(
    *, session: Session, cookie: str | None, now: datetime | None = None
) -> Principal | None:
    """Return who holds this session cookie (refreshing its idle clock), or None.

    A session whose person lost every role, whose account was disabled, or whose roles or
    departments changed since sign-in is ended for good: re-enabling never revives it.
    """
    if not cookie:
        return None
    now = now or utcnow()
    row = session.exec(
        select(DeskSession).where(DeskSession.session_hash == token_hash(cookie))
    ).first()
    if row is None or row.ended_at is not None:
        return None
    if row.expires_at <= now or row.last_seen_at + SESSION_IDLE <= now:
        return None
    principal = _principal_of(
        session, telegram_user_id=row.telegram_user_id, account_id=row.account_id
    )
    if principal is None or row.grants != grants_digest(principal):
        row.ended_at = now
        session.add(row)
        return None
    row.last_seen_at = now
    session.add(row)
    principal.csrf_token = row.csrf_token
    return principal


def end_session(*, session: Session, cookie: str | None, now: datetime | None = None) -> None:
    """Sign a session out (the cookie no longer works)."""
    if not cookie:
        return
    row = session.exec(
        select(DeskSession).where(DeskSession.session_hash == token_hash(cookie))
    ).first()
    if row is not None and row.ended_at is None:
        row.ended_at = now or utcnow()
        session.add(row)


def end_account_sessions(*, session: Session, account_id: int, now: datetime) -> int:
    """End every open session of a local account; return how many were ended."""
    result = session.execute(
        update(DeskSession)
        .where(col(DeskSession.account_id) == account_id, col(DeskSession.ended_at).is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
