"""Errands: each enquiry filed in the municipality's case system, and the errand it became.

Modelled on Sundsvall's SupportManagement API (`POST /{municipalityId}/{namespace}/errands`).
The domain builds the request body from the register's facts and records the errand the case
system made; the errand channel (bot/channels/errand) claims the outbox rows, talks HTTP and
retries while the system is down.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from db.enquiries import notifications as notify
from db.enquiries.notifications import Channel
from db.models import Enquiry, EnquiryStatus, ErrandFiling, OutboxMessage
from db.plumbing import claims
from db.privacy.retention import PURGED
from db.records.register import entries_of

TAG_KEY = "lotsenReference"
"""The external tag that carries Lotsen's reference on the errand."""
REPORTER = "lotsen"
CHANNEL = "LOTSEN"
MAX_DESCRIPTION = 8000


def errand_body(*, session: Session, enquiry: Enquiry, title: str, status: str) -> dict[str, Any]:
    """Return the body of the create-errand request for an enquiry (SupportManagement's Errand)."""
    entry = entries_of(session=session, enquiries=[enquiry])[0]
    body: dict[str, Any] = {
        "title": title,
        "priority": "HIGH" if enquiry.status == EnquiryStatus.ESCALATED else "MEDIUM",
        "status": status,
        "classification": {
            "category": (entry.department_key or "COORDINATOR").upper(),
            "type": (entry.intent or "UNCLASSIFIED").upper(),
        },
        "channel": CHANNEL,
        "reporterUserId": REPORTER,
        "externalTags": [{"key": TAG_KEY, "value": entry.reference}],
        "stakeholders": [],
        "parameters": [
            {"key": "receivedAt", "values": [entry.received_at.isoformat()]},
            {"key": "language", "values": [entry.language]},
            {"key": "personalData", "values": [str(entry.personal_data).lower()]},
            {"key": "secret", "values": [str(entry.secret).lower()]},
        ],
    }
    if entry.sender and entry.private_person:
        # One private person: a natural person, not an organisation (db/records/private_person).
        first, _, last = entry.sender.strip().partition(" ")
        person = {"role": "CONTACT", "externalIdType": "PRIVATE", "firstName": first}
        body["stakeholders"].append({**person, "lastName": last} if last else person)
    elif entry.sender:
        body["stakeholders"].append({"role": "CONTACT", "organizationName": entry.sender})
    if enquiry.text and enquiry.text != PURGED:
        body["description"] = enquiry.text[:MAX_DESCRIPTION]
    return body


SETTLE = timedelta(seconds=60)
"""How old an enquiry is before it is filed, so that it is routed first."""
FIRST_LOOK_BACK = timedelta(days=1)
"""Without ERRAND_FILE_FROM, how far back the first round files (the adapter's start)."""


def queue_new(
    *, session: Session, now: datetime, file_from: datetime | None = None, limit: int = 200
) -> int:
    """Queue a filing (an outbox row) for each enquiry without one; return how many.

    The catch-up: new enquiries are queued at intake, in the transaction that records them
    (db/intake.py, `case_system=True`). This files those recorded while the adapter was off or
    by a caller that does not file: received since the newest enquiry already queued (the first
    time: since `file_from`, else a day back) and at least a minute ago. Once per enquiry (the
    row's dedupe key).
    """
    if not claims.alone(session, "errand-queue"):
        return 0
    newest = session.exec(
        select(func.max(Enquiry.created_at))
        .join(OutboxMessage, col(OutboxMessage.enquiry_id) == col(Enquiry.id))
        .where(OutboxMessage.channel == Channel.ERRAND)
    ).one()
    since = newest or file_from or now - FIRST_LOOK_BACK
    queued = select(OutboxMessage.id).where(
        OutboxMessage.channel == Channel.ERRAND, OutboxMessage.enquiry_id == Enquiry.id
    )
    fresh = session.exec(
        select(Enquiry)
        .where(
            col(Enquiry.created_at) >= since,
            col(Enquiry.created_at) <= now - SETTLE,
            col(Enquiry.reference).is_not(None),
            ~queued.exists(),
        )
        .order_by(col(Enquiry.created_at), col(Enquiry.id))
        .limit(limit)
    ).all()
    count = 0
    for enquiry in fresh:
        if notify.to_case_system(session=session, enquiry=enquiry, now=now) is not None:
            count += 1
    return count


def filing_of(*, session: Session, enquiry_id: int) -> ErrandFiling | None:
    """Return the errand an enquiry was filed as (None while it is not)."""
    return session.exec(select(ErrandFiling).where(ErrandFiling.enquiry_id == enquiry_id)).first()


def record_filing(
    *,
    session: Session,
    enquiry_id: int,
    errand_id: str,
    errand_number: str | None,
    now: datetime,
) -> ErrandFiling:
    """Remember the errand the case system made of an enquiry (the first one stays)."""
    found = filing_of(session=session, enquiry_id=enquiry_id)
    if found is not None:
        return found
    filing = ErrandFiling(
        enquiry_id=enquiry_id,
        errand_id=errand_id[:64],
        errand_number=errand_number[:64] if errand_number else None,
        filed_at=now,
    )
    session.add(filing)
    session.flush()
    return filing
