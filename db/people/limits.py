"""The inbound rate limit per person, across every bot worker and channel, kept in the database.

A token bucket per person: `burst` messages at once, then `rate` messages a second (the bucket
refills continuously up to `burst`). The first refused message of a flood gets one notice
("notify"), further ones none ("drop"); every refused message is counted per person and day so
the coordinator sees floods. A message handled again after a failure (same key) passes without
taking a second token. The person is a channel-neutral key ("<channel>:<address>", e.g.
"console:1" or "email:kassor@forening.se") so every channel identity plugs in.

Atomic under concurrency: the check first writes (inserts the bucket if it is missing, which
takes SQLite's write lock), then reads the row `FOR UPDATE` on PostgreSQL, so two workers
checking the same person at once are serialised and count every message.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from db.models import RateLimitBucket, RateLimitRefusal

ADMITTED_KEPT = 32
"""How many admitted message keys a bucket remembers, so that a retried message costs nothing."""


class Verdict(enum.StrEnum):
    """What the limit says about one inbound message."""

    OK = "ok"
    NOTIFY = "notify"  # refused, the first of its flood: tell the writer once
    DROP = "drop"  # refused again: stay silent


@dataclass(frozen=True)
class Limit:
    """`burst` messages at once, then `rate` messages a second."""

    rate: float
    burst: int

    @property
    def full_after(self) -> float:
        """Seconds after which an idle bucket is full again (and may be forgotten)."""
        return self.burst / self.rate


def person_key(channel: str, identity: object) -> str:
    """Return the channel-neutral key of a person writing in: "console:1"."""
    return f"{channel}:{identity}"


def _insert(session: Session):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def check(
    session: Session, *, person: str, sent: float, key: str | None, limit: Limit, day: date
) -> Verdict:
    """Take a token for the message `person` sent at `sent` (epoch seconds), or refuse it.

    Counts a refusal for `day`. Commit the session to make the verdict stick.
    """
    insert = _insert(session)
    created = session.execute(
        insert(RateLimitBucket)
        .values(person=person, tokens=float(limit.burst), updated=sent, notified=False, admitted="")
        .on_conflict_do_nothing()
    )
    if created.rowcount:  # type: ignore[attr-defined]
        forget_idle(session, now=sent, limit=limit)  # a newcomer: keep the table small
    bucket = session.execute(
        select(RateLimitBucket).where(col(RateLimitBucket.person) == person).with_for_update()
    ).scalar_one()
    admitted = bucket.admitted.split("\n") if bucket.admitted else []
    if key is not None and key in admitted:
        return Verdict.OK
    elapsed = max(0.0, sent - bucket.updated)
    bucket.tokens = min(float(limit.burst), bucket.tokens + elapsed * limit.rate)
    bucket.updated = max(sent, bucket.updated)
    if bucket.tokens >= 1.0:
        bucket.tokens -= 1.0
        bucket.notified = False
        if key is not None:
            bucket.admitted = "\n".join([*admitted, key][-ADMITTED_KEPT:])
        session.add(bucket)
        return Verdict.OK
    verdict = Verdict.DROP if bucket.notified else Verdict.NOTIFY
    bucket.notified = True
    session.add(bucket)
    count_refusal(session, person=person, day=day)
    return verdict


def count_refusal(session: Session, *, person: str, day: date) -> None:
    """Count one refused message of `person` on `day` (atomic: one upsert)."""
    insert = _insert(session)
    statement = insert(RateLimitRefusal).values(person=person, day=day, refused=1)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["person", "day"],
            set_={"refused": RateLimitRefusal.refused + 1},
        )
    )


def forget_idle(session: Session, *, now: float, limit: Limit) -> int:
    """Delete buckets that have been full again for a while; return how many."""
    result = session.execute(
        delete(RateLimitBucket).where(col(RateLimitBucket.updated) < now - limit.full_after)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def forget_person(session: Session, *, person: str) -> None:
    """Delete everything the limit holds about `person` (their data is erased)."""
    session.execute(delete(RateLimitBucket).where(col(RateLimitBucket.person) == person))
    session.execute(delete(RateLimitRefusal).where(col(RateLimitRefusal.person) == person))


def refusals_on(session: Session, *, day: date) -> list[tuple[str, int]]:
    """Return (person, refused messages) for `day`, most refused first."""
    rows = session.execute(
        select(col(RateLimitRefusal.person), col(RateLimitRefusal.refused))
        .where(col(RateLimitRefusal.day) == day)
        .order_by(col(RateLimitRefusal.refused).desc(), col(RateLimitRefusal.person))
    ).all()
    return [(str(person), int(refused)) for person, refused in rows]
