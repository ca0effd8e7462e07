"""An inbound rate limit per user: a token bucket, with one polite notice per flood."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

ADMITTED_KEPT = 32
"""How many admitted messages a bucket remembers, so that a retried message costs nothing."""


@dataclass
class _Bucket:
    tokens: float
    updated: float
    notified: bool = False
    admitted: deque[str] = field(default_factory=lambda: deque(maxlen=ADMITTED_KEPT))


@dataclass
class RateLimiter:
    """Allow `burst` messages at once and `rate` messages per second after that, per user."""

    rate: float = 0.5
    burst: int = 6
    clock: Callable[[], float] = time.monotonic
    max_users: int = 100_000
    _buckets: dict[int, _Bucket] = field(default_factory=dict)

    def check(self, user_id: int, now: float | None = None, key: str | None = None) -> str:
        """Return "ok", "notify" (first refusal of a flood) or "drop" (further refusals).

        `now` is when the user sent the message (default: the clock), so time spent processing
        a backlog does not count as the user slowing down. `key` names the message: one that
        was let through before (and is handled again after a failure) is let through again
        without taking a token, so a retry never turns a question into a flood.
        """
        now = self.clock() if now is None else now
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= self.max_users:
                self._forget_idle(now)
            bucket = _Bucket(tokens=float(self.burst), updated=now)
            self._buckets[user_id] = bucket
        if key is not None and key in bucket.admitted:
            return "ok"
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
        bucket.updated = max(now, bucket.updated)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.notified = False
            if key is not None:
                bucket.admitted.append(key)
            return "ok"
        if bucket.notified:
            return "drop"
        bucket.notified = True
        return "notify"

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.rate if self.rate > 0 else float("inf")
        for user_id in [u for u, b in self._buckets.items() if now - b.updated > full_after]:
            del self._buckets[user_id]
