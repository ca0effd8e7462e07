"""One-time sign-in links to the desk, spent once.

Two kinds: a staff person's link sent to them in a chat (`/desk`, 10 minutes), and a signed
link in a department's e-mail that opens one enquiry for the mailbox it was sent to (7 days,
or until the enquiry is answered or closed). Only a token's hash is stored.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from db.models import (
    Department,
    DeskLoginToken,
    Enquiry,
    EnquiryStatus,
    StaffMember,
    utcnow,
)
from db.people.departments import department_mailbox

LOGIN_LINK_MINUTES = 10


def token_hash(token: str) -> str:
    """Return the SHA-256 hex digest under which a random token is stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_login_link(
    *, session: Session, person_id: int | None, base_url: str, now: datetime | None = None
) -> str | None:
    """Return a one-time sign-in link for a staff person; None when they hold no role."""
    now = now or utcnow()
    if (
        person_id is None
        or not session.exec(select(StaffMember).where(StaffMember.person_id == person_id)).first()
    ):
        return None
    token = secrets.token_urlsafe(32)
    session.add(
        DeskLoginToken(
            token_hash=token_hash(token),
            person_id=person_id,
            created_at=now,
            expires_at=now + timedelta(minutes=LOGIN_LINK_MINUTES),
        )
    )
    session.flush()
    return f"{base_url.rstrip('/')}/desk/login?token={token}"


def redeem_login_token(*, session: Session, token: str, now: datetime | None = None) -> int | None:
    """Use up a one-time token atomically; return its staff person's id, or None if unusable."""
    now = now or utcnow()
    digest = token_hash(token)
    result = session.execute(
        update(DeskLoginToken)
        .where(
            col(DeskLoginToken.token_hash) == digest,
            col(DeskLoginToken.person_id).is_not(None),
            col(DeskLoginToken.used_at).is_(None),
            col(DeskLoginToken.expires_at) > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    row = session.exec(select(DeskLoginToken).where(DeskLoginToken.token_hash == digest)).one()
    return row.person_id


# --- signed links in a department's e-mail: one enquiry, one mailbox ----------------------

ENQUIRY_LINK_DAYS = 7
ENQUIRY_LINK_PATH = "/desk/link"
_LINK_PURPOSE = b"lotsen enquiry link v1"


class LinkRefusal(enum.StrEnum):
    """Why an e-mail link does not sign anyone in (nothing was changed)."""

    INVALID = "invalid"  # unknown, altered or cut short
    DONE = "done"  # the enquiry is answered or closed
    SPENT = "spent"  # the link was used already
    EXPIRED = "expired"  # older than ENQUIRY_LINK_DAYS
    MOVED = "moved"  # the enquiry is no longer with the department of that mailbox


@dataclass(frozen=True)
class EnquiryGrant:
    """What a valid e-mail link opens: one enquiry, for the mailbox it was sent to."""

    enquiry_id: int
    reference: str
    mailbox: str


def _signature(secret: bytes, key: str, enquiry_id: int, mailbox: str, expires: int) -> str:
    message = f"{key}|{enquiry_id}|{mailbox.strip().lower()}|{expires}".encode()
    digest = hmac.new(secret + _LINK_PURPOSE, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _link_token(secret: bytes, key: str, enquiry_id: int, mailbox: str, expires: int) -> str:
    return f"{key}.{expires}.{_signature(secret, key, enquiry_id, mailbox, expires)}"


def create_enquiry_link(
    *,
    session: Session,
    secret: bytes,
    key: str,
    enquiry: Enquiry,
    mailbox: str,
    expires_at: datetime,
    base_url: str,
    now: datetime | None = None,
) -> str:
    """Return the signed link that opens an enquiry for a mailbox; the same inputs, the same link.

    `key` names the message the link travels in (an outbox row), so sending that message again
    carries the same link and stores nothing twice.
    """
    assert enquiry.id is not None and "." not in key
    expires = int(expires_at.timestamp())
    token = _link_token(secret, key, enquiry.id, mailbox, expires)
    digest = token_hash(token)
    if session.exec(select(DeskLoginToken).where(DeskLoginToken.token_hash == digest)).first():
        return f"{base_url.rstrip('/')}{ENQUIRY_LINK_PATH}?token={token}"
    session.add(
        DeskLoginToken(
            token_hash=digest,
            enquiry_id=enquiry.id,
            mailbox=mailbox,
            created_at=now or utcnow(),
            expires_at=datetime.fromtimestamp(expires, UTC),
        )
    )
    session.flush()
    return f"{base_url.rstrip('/')}{ENQUIRY_LINK_PATH}?token={token}"


def _link_row(session: Session, secret: bytes, token: str) -> DeskLoginToken | None:
    """Return the stored link a token belongs to, if its signature holds."""
    parts = token.split(".")
    if len(token) > 200 or len(parts) != 3 or not parts[1].isdigit():
        return None
    row = session.exec(
        select(DeskLoginToken).where(
            DeskLoginToken.token_hash == token_hash(token),
            col(DeskLoginToken.enquiry_id).is_not(None),
        )
    ).first()
    if row is None or row.enquiry_id is None or row.mailbox is None:
        return None
    expected = _link_token(secret, parts[0], row.enquiry_id, row.mailbox, int(parts[1]))
    if not hmac.compare_digest(expected.encode(), token.encode("utf-8", "surrogatepass")) or int(
        row.expires_at.timestamp()
    ) != int(parts[1]):
        return None
    return row


def check_enquiry_link(
    *, session: Session, secret: bytes, token: str, now: datetime | None = None
) -> EnquiryGrant | LinkRefusal:
    """Tell what an e-mail link would open, without using it up (a link scanner changes nothing)."""
    now = now or utcnow()
    row = _link_row(session, secret, token)
    enquiry = session.get(Enquiry, row.enquiry_id) if row is not None else None
    if row is None or row.mailbox is None or enquiry is None or enquiry.id is None:
        return LinkRefusal.INVALID
    if enquiry.status in (EnquiryStatus.ANSWERED, EnquiryStatus.CLOSED):
        return LinkRefusal.DONE
    if row.used_at is not None:
        return LinkRefusal.SPENT
    if row.expires_at <= now:
        return LinkRefusal.EXPIRED
    department = session.get(Department, enquiry.department_id) if enquiry.department_id else None
    mailbox = (
        department_mailbox(session=session, department=department, now=now) if department else None
    )
    if enquiry.status not in (EnquiryStatus.ROUTED, EnquiryStatus.FORWARDED) or (
        mailbox is None or mailbox.strip().lower() != row.mailbox.strip().lower()
    ):
        return LinkRefusal.MOVED
    return EnquiryGrant(enquiry.id, enquiry.reference or f"#{enquiry.id}", row.mailbox)


def redeem_enquiry_link(
    *, session: Session, secret: bytes, token: str, now: datetime | None = None
) -> EnquiryGrant | LinkRefusal:
    """Use up an e-mail link atomically; return what it opens, or why it opens nothing."""
    now = now or utcnow()
    found = check_enquiry_link(session=session, secret=secret, token=token, now=now)
    if isinstance(found, LinkRefusal):
        return found
    result = session.execute(
        update(DeskLoginToken)
        .where(
            col(DeskLoginToken.token_hash) == token_hash(token),
            col(DeskLoginToken.used_at).is_(None),
            col(DeskLoginToken.expires_at) > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return LinkRefusal.SPENT  # someone pressed the button a moment earlier
    return found
