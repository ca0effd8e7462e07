"""Synthetic history: stored enquiries with their events, messages and updates."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from db.models import (
    AssociationUser,
    ChannelIdentity,
    Department,
    Enquiry,
    EnquiryEvent,
    EnquiryStatus,
    Escalation,
    EventKind,
    InboxUpdate,
    OutboxMessage,
    utcnow,
)
from db.plumbing.session import session_scope

HISTORY_KEY = "hist:"
USERS = 500
USER_ID_BASE = 9_100_000_000
UPDATE_ID_BASE = 5_000_000_000
BATCH = 2_000
FORWARDED_SHARE = 0.01
"""Open enquiries waiting for a department (recent, deadline ahead: the sweep leaves them)."""
ESCALATED_SHARE = 0.005
"""Open enquiries in the coordinator's queue."""
ANSWERED_SHARE = 0.25
"""Answered, not yet closed; the rest is closed (a tenth of those after an escalation)."""


def stored_enquiries(engine: Engine) -> int:
    """Return how many enquiries the database holds."""
    with session_scope(engine) as session:
        return int(session.exec(select(func.count()).select_from(Enquiry)).one())


def _users(engine: Engine) -> list[int]:
    with session_scope(engine) as session:
        addresses = [str(USER_ID_BASE + k) for k in range(USERS)]
        ids = session.exec(
            select(ChannelIdentity.person_id).where(
                ChannelIdentity.channel == "telegram",
                col(ChannelIdentity.address).in_(addresses),
            )
        ).all()
        if ids:
            return list(ids)
        now = utcnow()
        for address in addresses:
            person = AssociationUser(channel="telegram", created_at=now, last_seen_at=now)
            session.add(person)
            session.flush()
            assert person.id is not None
            session.add(
                ChannelIdentity(
                    person_id=person.id,
                    channel="telegram",
                    address=address,
                    conversation=address,
                    created_at=now,
                    last_seen_at=now,
                )
            )
    return _users(engine)


def _enquiry_row(n: int, rng: random.Random, user: int, department: int) -> dict[str, Any]:
    """Return one past enquiry in a state the deadline sweep has already dealt with."""
    now = utcnow()
    roll = rng.random()
    if roll < FORWARDED_SHARE:
        status, created = EnquiryStatus.FORWARDED, now - timedelta(hours=rng.random() * 20)
    elif roll < FORWARDED_SHARE + ESCALATED_SHARE:
        status, created = EnquiryStatus.ESCALATED, now - timedelta(days=rng.random() * 7)
    elif roll < FORWARDED_SHARE + ESCALATED_SHARE + ANSWERED_SHARE:
        status, created = EnquiryStatus.ANSWERED, now - timedelta(days=2 + rng.random() * 60)
    else:
        status, created = EnquiryStatus.CLOSED, now - timedelta(days=7 + rng.random() * 365)
    waiting = status == EnquiryStatus.FORWARDED
    answered = status in (EnquiryStatus.ANSWERED, EnquiryStatus.CLOSED)
    return {
        "reference": f"LOT-2025-{n:06d}",
        "message_key": f"{HISTORY_KEY}{n}",
        "user_id": user,
        "chat_id": USER_ID_BASE + user % USERS,
        "text": f"Historisk fråga nummer {n} om bidrag, lokaler och tillstånd.",
        "language": "sv",
        "intent": "topic_bidrag",
        "confidence": 0.9,
        "guesses": [],
        "department_id": None if status == EnquiryStatus.ESCALATED else department,
        "status": str(status),
        "answer_text": "Svar från förvaltningen." if answered else None,
        "created_at": created,
        "updated_at": created,
        "routed_at": created,
        "forwarded_at": created,
        "answered_at": created + timedelta(hours=5) if answered else None,
        "escalated_at": created if status == EnquiryStatus.ESCALATED else None,
        "closed_at": created + timedelta(days=1) if status == EnquiryStatus.CLOSED else None,
        "sla_due_at": created + timedelta(days=3) if waiting else None,
        "reminder_due_at": created + timedelta(days=2) if waiting else None,
    }


def seed_history(engine: Engine, *, count: int, seed: int = 0) -> float:
    """Add `count` synthetic past enquiries (with events, sent messages, processed updates).

    Returns the seconds it took.
    """
    started = time.perf_counter()
    users = _users(engine)
    with session_scope(engine) as session:
        departments = [d for d in session.exec(select(Department.id)).all() if d]
        first = int(
            session.exec(
                select(func.count())
                .select_from(Enquiry)
                .where(col(Enquiry.message_key).like(f"{HISTORY_KEY}%"))
            ).one()
        )
    rng = random.Random(seed + first)
    for start in range(first, first + count, BATCH):
        numbers = range(start, min(first + count, start + BATCH))
        rows = [_enquiry_row(n, rng, rng.choice(users), rng.choice(departments)) for n in numbers]
        with session_scope(engine) as session:
            session.execute(insert(Enquiry), rows)
            keys = [r["message_key"] for r in rows]
            found = session.exec(
                select(Enquiry.message_key, Enquiry.id).where(col(Enquiry.message_key).in_(keys))
            ).all()
            ids = {key: enquiry_id for key, enquiry_id in found}
            _children(session, rows, ids)
    return round(time.perf_counter() - started, 1)


def _children(session: Any, rows: list[dict[str, Any]], ids: dict[str | None, int | None]) -> None:
    events, outbox, inbox, escalations = [], [], [], []
    for row in rows:
        enquiry_id = ids[row["message_key"]]
        at = row["created_at"]
        n = int(row["message_key"].removeprefix(HISTORY_KEY))
        events.append(
            {
                "enquiry_id": enquiry_id,
                "at": at,
                "kind": str(EventKind.RECEIVED),
                "actor": "association",
                "detail": {},
            }
        )
        events.append(
            {
                "enquiry_id": enquiry_id,
                "at": at,
                "kind": str(EventKind.ROUTED),
                "actor": "lotsen",
                "detail": {},
            }
        )
        outbox.append(
            {
                "kind": "routed",
                "channel": "telegram",
                "recipient": "association",
                "recipient_id": row["user_id"],
                "language": "sv",
                "params": {"department": "kultur_fritid"},
                "dedupe_key": f"bench-history:{n}",
                "enquiry_id": enquiry_id,
                "created_at": at,
                "attempts": 1,
                "sent_at": at,
                "address": str(row["chat_id"]),
                "external_id": str(n + 1),
            }
        )
        inbox.append(
            {
                "update_id": UPDATE_ID_BASE + n,
                "received_at": at,
                "processed_at": at,
                "attempts": 1,
                "payload": {"update_id": UPDATE_ID_BASE + n},
            }
        )
        if row["status"] == str(EnquiryStatus.ESCALATED):
            escalations.append(
                {
                    "enquiry_id": enquiry_id,
                    "reason": "unsure",
                    "created_at": at,
                    "resolved_at": None,
                    "resolution": None,
                }
            )
        elif row["status"] == str(EnquiryStatus.CLOSED) and n % 10 == 0:
            escalations.append(
                {
                    "enquiry_id": enquiry_id,
                    "reason": "unsure",
                    "created_at": at,
                    "resolved_at": at + timedelta(hours=3),
                    "resolution": "routed",
                }
            )
    session.execute(insert(EnquiryEvent), events)
    session.execute(insert(OutboxMessage), outbox)
    session.execute(insert(InboxUpdate), inbox)
    if escalations:
        session.execute(insert(Escalation), escalations)
