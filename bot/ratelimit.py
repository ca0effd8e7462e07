"""Ask the per-person inbound rate limit (the domain decides: `db.people.limits`).

One small interface, `check(person, sent, key)`, with the database store (default) and the
Redis store (when `LOCK_STORE_URL` is set). Both hold one token bucket per person for every
bot worker and channel; refused messages are counted per person and day in the database.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.services import Services
from db.people.limits import Limit, Verdict, check


class RateLimiter:
    """The per-person limit kept in the database."""

    def __init__(self, services: Services) -> None:
        settings = services.settings
        self.services = services
        self.limit = Limit(rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst)

    async def check(
        self, person: str, sent: float | None = None, key: str | None = None
    ) -> Verdict:
        """Return the verdict for the message `person` sent at `sent` (epoch s; default now)."""
        when = datetime.now(UTC).timestamp() if sent is None else sent
        day = datetime.fromtimestamp(when, UTC).date()
        return await self.services.db(
            lambda session: check(
                session, person=person, sent=when, key=key, limit=self.limit, day=day
            )
        )
