"""The per-person token bucket in the database: bursts pass, floods get one notice, tokens refill
with time, refusals are counted per day, and two workers at once count every message."""

from __future__ import annotations

import threading
from datetime import date

from sqlalchemy import func, inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from db.models import Municipality, RateLimitBucket
from db.people.limits import Limit, check, count_refusal, refusals_on
from db.plumbing.migrate import downgrade, upgrade
from db.plumbing.session import make_engine, session_scope

DAY = date(2026, 12, 7)
T0 = 1000.0


def verdicts(
    engine: Engine, person: str, n: int, limit: Limit, at: float = T0, key: str | None = None
) -> list[str]:
    """Check `n` messages of `person` sent at `at`, each in its own transaction."""
    results = []
    for _ in range(n):
        with session_scope(engine) as session:
            results.append(
                str(check(session, person=person, sent=at, key=key, limit=limit, day=DAY))
            )
    return results


def test_burst_passes_then_one_notice_then_silence(engine: Engine) -> None:
    limit = Limit(rate=0.5, burst=3)
    results = verdicts(engine, "telegram:7", 6, limit)
    assert results == ["ok", "ok", "ok", "notify", "drop", "drop"]
    with Session(engine) as session:
        assert refusals_on(session, day=DAY) == [("telegram:7", 3)]


def test_tokens_refill_over_time_and_people_are_independent(engine: Engine) -> None:
    limit = Limit(rate=0.5, burst=2)
    assert verdicts(engine, "telegram:1", 3, limit) == ["ok", "ok", "notify"]
    assert verdicts(engine, "console:1", 1, limit) == ["ok"]
    # two seconds later: one token back at 0.5 per second
    assert verdicts(engine, "telegram:1", 2, limit, at=T0 + 2.0) == ["ok", "notify"]


def test_ids_above_32_bits_are_fine_and_idle_people_are_forgotten(engine: Engine) -> None:
    limit = Limit(rate=1.0, burst=1)
    assert verdicts(engine, "telegram:7000000000", 1, limit) == ["ok"]
    assert verdicts(engine, "telegram:8000000000", 1, limit) == ["ok"]
    assert verdicts(engine, "telegram:9000000000", 1, limit, at=T0 + 10) == ["ok"]
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(RateLimitBucket)).scalar() == 1


def test_a_message_handled_again_after_a_failure_takes_no_second_token(engine: Engine) -> None:
    limit = Limit(rate=0.5, burst=2)
    # The first question fails twice (say, the database restarts) and is handled three times.
    assert verdicts(engine, "telegram:7", 3, limit, key="tg:7:1") == ["ok", "ok", "ok"]
    assert verdicts(engine, "telegram:7", 1, limit, key="tg:7:2") == ["ok"]
    assert verdicts(engine, "telegram:7", 1, limit, key="tg:7:3") == ["notify"]  # a flood
    assert verdicts(engine, "telegram:7", 1, limit, key="tg:7:1") == ["ok"]


def test_several_questions_a_minute_one_after_another_pass(engine: Engine) -> None:
    limit = Limit(rate=0.5, burst=6)
    sent = [T0 + 8.0 * n for n in range(8)]  # a question every 8 s for a minute
    results = []
    for at in sent:
        results += verdicts(engine, "telegram:3", 1, limit, at=at)
    assert results == ["ok"] * 8


def test_two_workers_at_once_count_every_message(engine: Engine) -> None:
    """Threads, each its own connection and transaction, flood one person at the same moment."""
    limit = Limit(rate=0.001, burst=5)
    results: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def worker() -> None:
        start.wait()
        for _ in range(5):
            (verdict,) = verdicts(engine, "telegram:99", 1, limit)
            with lock:
                results.append(verdict)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == sorted(["ok"] * 5 + ["notify"] + ["drop"] * 14)
    with Session(engine) as session:
        assert refusals_on(session, day=DAY) == [("telegram:99", 15)]


def test_migration_0060_adds_and_removes_the_tables_around_existing_data(
    database_url: str,
) -> None:
    upgrade(database_url, "0005")
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        session.add(Municipality(name="Migrationsby"))
    upgrade(database_url, "0060")
    with session_scope(engine) as session:
        assert check(session, person="telegram:5", sent=T0, key=None, limit=Limit(1, 1), day=DAY)
        count_refusal(session, person="telegram:5", day=DAY)
    with Session(engine) as session:
        assert refusals_on(session, day=DAY) == [("telegram:5", 1)]
    downgrade(database_url, "0005")
    assert not {"rate_limit_bucket", "rate_limit_refusal"} & set(inspect(engine).get_table_names())
    with Session(engine) as session:
        assert session.exec(select(Municipality.name)).all() == ["Migrationsby"]
    upgrade(database_url)
    with Session(engine) as session:
        assert refusals_on(session, day=DAY) == []
    engine.dispose()
