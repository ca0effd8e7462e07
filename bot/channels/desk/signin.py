"""Password sign-in: throttle, check on the password pool, upgrade the hash, open a session."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from sqlalchemy import update
from sqlmodel import Session, col

from bot.channels.desk.accounts import find_account, normalise_username
from bot.channels.desk.auth import start_session
from bot.channels.desk.password_pool import PasswordPool, PoolBusy
from bot.channels.desk.throttle import (
    LoginLimits,
    forgive_attempt,
    purge_stale,
    refused_until,
    reserve_attempt,
)
from bot.channels.desk.web import (
    LOGIN_LIMITS,
    PASSWORD_POOL,
    client_address,
    now_of,
    run_db,
)
from db.models import DeskAccount


@dataclass(frozen=True)
class SignIn:
    """The outcome of a password sign-in: a session cookie, or why there is none."""

    cookie: str | None = None
    refused_until: datetime | None = None
    busy: bool = False


@dataclass(frozen=True)
class _Candidate:
    refused_until: datetime | None
    account_id: int | None
    stored_hash: str | None
    enabled: bool


async def sign_in_with_password(request: web.Request, username: str, password: str) -> SignIn:
    """Check a username and password; every failure costs the same work and says the same.

    Existing, unknown and disabled names are all checked against an argon2id hash (a dummy one
    for unknown names) on the password pool, and all count against the throttle.
    """
    pool, limits = request.app[PASSWORD_POOL], request.app[LOGIN_LIMITS]
    name, address, now = normalise_username(username), client_address(request), now_of(request)
    try:
        with pool.admission():
            outcome = await _sign_in(request, name, password, address, now, pool, limits)
    except PoolBusy:
        outcome = SignIn(busy=True)
    if outcome.busy or outcome.refused_until is not None:
        await pause_before_refusal(limits.refusal_delay)  # outside the slot: holds nothing
    return outcome


async def pause_before_refusal(seconds: float) -> None:
    """Wait before answering a refused sign-in (a tarpit for floods)."""
    await asyncio.sleep(seconds)


async def _sign_in(
    request: web.Request,
    name: str,
    password: str,
    address: str,
    now: datetime,
    pool: PasswordPool,
    limits: LoginLimits,
) -> SignIn:
    def reserve(session: Session) -> _Candidate:
        refused = reserve_attempt(
            session=session, limits=limits, username=name, address=address, now=now
        )
        account = find_account(session=session, username=name)
        return _Candidate(
            refused_until=refused,
            account_id=account.id if account else None,
            stored_hash=account.password_hash if account else None,
            enabled=account is not None and account.disabled_at is None,
        )

    def locked(session: Session) -> datetime | None:
        return refused_until(session=session, username=name, address=address, now=now)

    # A locked name or address is refused by a read alone: a flood against a lock writes nothing.
    until = await run_db(request, locked, executor=pool.db_executor)
    if until is not None:
        return SignIn(refused_until=until)
    candidate = await run_db(request, reserve, executor=pool.db_executor)
    if candidate.refused_until is not None:
        return SignIn(refused_until=candidate.refused_until)
    check = await pool.verify(password, candidate.stored_hash)
    if not (check.ok and candidate.enabled and candidate.account_id is not None):
        return SignIn()
    account_id, old_hash = candidate.account_id, candidate.stored_hash
    new_hash = await pool.hash(password) if check.needs_rehash else None

    def open_session(session: Session) -> str | None:
        forgive_attempt(session=session, username=name, address=address)
        if new_hash is not None:
            # Only if nobody changed the hash meanwhile.
            session.execute(
                update(DeskAccount)
                .where(
                    col(DeskAccount.id) == account_id, col(DeskAccount.password_hash) == old_hash
                )
                .values(password_hash=new_hash)
                .execution_options(synchronize_session=False)
            )
        cookie = start_session(session=session, account_id=account_id, now=now)
        purge_stale(session=session, now=now)
        return cookie

    return SignIn(cookie=await run_db(request, open_session, executor=pool.db_executor))
