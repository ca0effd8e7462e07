"""The per-person token bucket, in the database (SQLite, PostgreSQL) and in Redis: bursts pass,
floods get one notice, tokens refill with time, refusals are counted per person and day, and
two workers at once count every message."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import pytest
from redis import Redis as SyncRedis
from sqlalchemy import func, inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.ratelimit import (
    DatabaseRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    create_rate_limiter,
)
from bot.settings import Settings
from db.models import Municipality, RateLimitBucket
from db.people.limits import Limit, check, count_refusal, refusals_on
from db.plumbing.migrate import downgrade, upgrade
from db.plumbing.session import make_engine, session_scope
from harness.stack import running_redis

DAY = date(2026, 12, 7)
T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC).timestamp()

Factory = Callable[[Limit], RateLimiter]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["database", "redis"])
def store(request: pytest.FixtureRequest, engine: Engine) -> Factory:
    """Make limiters on one store: the database, or Redis counting refusals in the database."""

    if request.param == "database":
        return lambda limit: DatabaseRateLimiter(engine, limit)
    url = request.getfixturevalue("redis_url")
    with SyncRedis.from_url(url) as client:
        client.flushdb()
    return lambda limit: RedisRateLimiter(url, engine, limit)


async def verdicts(
    limiter: RateLimiter, person: str, n: int, at: float = T0, key: str | None = None
) -> list[str]:
    """Check `n` messages of `person` sent at `at`, one after another."""
    return [str(await limiter.check(person, at, key)) for _ in range(n)]


async def test_burst_passes_then_one_notice_then_silence(store: Factory, engine: Engine) -> None:
    limiter = store(Limit(rate=0.5, burst=3))
    results = await verdicts(limiter, "telegram:7", 6)
    assert results == ["ok", "ok", "ok", "notify", "drop", "drop"]
    with Session(engine) as session:
        assert refusals_on(session, day=DAY) == [("telegram:7", 3)]
    await limiter.aclose()


async def test_tokens_refill_over_time_and_people_are_independent(store: Factory) -> None:
    limiter = store(Limit(rate=0.5, burst=2))
    assert await verdicts(limiter, "telegram:1", 3) == ["ok", "ok", "notify"]
    assert await verdicts(limiter, "console:1", 1) == ["ok"]
    # two seconds later: one token back at 0.5 per second
    assert await verdicts(limiter, "telegram:1", 2, at=T0 + 2.0) == ["ok", "notify"]
    await limiter.aclose()


async def test_ids_above_32_bits_are_fine(store: Factory) -> None:
    limiter = store(Limit(rate=1.0, burst=1))
    assert await verdicts(limiter, "telegram:7000000000", 2) == ["ok", "notify"]
    assert await verdicts(limiter, "telegram:8000000000", 1) == ["ok"]
    await limiter.aclose()


async def test_idle_people_are_forgotten_in_the_database(engine: Engine) -> None:
    limiter = DatabaseRateLimiter(engine, Limit(rate=1.0, burst=1))
    assert await verdicts(limiter, "telegram:7000000000", 1) == ["ok"]
    assert await verdicts(limiter, "telegram:8000000000", 1) == ["ok"]
    assert await verdicts(limiter, "telegram:9000000000", 1, at=T0 + 10) == ["ok"]
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(RateLimitBucket)).scalar() == 1


async def test_a_message_handled_again_after_a_failure_takes_no_second_token(
    store: Factory,
) -> None:
    limiter = store(Limit(rate=0.5, burst=2))
    # The first question fails twice (say, the database restarts) and is handled three times.
    assert await verdicts(limiter, "telegram:7", 3, key="tg:7:1") == ["ok", "ok", "ok"]
    assert await verdicts(limiter, "telegram:7", 1, key="tg:7:2") == ["ok"]
    assert await verdicts(limiter, "telegram:7", 1, key="tg:7:3") == ["notify"]  # a flood
    assert await verdicts(limiter, "telegram:7", 1, key="tg:7:1") == ["ok"]
    await limiter.aclose()


async def test_several_questions_a_minute_one_after_another_pass(store: Factory) -> None:
    limiter = store(Limit(rate=0.5, burst=6))
    results = []
    for n in range(8):  # a question every 8 s for a minute
        results += await verdicts(limiter, "telegram:3", 1, at=T0 + 8.0 * n)
    assert results == ["ok"] * 8
    await limiter.aclose()


async def test_two_workers_at_once_count_every_message(store: Factory, engine: Engine) -> None:
    """Two limiters (two bot workers) check one person's flood at the same moment, each
    message on its own thread and connection."""
    limit = Limit(rate=0.001, burst=5)
    workers = [store(limit), store(limit)]
    checks = [
        w.check("telegram:99", T0, f"tg:99:{i}{n}")
        for n in range(10)
        for i, w in enumerate(workers)
    ]
    results = [str(v) for v in await asyncio.gather(*checks)]
    assert sorted(results) == sorted(["ok"] * 5 + ["notify"] + ["drop"] * 14)
    with Session(engine) as session:
        assert refusals_on(session, day=DAY) == [("telegram:99", 15)]
    for worker in workers:
        await worker.aclose()


def test_the_store_follows_lock_store_url(engine: Engine, settings: Settings) -> None:
    assert isinstance(create_rate_limiter(settings, engine), DatabaseRateLimiter)
    with_redis = settings.model_copy(update={"lock_store_url": "redis://127.0.0.1:1/0"})
    assert isinstance(create_rate_limiter(with_redis, engine), RedisRateLimiter)


def test_migration_0060_adds_and_removes_the_tables_around_existing_data(
    database_url: str,
) -> None:
    upgrade(database_url, "0040")
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        session.add(Municipality(name="Migrationsby"))
    upgrade(database_url, "0060")
    with session_scope(engine) as session:
        verdict = check(session, person="telegram:5", sent=T0, key=None, limit=Limit(1, 1), day=DAY)
        assert verdict == "ok"
        count_refusal(session, person="telegram:5", day=DAY)
    with Session(engine) as session:
        assert refusals_on(session, day=DAY) == [("telegram:5", 1)]
    downgrade(database_url, "0040")
    assert not {"rate_limit_bucket", "rate_limit_refusal"} & set(inspect(engine).get_table_names())
    with Session(engine) as session:
        assert session.exec(select(Municipality.name)).all() == ["Migrationsby"]
    upgrade(database_url)
    with Session(engine) as session:
        assert refusals_on(session, day=DAY) == []
    engine.dispose()


def test_erasing_a_user_forgets_their_bucket_and_refusals(engine: Engine) -> None:
    from db.privacy.erasure import erase_identity
    from harness.people import telegram_person

    limit = Limit(rate=0.001, burst=1)
    with session_scope(engine) as session:
        telegram_person(session=session, telegram_user_id=515, chat_id=515)
        for person in ("telegram:515", "telegram:516"):
            for _ in range(2):
                check(session, person=person, sent=T0, key=None, limit=limit, day=DAY)
    with session_scope(engine) as session:
        erase_identity(session=session, channel="telegram", address=str(515), actor="test")
    with Session(engine) as session:
        assert refusals_on(session, day=DAY) == [("telegram:516", 1)]
        buckets = session.exec(select(RateLimitBucket.person)).all()
        assert buckets == ["telegram:516"]


async def test_the_console_is_rate_limited_like_telegram(engine: Engine) -> None:
    """The console's writer has the same per-person limit: one notice, refusals counted."""
    from bot.channels.console import CONSOLE_USER_ID, run_console
    from bot.services import create_services
    from db.enquiries.notifications import Kind, Recipient
    from db.models import Enquiry, OutboxMessage
    from db.people.identities import find_person
    from harness.ports import free_port

    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        rasa_url=f"http://127.0.0.1:{free_port()}",  # Rasa is down: questions escalate
        rate_limit_burst=2,
        rate_limit_per_second=0.0001,
        _env_file=None,  # type: ignore[call-arg]
    )
    lines = ["Storåsa IF", "Hur söker vi bidrag?", "Och lokaler?", "Och bygglov?", "/quit"]

    async def read(_prompt: str) -> str | None:
        await asyncio.sleep(0)
        return lines.pop(0) if lines else None

    output: list[str] = []
    services = create_services(settings)
    try:
        await run_console(services, read, output.append)
    finally:
        await services.aclose()
    with Session(engine) as session:
        person = find_person(session=session, channel="console", address=str(CONSOLE_USER_ID))
        assert person is not None
        kinds = session.exec(
            select(OutboxMessage.kind)
            .where(
                OutboxMessage.recipient == Recipient.ASSOCIATION,
                OutboxMessage.recipient_id == person.id,
            )
            .order_by(OutboxMessage.id)  # type: ignore[arg-type]
        ).all()
        # the third text is refused with one notice, the fourth silently
        assert kinds == [Kind.WELCOME, Kind.ASSOCIATION_SAVED, Kind.ESCALATED, Kind.RATE_LIMITED]
        assert len(session.exec(select(Enquiry)).all()) == 1
        assert refusals_on(session, day=datetime.now(UTC).date()) == [("console:0", 2)]


def test_the_coordinators_queue_in_telegram_names_the_refusals_like_the_cli() -> None:
    from bot.messages.coordinator import queue_listing, refusals_line

    refused = [("telegram:5", 3), ("console:0", 2)]
    line = refusals_line(refused, "sv")
    assert line == (
        "Avvisade meddelanden i dag (för många på kort tid): telegram:5 ×3, console:0 ×2"
    )
    assert queue_listing([], "sv", refused=refused) == f"{line}\nKön är tom."
    assert queue_listing([], "sv") == "Kön är tom."
    assert refusals_line([], "sv") is None
    english = refusals_line(refused, "en")
    assert english is not None and "telegram:5 ×3" in english and english != line
