"""Claim queued rows for one worker: the oldest unfinished row of each lane nobody works on.

The inbox (a lane per chat) and the outbox (a lane per recipient) are worked off lane by lane:
one lane's rows strictly in order, different lanes at once, by one bot process or by several
on one PostgreSQL database. A worker claims a lane's head (its oldest unfinished row) by setting
the row's `claimed_until` (a lease) and `claimed_by` in one `UPDATE … RETURNING`; the rows it
picks from are selected `FOR UPDATE SKIP LOCKED`, so two workers claiming at the same moment
never take the same row and never wait for each other. While the head is claimed the lane
stands still: its next row becomes the head only when the head is finished. A claim whose lease
has run out (its worker died) may be taken by any worker. SQLite serves one worker; the
statement is atomic there too (the locking clause is PostgreSQL's). Rows that need no order
among themselves (e-mail, each row its own lane) are claimed the same way with `claim_rows`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, or_, select, text, update
from sqlmodel import Session, SQLModel

Row = TypeVar("Row", bound=SQLModel)


def worker_name() -> str:
    """Return who claims: this machine and process ("host:pid"), kept on the row it worked on."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def claim_heads(
    session: Session,
    model: type[Row],
    *,
    order: Any,
    lanes: Sequence[Any],
    pending: Sequence[ColumnElement[bool]],
    due: Sequence[ColumnElement[bool]] = (),
    lease: timedelta,
    now: datetime,
    limit: int,
) -> list[Row]:
    """Claim up to `limit` lane heads that are due and not claimed; return them, oldest first.

    `order` orders a lane's rows, `lanes` are the columns naming a lane, `pending` says which
    rows are still to be done, and `due` which heads may be worked on now (a lane whose head
    is not due waits).
    """
    heads = select(func.min(order)).where(*pending).group_by(*lanes)
    return claim_rows(
        session,
        model,
        order=order,
        pending=[order.in_(heads), *pending],
        due=due,
        lease=lease,
        now=now,
        limit=limit,
    )


def claim_rows(
    session: Session,
    model: type[Row],
    *,
    order: Any,
    pending: Sequence[ColumnElement[bool]],
    due: Sequence[ColumnElement[bool]] = (),
    lease: timedelta,
    now: datetime,
    limit: int,
) -> list[Row]:
    """Claim up to `limit` pending rows that are due and not claimed; return them, oldest first."""
    claimed_until = model.claimed_until  # type: ignore[attr-defined]
    free = (
        select(order)
        .where(*pending, *due, or_(claimed_until.is_(None), claimed_until <= now))
        .order_by(order)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = session.scalars(
        update(model)
        .where(order.in_(free.scalar_subquery()))
        .values(claimed_until=now + lease, claimed_by=worker_name())
        .returning(model),
        execution_options={"synchronize_session": False},
    ).all()
    return sorted(claimed, key=lambda row: getattr(row, order.key))


def alone(session: Session, job: str) -> bool:
    """Tell whether this transaction may do a job no other process does at the same moment.

    On PostgreSQL a transaction-scoped advisory lock named after the job: a second process
    trying at the same time is told no (and, coming later, finds the job's work done). SQLite
    serves one process.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(
        session.execute(
            text("SELECT pg_try_advisory_xact_lock(hashtext(:job))"), {"job": job}
        ).scalar_one()
    )


def release_all(session: Session, model: type[SQLModel], *where: ColumnElement[bool]) -> int:
    """Give up every claim on a table's rows matching `where` (their only worker is starting)."""
    claimed_until = model.claimed_until  # type: ignore[attr-defined]
    result = session.execute(
        update(model).where(claimed_until.is_not(None), *where).values(claimed_until=None),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)
