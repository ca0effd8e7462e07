"""Inbound e-mail as it arrived: stored once by Message-ID before anything else happens.

A mail is committed here before the mailbox is told it is done (IMAP `\\Seen`, the SMTP
listener's `250`): a crash in between leaves the row `new`, and the next delivery of the same
mail finds it by its key instead of storing (and handling) it again. The channel
(`bot/channels/email/inbound.py`) decides what a mail is and hands it on; this module records
the outcome: done, ignored (auto-replies, bounces, bulk), refused (answered politely), held for
the coordinator, failed; and lets the coordinator release or drop what is held.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, update
from sqlmodel import Session, col, select

from db.models import Contact, Department, InboundMail, InboundMailState, utcnow
from db.plumbing.audit import record
from db.plumbing.phrases import N_, DomainError

MAX_KEY = 255
WAITING = (InboundMailState.HELD, InboundMailState.FAILED)
"""What the coordinator is shown and may release or drop."""
MAX_ATTEMPTS = 5
"""Handling attempts before a mail is given up as failed (kept for the coordinator)."""


class NotHeld(DomainError):
    """The mail is not held or failed (nothing to release or drop)."""


def store(
    *,
    session: Session,
    key: str,
    source: str,
    raw: bytes,
    sender: str | None,
    recipient: str | None,
    subject: str | None,
    now: datetime | None = None,
) -> tuple[InboundMail, bool]:
    """Return the mail's row, storing it first when its key is new (and whether it was new)."""
    existing = session.exec(select(InboundMail).where(InboundMail.key == key[:MAX_KEY])).first()
    if existing is not None:
        return existing, False
    row = InboundMail(
        key=key[:MAX_KEY],
        source=source,
        raw=raw,
        size=len(raw),
        sender=(sender or None) and sender[:320],
        recipient=(recipient or None) and recipient[:320],
        subject=subject,
        received_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    return row, True


def finish(
    *,
    session: Session,
    mail: InboundMail,
    state: InboundMailState,
    reason: str | None = None,
    enquiry_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Record how a mail was handled (in the transaction that did the handling)."""
    mail.state = state
    mail.reason = reason[:32] if reason else None
    if enquiry_id is not None:
        mail.enquiry_id = enquiry_id
    mail.handled_at = now or utcnow()
    mail.error = None if state != InboundMailState.FAILED else mail.error


def claim(*, session: Session, mail_id: int) -> InboundMail | None:
    """Return the mail to handle in this transaction, None when it was handled meanwhile.

    The first statement writes the row (`state = 'new'` still holding): a second handler of
    the same mail waits for the first one's transaction and then finds nothing to claim.
    """
    claimed: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(InboundMail)
        .where(col(InboundMail.id) == mail_id, col(InboundMail.state) == InboundMailState.NEW)
        .values(attempts=InboundMail.attempts)
    )
    if not claimed.rowcount:
        return None
    mail = session.get(InboundMail, mail_id, populate_existing=True)
    return mail


def failed_attempt(*, session: Session, mail: InboundMail, error: str) -> bool:
    """Count a failed handling attempt; return True when the mail is now given up (failed)."""
    mail.attempts += 1
    mail.error = error[:2000]
    if mail.attempts >= MAX_ATTEMPTS:
        mail.state = InboundMailState.FAILED
        mail.reason = "kept_failing"
        mail.handled_at = utcnow()
        return True
    return False


def unhandled(*, session: Session, limit: int = 50) -> list[InboundMail]:
    """Return mails stored but not handled yet (left by a crash), oldest first."""
    return list(
        session.exec(
            select(InboundMail)
            .where(InboundMail.state == InboundMailState.NEW)
            .order_by(col(InboundMail.id))
            .limit(limit)
        ).all()
    )


def waiting(*, session: Session) -> Sequence[InboundMail]:
    """Return the mails held for the coordinator or failed, oldest first."""
    return session.exec(
        select(InboundMail)
        .where(col(InboundMail.state).in_(list(WAITING)))
        .order_by(col(InboundMail.id))
    ).all()


def _waiting_mail(session: Session, mail_id: int) -> InboundMail:
    mail = session.get(InboundMail, mail_id)
    if mail is None or mail.state not in WAITING:
        raise NotHeld(N_("E-postmeddelande {id} är inte kvarhållet."), id=mail_id)
    return mail


def _state(mail: InboundMail) -> dict[str, object]:
    return {"state": mail.state, "reason": mail.reason, "sender": mail.sender}


def _decide(
    session: Session, mail_id: int, actor: str, action: str, now: datetime | None
) -> InboundMail:
    """Apply the coordinator's decision on a held or failed mail and audit it."""
    mail = _waiting_mail(session, mail_id)
    before = _state(mail)
    if action == "release":
        mail.state, mail.attempts, mail.handled_at = InboundMailState.NEW, 0, None
        mail.reason = "released"
    else:
        mail.state, mail.handled_at = InboundMailState.DROPPED, now or utcnow()
    record(
        session=session,
        actor=actor,
        entity="inbound_mail",
        key=str(mail_id),
        action=action,
        before=before,
        after=_state(mail),
        now=now,
    )
    return mail


def release(
    *, session: Session, mail_id: int, actor: str, now: datetime | None = None
) -> InboundMail:
    """Put a held or failed mail back to be handled again, now without the check that held
    it (the sender's address, the rate limit, the noise filters); audited."""
    return _decide(session, mail_id, actor, "release", now)


def drop(*, session: Session, mail_id: int, actor: str, now: datetime | None = None) -> InboundMail:
    """Drop a held or failed mail: it is kept (an allmän handling) but never handled; audited."""
    return _decide(session, mail_id, actor, "drop", now)


def answering_addresses(*, session: Session, department: Department) -> set[str]:
    """Return the addresses that may answer for a department by e-mail: its functional
    mailbox and its contacts' addresses (lower-cased)."""
    addresses = {department.mailbox} if department.mailbox else set()
    contacts = session.exec(select(Contact).where(Contact.department_id == department.id)).all()
    addresses.update(contact.email for contact in contacts if contact.email)
    return {address.strip().lower() for address in addresses if address}
