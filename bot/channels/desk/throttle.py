"""Throttling of password sign-ins per username and per client address, kept in the database."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from db.models import DeskLoginThrottle

ACCOUNT = "account"
ADDRESS = "address"
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class LoginLimits:
    """How many password attempts a username and an address get per window, and the lockout."""

    per_account: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)
    # A refused attempt (locked, or every sign-in slot taken) is answered only after this many
    # seconds: a waiting coroutine costs nothing, and a flood slows to its connections' pace.
    refusal_delay: float = 1.0

    def limit(self, scope: str) -> int:
        """Return the number of attempts allowed in one window for this scope."""
        return self.per_account if scope == ACCOUNT else self.per_address


def _key_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


def _keys(username: str, address: str) -> list[tuple[str, str]]:
    # Sorted, so concurrent sign-ins lock the rows in the same order (no deadlock).
    return sorted([(ACCOUNT, _key_hash(username)), (ADDRESS, _key_hash(address))])


def _ensure_row(session: Session, scope: str, key_hash: str, now: datetime) -> None:
    """Insert the counter row unless it exists (the first write takes SQLite's write lock)."""
    values: dict[str, Any] = {
        "scope": scope,
        "key_hash": key_hash,
        "attempts": 0,
        "window_started_at": now,
    }
    dialect = session.get_bind().dialect.name
    table = DeskLoginThrottle.__table__  # type: ignore[attr-defined]
    if dialect == "postgresql":
        session.execute(
            postgresql.insert(table)
            .values(values)
            .on_conflict_do_nothing(index_elements=["scope", "key_hash"])
        )
    elif dialect == "sqlite":
        session.execute(
            sqlite.insert(table)
            .values(values)
            .on_conflict_do_nothing(index_elements=["scope", "key_hash"])
        )
    else:
        exists = session.exec(
            select(DeskLoginThrottle.id).where(
                DeskLoginThrottle.scope == scope, DeskLoginThrottle.key_hash == key_hash
            )
        ).first()
        if exists is None:
            session.execute(insert(table).values(values))


def _locked_row(session: Session, scope: str, key_hash: str) -> DeskLoginThrottle:
    return session.exec(
        select(DeskLoginThrottle)
        .where(DeskLoginThrottle.scope == scope, DeskLoginThrottle.key_hash == key_hash)
        .with_for_update()
    ).one()


def refused_until(
    *, session: Session, username: str, address: str, now: datetime
) -> datetime | None:
    """Return until when a lock refuses this username or address (a read, nothing counted)."""
    locks = []
    for scope, key_hash in _keys(username, address):
        until = session.exec(
            select(DeskLoginThrottle.locked_until).where(
                DeskLoginThrottle.scope == scope, DeskLoginThrottle.key_hash == key_hash
            )
        ).first()
        if until is not None and until > now:
            locks.append(until)
    return max(locks, default=None)


def reserve_attempt(
    *, session: Session, limits: LoginLimits, username: str, address: str, now: datetime
) -> datetime | None:
    """Count one password attempt; return until when sign-in is refused, or None to go ahead.

    Every attempt counts before the password is checked, so parallel attempts cannot slip past
    the limit; a successful one is forgiven afterwards. Unknown usernames count like real ones.
    Call this first in its transaction: the rows stay locked until it commits.
    """
    rows = []
    for scope, key_hash in _keys(username, address):
        _ensure_row(session, scope, key_hash, now)
        rows.append(_locked_row(session, scope, key_hash))
    locked = [r.locked_until for r in rows if r.locked_until is not None and r.locked_until > now]
    if locked:
        return max(locked)
    refused_until: datetime | None = None
    for row in rows:
        lock_over = row.locked_until is not None and row.locked_until <= now
        if lock_over or row.window_started_at + limits.window <= now:
            row.attempts, row.window_started_at, row.locked_until = 0, now, None
        row.attempts += 1
        if row.attempts > limits.limit(row.scope):
            row.locked_until = now + limits.lockout
            refused_until = max(refused_until or row.locked_until, row.locked_until)
        session.add(row)
    session.flush()
    return refused_until


def forgive_attempt(*, session: Session, username: str, address: str) -> None:
    """Undo the count of a successful sign-in: the username starts afresh, the address loses one."""
    for scope, key_hash in _keys(username, address):
        row = session.exec(
            select(DeskLoginThrottle)
            .where(DeskLoginThrottle.scope == scope, DeskLoginThrottle.key_hash == key_hash)
            .with_for_update()
        ).first()
        if row is None:
            continue
        row.attempts = 0 if scope == ACCOUNT else max(row.attempts - 1, 0)
        session.add(row)


def purge_stale(*, session: Session, now: datetime, batch: int = 500) -> None:
    """Delete counters idle for a day and not locked, skipping rows others hold (never waits)."""
    stale = (
        select(col(DeskLoginThrottle.id))
        .where(
            col(DeskLoginThrottle.window_started_at) < now - FORGET_AFTER,
            col(DeskLoginThrottle.locked_until).is_(None)
            | (col(DeskLoginThrottle.locked_until) < now),
        )
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    session.execute(delete(DeskLoginThrottle).where(col(DeskLoginThrottle.id).in_(stale)))
