"""Desk sign-in: one-time links from Telegram, local accounts, sessions and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, select

from db import crud
from db.models import (
    Department,
    DeskAccount,
    DeskSession,
    StaffRole,
    utcnow,
)
from db.sign_in import create_login_link, redeem_login_token, token_hash
from db.validation import (
    DEPARTMENT_PROBLEM,
    FIELD_PROBLEM,
    STAFF_DEPARTMENT_PROBLEM,
    STAFF_ROLE_PROBLEM,
    ValidationProblem,
)

SESSION_IDLE = timedelta(hours=8)
SESSION_MAX = timedelta(hours=12)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")
DESK_ROLES = (StaffRole.STAFF, StaffRole.COORDINATOR, StaffRole.ADMIN)
__all__ = ["create_login_link", "redeem_login_token", "token_hash"]


# --- passwords ------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of the password, self-describing for later checks."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Tell whether the password matches the stored hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(digest) // 2,
        )
    except ValueError:
        return False
    return hmac.compare_digest(computed.hex(), digest)


# --- who is signed in -------------------------------------------------------------------------


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


def start_session(
    *,
    session: Session,
    telegram_user_id: int | None = None,
    account_id: int | None = None,
    now: datetime | None = None,
) -> str:
    """Open a desk session for a Telegram user or a local account; return the cookie value."""
    if (telegram_user_id is None) == (account_id is None):
        raise ValueError("a desk session belongs to exactly one Telegram user or local account")
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
        )
    )
    session.flush()
    return cookie


def load_principal(
    *, session: Session, cookie: str | None, now: datetime | None = None
) -> Principal | None:
    """Return who holds this session cookie (refreshing its idle clock), or None."""
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
    principal: Principal | None = None
    if row.telegram_user_id is not None:
        principal = _telegram_principal(session, row.telegram_user_id)
    elif row.account_id is not None:
        account = session.get(DeskAccount, row.account_id)
        principal = _account_principal(account) if account is not None else None
    if principal is None:
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


# --- local accounts ---------------------------------------------------------------------------


def check_username(value: str) -> str:
    """Return a normalised username, or raise ValidationProblem."""
    name = value.strip().lower()
    if not name or len(name) > 64 or not set(name) <= USERNAME_CHARS:
        raise ValidationProblem("username", FIELD_PROBLEM, value=value)
    return name


def add_account(
    *,
    session: Session,
    username: str,
    password: str,
    role: str,
    department_key: str | None = None,
    now: datetime | None = None,
) -> DeskAccount:
    """Create a local desk account with a hashed password (staff must name a department)."""
    name = check_username(username)
    if role not in DESK_ROLES:
        raise ValidationProblem("role", STAFF_ROLE_PROBLEM, value=role)
    department: Department | None = None
    if department_key:
        department = crud.department_by_key(session=session, key=department_key.strip())
        if department is None:
            raise ValidationProblem("department", DEPARTMENT_PROBLEM, value=department_key)
    if role == StaffRole.STAFF and department is None:
        raise ValidationProblem("department", STAFF_DEPARTMENT_PROBLEM)
    if len(password) < 12:
        raise ValueError("the password must be at least 12 characters long")
    if session.exec(select(DeskAccount).where(DeskAccount.username == name)).first():
        raise ValueError(f"there is already a desk account called {name!r}")
    account = DeskAccount(
        username=name,
        password_hash=hash_password(password),
        role=role,
        department_id=department.id if department else None,
        created_at=now or utcnow(),
    )
    session.add(account)
    session.flush()
    return account


def authenticate(*, session: Session, username: str, password: str) -> DeskAccount | None:
    """Return the enabled local account whose password matches, else None."""
    account = session.exec(
        select(DeskAccount).where(DeskAccount.username == username.strip().lower())
    ).first()
    if account is None:
        verify_password(password, hash_password("timing-equaliser"))
        return None
    if account.disabled_at is not None or not verify_password(password, account.password_hash):
        return None
    return account
