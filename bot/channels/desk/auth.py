"""Desk sign-in: who is signed in, one-time links, sessions and CSRF tokens.

A session belongs to a staff person (signed in with a one-time link sent to them in a chat), a
password account (of a staff person), or (opened with a signed link from a department's
e-mail) one enquiry and the mailbox the link was sent to. Either way a staff person acts: the
same colleague whether they come by link or by password.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from db.enquiries import crud
from db.models import Department, DeskAccount, DeskSession, Enquiry, StaffRole, utcnow
from db.people import departments
from db.people.sign_in import EnquiryGrant, token_hash
from db.people.staff_identities import person_name

LOGIN_LINK_MINUTES = 10
SESSION_IDLE = timedelta(hours=8)
SESSION_MAX = timedelta(hours=12)


@dataclass
class Principal:
    """The person behind a desk session, with the roles and departments they may act for."""

    name: str
    actor: str
    staff_user_id: int  # the staff person's id (0 for an e-mail link: it cannot work the queue)
    roles: set[str] = field(default_factory=set)
    department_ids: set[int] = field(default_factory=set)
    person_id: int | None = None  # signed in with a one-time link: the person's own roles
    account_id: int | None = None
    csrf_token: str = ""
    # Signed in with an e-mail link: this enquiry only, acting as the mailbox.
    enquiry_id: int | None = None
    enquiry_reference: str | None = None
    mailbox: str | None = None

    @property
    def by_link(self) -> bool:
        """Tell whether the person signed in with an e-mail link (one enquiry, nothing else)."""
        return self.enquiry_id is not None

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
        if self.by_link:
            return False
        return self.is_coordinator or (
            department_id is not None and department_id in self.department_ids
        )

    def may_work(self, enquiry: Enquiry) -> bool:
        """Tell whether the person may see and work an enquiry in the department inbox."""
        if self.by_link:
            return enquiry.id == self.enquiry_id and enquiry.department_id in self.department_ids
        return self.is_coordinator or (
            enquiry.department_id is not None and enquiry.department_id in self.department_ids
        )


def grants_digest(principal: Principal) -> str:
    """Return a digest of the roles and departments (and the link's enquiry) of a session."""
    roles = ",".join(sorted(principal.roles))
    departments = ",".join(str(d) for d in sorted(principal.department_ids))
    if principal.by_link:
        departments += f"|enquiry:{principal.enquiry_id}|{(principal.mailbox or '').lower()}"
    return token_hash(f"{roles}|{departments}")


def _person_principal(session: Session, person_id: int) -> Principal | None:
    rows = crud.staff_roles(session=session, person_id=person_id)
    if not rows:
        return None
    return Principal(
        name=person_name(session=session, person_id=person_id) or f"#{person_id}",
        actor=f"web:staff:{person_id}",
        staff_user_id=person_id,
        roles={r.role for r in rows},
        department_ids={r.department_id for r in rows if r.department_id is not None},
        person_id=person_id,
    )


def _account_principal(account: DeskAccount) -> Principal | None:
    if account.disabled_at is not None or account.id is None:
        return None
    return Principal(
        name=account.username,
        actor=f"web:{account.username}",
        staff_user_id=account.person_id,
        roles={account.role},
        department_ids={account.department_id} if account.department_id is not None else set(),
        account_id=account.id,
    )


LINK_STAFF_ID = 0
"""The queue staff id of a link session (never used: it cannot work the queue)."""


def _link_principal(
    session: Session, enquiry_id: int, mailbox: str, now: datetime
) -> Principal | None:
    """Return the mailbox's clerk for one enquiry, while the enquiry is with that mailbox."""
    enquiry = session.get(Enquiry, enquiry_id)
    department = session.get(Department, enquiry.department_id) if enquiry else None
    if enquiry is None or department is None or department.id is None:
        return None
    current = departments.department_mailbox(session=session, department=department, now=now)
    if current is None or current.strip().lower() != mailbox.strip().lower():
        return None  # the department's mail goes elsewhere now: the link's session ends
    return Principal(
        name=mailbox,
        actor=f"mail:{mailbox}",
        staff_user_id=LINK_STAFF_ID,
        department_ids={department.id},
        enquiry_id=enquiry_id,
        enquiry_reference=enquiry.reference,
        mailbox=mailbox,
    )


# --- one-time links ---------------------------------------------------------------------------


def _principal_of(
    session: Session, row: DeskSession | None = None, *, now: datetime, **who: int | None
) -> Principal | None:
    """Return the person of a session row, or of `person_id=` / `account_id=`."""
    person_id = row.person_id if row is not None else who.get("person_id")
    account_id = row.account_id if row is not None else who.get("account_id")
    if person_id is not None:
        return _person_principal(session, person_id)
    if row is not None and row.enquiry_id is not None and row.mailbox is not None:
        return _link_principal(session, row.enquiry_id, row.mailbox, now)
    account = session.get(DeskAccount, account_id) if account_id is not None else None
    return _account_principal(account) if account is not None else None


def start_session(
    *,
    session: Session,
    person_id: int | None = None,
    account_id: int | None = None,
    now: datetime | None = None,
) -> str | None:
    """Open a desk session for a staff person (link) or a password account; return the cookie.

    Returns None when the person holds no desk role (or the account is disabled).
    """
    if (person_id is None) == (account_id is None):
        raise ValueError("a desk session belongs to exactly one staff person or account")
    now = now or utcnow()
    principal = _principal_of(session, now=now, person_id=person_id, account_id=account_id)
    if principal is None:
        return None
    return _open(session, principal, now, person_id=person_id, account_id=account_id)


def start_link_session(
    *, session: Session, grant: EnquiryGrant, now: datetime | None = None
) -> str | None:
    """Open a session for the one enquiry an e-mail link grants; return the cookie value."""
    now = now or utcnow()
    principal = _link_principal(session, grant.enquiry_id, grant.mailbox, now)
    if principal is None:
        return None
    return _open(session, principal, now, enquiry_id=grant.enquiry_id, mailbox=grant.mailbox)


def _open(session: Session, principal: Principal, now: datetime, **owner: int | str | None) -> str:
    """Store a new session for a person (`owner`: whose it is) and return its cookie value."""
    cookie = secrets.token_urlsafe(32)
    session.add(
        DeskSession(
            session_hash=token_hash(cookie),
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_MAX,
            grants=grants_digest(principal),
            **owner,  # type: ignore[arg-type]
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
    principal = _principal_of(session, row, now=now)
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
