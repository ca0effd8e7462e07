"""Ask the per-person inbound rate limit (the domain decides: `db.people.limits`).

One small interface, `await limiter.check(person, sent, key)`, with two stores of the same
token bucket: the database (default) and Redis (when `LOCK_STORE_URL` is set, so no database
round trip sits on the hot path). Both hold one bucket per person for every bot worker and
channel and are atomic (a row lock / one Lua script); refused messages are counted per person
and day in the database either way, where the coordinator's queue shows them.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Protocol

from redis.asyncio import Redis
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.settings import Settings
from db.people.limits import ADMITTED_KEPT, Limit, Verdict, check, count_refusal
from db.plumbing.session import session_scope


class RateLimiter(Protocol):
    """Where the per-person buckets live."""

    async def check(
        self, person: str, sent: float | None = None, key: str | None = None
    ) -> Verdict:
        """Return the verdict for the message `person` sent at `sent` (epoch s; default now)."""
        ...

    def admit_in(
        self, person: str, sent: float | None = None, key: str | None = None
    ) -> Callable[[Session], Verdict] | None:
        """Return the check to run in the caller's transaction, or None (check first instead).

        The database store takes the token in the same transaction as the message's turn (one
        session and one commit per message); Redis needs no database round trip, so its check
        stays before the turn.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def _when(sent: float | None) -> tuple[float, date]:
    when = datetime.now(UTC).timestamp() if sent is None else sent
    return when, datetime.fromtimestamp(when, UTC).date()


def limit_of(settings: Settings) -> Limit:
    """Return the limit the settings name."""
    return Limit(rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst)


class DatabaseRateLimiter:
    """The per-person buckets in the database (`rate_limit_bucket`)."""

    def __init__(self, engine: Engine, limit: Limit) -> None:
        self.engine, self.limit = engine, limit

    async def check(
        self, person: str, sent: float | None = None, key: str | None = None
    ) -> Verdict:
        """Return the verdict for the message `person` sent at `sent` (epoch s; default now)."""
        when, day = _when(sent)

        def work() -> Verdict:
            with session_scope(self.engine) as session:
                return check(session, person=person, sent=when, key=key, limit=self.limit, day=day)

        return await asyncio.to_thread(work)

    def admit_in(
        self, person: str, sent: float | None = None, key: str | None = None
    ) -> Callable[[Session], Verdict] | None:
        """Return the check to run in the caller's transaction (commit it to make it stick)."""
        when, day = _when(sent)
        limit = self.limit

        def admit(session: Session) -> Verdict:
            return check(session, person=person, sent=when, key=key, limit=limit, day=day)

        return admit

    async def aclose(self) -> None:
        """Nothing to release (the engine belongs to the services)."""


# The same bucket as db.people.limits.check, in one atomic script.
_SCRIPT = """
local bucket, admitted = KEYS[1], KEYS[2]
local now, rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local key, kept, ttl = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
if key ~= '' then
  for _, seen in ipairs(redis.call('LRANGE', admitted, 0, -1)) do
    if seen == key then return 'ok' end
  end
end
local state = redis.call('HMGET', bucket, 'tokens', 'updated', 'notified')
local tokens = tonumber(state[1]) or burst
local updated = tonumber(state[2]) or now
local notified = state[3] == '1'
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
updated = math.max(now, updated)
local verdict
if tokens >= 1 then
  tokens, notified, verdict = tokens - 1, false, 'ok'
  if key ~= '' then
    redis.call('RPUSH', admitted, key)
    redis.call('LTRIM', admitted, -kept, -1)
    redis.call('EXPIRE', admitted, ttl)
  end
elseif notified then
  verdict = 'drop'
else
  notified, verdict = true, 'notify'
end
redis.call('HSET', bucket, 'tokens', string.format('%.17g', tokens),
  'updated', string.format('%.17g', updated), 'notified', notified and '1' or '0')
redis.call('EXPIRE', bucket, ttl)
return verdict
"""

REDIS_PREFIX = "lotsen:ratelimit:"


class RedisRateLimiter:
    """The per-person buckets in Redis; a bucket idle until full again expires by itself."""

    def __init__(self, url: str, engine: Engine, limit: Limit) -> None:
        self.redis = Redis.from_url(url)
        self.script = self.redis.register_script(_SCRIPT)
        self.engine, self.limit = engine, limit
        self.ttl = math.ceil(limit.full_after) + 60

    async def check(
        self, person: str, sent: float | None = None, key: str | None = None
    ) -> Verdict:
        """Return the verdict for the message `person` sent at `sent` (epoch s; default now)."""
        when, day = _when(sent)
        keys = [REDIS_PREFIX + person, REDIS_PREFIX + person + ":admitted"]
        args: list[str | int] = [repr(when), repr(self.limit.rate), self.limit.burst]
        args += [key or "", ADMITTED_KEPT, self.ttl]
        answer = await self.script(keys=keys, args=args)
        verdict = Verdict(answer.decode() if isinstance(answer, bytes) else str(answer))
        if verdict != Verdict.OK:

            def count() -> None:
                with session_scope(self.engine) as session:
                    count_refusal(session, person=person, day=day)

            await asyncio.to_thread(count)
        return verdict

    def admit_in(
        self, person: str, sent: float | None = None, key: str | None = None
    ) -> Callable[[Session], Verdict] | None:
        """Return None: Redis is asked before the turn (`check`), off the database."""
        return None

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.redis.aclose()


def create_rate_limiter(
    settings: Settings, engine: Engine, *, limit: Limit | None = None
) -> RateLimiter:
    """Return the Redis store when LOCK_STORE_URL is set, else the database store.

    `limit` is the per-person limit of the settings unless another is given (the web chat's
    limit on chats started per address).
    """
    chosen = limit or limit_of(settings)
    if settings.lock_store_url:
        return RedisRateLimiter(settings.lock_store_url, engine, chosen)
    return DatabaseRateLimiter(engine, chosen)
