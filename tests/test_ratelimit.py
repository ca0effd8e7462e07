"""The inbound token bucket: bursts pass, floods get one notice, tokens refill with time."""

from __future__ import annotations

from bot.channels.telegram.ratelimit import RateLimiter


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_passes_then_one_notice_then_silence() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=0.5, burst=3, clock=clock)
    results = [limiter.check(7) for _ in range(6)]
    assert results == ["ok", "ok", "ok", "notify", "drop", "drop"]


def test_tokens_refill_over_time_and_users_are_independent() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=0.5, burst=2, clock=clock)
    assert [limiter.check(1) for _ in range(3)] == ["ok", "ok", "notify"]
    assert limiter.check(2) == "ok"
    clock.now += 2.0  # one token back at 0.5 per second
    assert limiter.check(1) == "ok"
    assert limiter.check(1) == "notify"


def test_ids_above_32_bits_are_fine_and_idle_users_are_forgotten() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock, max_users=2)
    assert limiter.check(7_000_000_000) == "ok"
    assert limiter.check(8_000_000_000) == "ok"
    clock.now += 10
    assert limiter.check(9_000_000_000) == "ok"
    assert len(limiter._buckets) <= 2


def test_a_message_handled_again_after_a_failure_takes_no_second_token() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=0.5, burst=2, clock=clock)
    # The first question fails twice (say, the database restarts) and is handled three times.
    assert [limiter.check(7, key="tg:7:1") for _ in range(3)] == ["ok", "ok", "ok"]
    assert limiter.check(7, key="tg:7:2") == "ok"
    assert limiter.check(7, key="tg:7:3") == "notify"  # a third new message is a flood
    assert limiter.check(7, key="tg:7:1") == "ok"
