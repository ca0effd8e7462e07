"""Claims on the inbox and outbox: one lane head at a time, never one row for two workers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.channels.email import outbox as email_outbox
from bot.channels.telegram import inbox, outbox
from db.models import InboxUpdate, OutboxMessage, utcnow
from db.plumbing import claims
from db.plumbing.session import session_scope


def _update(update_id: int, chat: int) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {"message_id": update_id, "chat": {"id": chat}, "from": {"id": chat}},
    }


def _finish(engine: Engine, update_id: int) -> None:
    with session_scope(engine) as session:
        row = session.get(InboxUpdate, update_id)
        assert row is not None
        row.processed_at = utcnow()


def test_a_chat_gives_one_update_at_a_time_in_order(engine: Engine) -> None:
    inbox.store_updates(engine, [_update(1, 10), _update(2, 20), _update(3, 10), _update(4, 10)])
    assert [row.update_id for row in inbox.claim(engine, 10)] == [1, 2]
    assert inbox.claim(engine, 10) == []  # both chats are busy
    _finish(engine, 1)
    assert [row.update_id for row in inbox.claim(engine, 10)] == [3]
    _finish(engine, 3)
    _finish(engine, 2)
    assert [row.update_id for row in inbox.claim(engine, 10)] == [4]
    with Session(engine) as session:
        row = session.get(InboxUpdate, 4)
        assert row is not None and row.chat_id == 10 and row.claimed_by


def test_a_claim_whose_lease_ran_out_is_taken_again_and_a_restart_frees_claims(
    engine: Engine,
) -> None:
    inbox.store_updates(engine, [_update(1, 10)])
    assert [row.update_id for row in inbox.claim(engine, 10)] == [1]
    assert inbox.claim(engine, 10) == []
    with session_scope(engine) as session:
        row = session.get(InboxUpdate, 1)
        assert row is not None
        row.claimed_until = utcnow() - timedelta(seconds=1)  # its worker died
    assert [row.update_id for row in inbox.claim(engine, 10)] == [1]
    assert inbox.release_claims(engine) == 1
    assert [row.update_id for row in inbox.claim(engine, 10)] == [1]


def test_an_outbox_lane_sends_its_head_only_and_skips_a_head_waiting_for_a_retry(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        for n in range(3):
            session.add(
                OutboxMessage(
                    kind="text",
                    channel="telegram",
                    recipient="staff",
                    recipient_id=501,
                    params={"n": n},
                )
            )
        session.add(
            OutboxMessage(
                channel="telegram",
                kind="text",
                recipient="staff",
                recipient_id=502,
                not_before=utcnow() + timedelta(minutes=1),
            )
        )
    with session_scope(engine) as session:
        heads = outbox._claim_heads(session, 10, utcnow())
        assert [(row.recipient_id, row.params.get("n")) for row in heads] == [(501, 0)]
        first = heads[0].id
    with session_scope(engine) as session:
        assert outbox._claim_heads(session, 10, utcnow()) == []
    assert first is not None
    assert outbox.mark_sent(engine, first, 501, 1) is True  # two more wait in its lane
    with session_scope(engine) as session:
        assert [row.params.get("n") for row in outbox._claim_heads(session, 10, utcnow())] == [1]


def test_workers_claiming_at_once_never_share_an_update(engine: Engine, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers share the inbox on PostgreSQL only")
    inbox.store_updates(engine, [_update(n, 1000 + n) for n in range(1, 401)])
    claimed: list[list[int]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def work(mine: list[int]) -> None:
        start.wait()
        while rows := inbox.claim(engine, 7):
            mine.extend(row.update_id for row in rows)

    threads = [threading.Thread(target=work, args=(mine,)) for mine in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = [update_id for mine in claimed for update_id in mine]
    assert sorted(everything) == list(range(1, 401))
    assert sum(1 for mine in claimed if mine) >= 2
    with Session(engine) as session:
        assert all(row.claimed_until for row in session.exec(select(InboxUpdate)))


def test_a_lone_bot_starting_frees_its_telegram_claims_and_leaves_mail_to_its_lease(
    engine: Engine,
) -> None:
    until = utcnow() + timedelta(minutes=5)
    with session_scope(engine) as session:
        for channel in ("telegram", "email"):
            session.add(
                OutboxMessage(
                    kind="text",
                    recipient="staff",
                    recipient_id=501,
                    channel=channel,
                    claimed_until=until,
                )
            )
    assert outbox.release_claims(engine) == 1
    with Session(engine) as session:
        claimed = {row.channel: row.claimed_until for row in session.exec(select(OutboxMessage))}
    assert claimed["telegram"] is None and claimed["email"] == until


def test_mail_dispatchers_claiming_at_once_never_share_a_row(
    engine: Engine, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several dispatchers share the outbox on PostgreSQL only")
    with session_scope(engine) as session:
        rows = [
            OutboxMessage(kind="text", recipient="department", recipient_id=1, channel="email")
            for _ in range(200)
        ]
        session.add_all(rows)
        session.flush()
        queued = sorted(row.id for row in rows if row.id is not None)
    claimed: list[list[int]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def work(mine: list[int]) -> None:
        start.wait()
        while True:
            with session_scope(engine) as session:
                found = [row.id for row in email_outbox._claim(session, utcnow(), 7) if row.id]
            if not found:
                return
            mine.extend(found)

    threads = [threading.Thread(target=work, args=(mine,)) for mine in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(row_id for mine in claimed for row_id in mine) == queued
    assert sum(1 for mine in claimed if mine) >= 2


def test_a_job_runs_in_one_process_at_a_time(engine: Engine, database_url: str) -> None:
    with session_scope(engine) as first, session_scope(engine) as second:
        assert claims.alone(first, "route-review reminders")
        if database_url.startswith("postgresql"):
            assert not claims.alone(second, "route-review reminders")  # the first still holds it
        assert claims.alone(second, "another job")
    with session_scope(engine) as later:
        assert claims.alone(later, "route-review reminders")  # the first one's lock is gone
