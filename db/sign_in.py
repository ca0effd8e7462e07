"""One-time sign-in links to the desk: issued to staff through a channel, spent once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from db.models import DeskLoginToken, StaffMember, utcnow

LOGIN_LINK_MINUTES = 10


def token_hash(token: str) -> str:
    """Return the SHA-256 hex digest under which a random token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_login_link(
    *, session: Session, telegram_user_id: int, base_url: str, now: datetime | None = None
) -> str | None:
    """Return a one-time sign-in link for a staff member; None when the user holds no role."""
    now = now or utcnow()
    if not session.exec(
        select(StaffMember).where(StaffMember.telegram_user_id == telegram_user_id)
    ).first():
        return None
    token = secrets.token_urlsafe(32)
    session.add(
        DeskLoginToken(
            token_hash=token_hash(token),
            telegram_user_id=telegram_user_id,
            created_at=now,
            expires_at=now + timedelta(minutes=LOGIN_LINK_MINUTES),
        )
    )
    session.flush()
    return f"{base_url.rstrip('/')}/desk/login?token={token}"


def redeem_login_token(*, session: Session, token: str, now: datetime | None = None) -> int | None:
    """Use up a one-time token atomically; return its Telegram user id, or None if unusable."""
    now = now or utcnow()
    digest = token_hash(token)
    result = session.execute(
        update(DeskLoginToken)
        .where(
            col(DeskLoginToken.token_hash) == digest,
            col(DeskLoginToken.used_at).is_(None),
            col(DeskLoginToken.expires_at) > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    row = session.exec(select(DeskLoginToken).where(DeskLoginToken.token_hash == digest)).one()
    return row.telegram_user_id
