"""Append-only audit: a trigger on PostgreSQL (raw SQL too), the ORM guard on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from db.models import AuditEntry, utcnow
from db.plumbing.audit import AppendOnlyError, record, retention_purge
from db.plumbing.session import session_scope
from db.privacy.retention import purge
from harness.database import migrate_and_seed
from tests.conftest import POSTGRES_URL, _drop_postgres, _fresh_postgres
from tests.test_retention import decide_all

RETENTION_DAYS = 3650


class Retention:
    """Retention periods for the purge (only the audit period matters here)."""

    retention_enquiry_text_days = 730
    retention_tracker_days = 90
    retention_audit_days = RETENTION_DAYS
    retention_inbox_days = 30
    retention_feedback_comment_days = 365
    retention_inbound_mail_days = 365
    retention_web_chat_days = 365


def _old_and_new(engine: Engine) -> tuple[int, int]:
    """Write an audit row older than the retention period and a fresh one; return their ids."""
    with session_scope(engine) as session:
        old = record(
            session=session,
            actor="admin",
            entity="route",
            key="topic_bidrag",
            action="update",
            before={"department": "kultur_fritid"},
            after={"department": "social"},
            now=utcnow() - timedelta(days=RETENTION_DAYS + 30),
        )
        new = record(
            session=session,
            actor="admin",
            entity="route",
            key="x",
            action="verify",
            before=None,
            after=None,
        )
        session.flush()
        assert old.id is not None and new.id is not None
        return old.id, new.id


def _ids(engine: Engine) -> set[int]:
    with Session(engine) as session:
        return {row.id for row in session.exec(select(AuditEntry)) if row.id is not None}


@pytest.fixture
def postgres() -> Iterator[Engine]:
    """Yield an engine on a fresh, migrated PostgreSQL database (the trigger is PostgreSQL's)."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured (set LOTSEN_TEST_POSTGRES_URL)")
    url, name = _fresh_postgres(POSTGRES_URL)
    engine = migrate_and_seed(url)
    try:
        yield engine
    finally:
        engine.dispose()
        _drop_postgres(POSTGRES_URL, name)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entry SET actor = 'someone else'",
        "UPDATE audit_entry SET after = NULL WHERE id = :new",
        "DELETE FROM audit_entry",
        "DELETE FROM audit_entry WHERE id = :old",
        "TRUNCATE audit_entry",
    ],
)
def test_raw_sql_cannot_change_or_delete_audit_rows_on_postgresql(
    postgres: Engine, statement: str
) -> None:
    old, new = _old_and_new(postgres)
    before = _ids(postgres)
    with pytest.raises(DBAPIError, match="append-only"), postgres.begin() as connection:
        connection.execute(text(statement), {"old": old, "new": new})
    assert _ids(postgres) == before


def test_the_purge_setting_opens_only_rows_before_an_old_cutoff_for_one_transaction(
    postgres: Engine,
) -> None:
    old, new = _old_and_new(postgres)
    hatch = "SELECT set_config('lotsen.audit_purge_before', :cutoff, true)"
    cutoff = (utcnow() - timedelta(days=RETENTION_DAYS)).isoformat()
    # A cutoff of now would let a session delete what it just wrote: refused.
    with pytest.raises(DBAPIError, match="append-only"), postgres.begin() as connection:
        connection.execute(text(hatch), {"cutoff": utcnow().isoformat()})
        connection.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": old})
    # With an old cutoff, rows after it stay, and updates stay refused.
    with pytest.raises(DBAPIError, match="append-only"), postgres.begin() as connection:
        connection.execute(text(hatch), {"cutoff": cutoff})
        connection.execute(text("DELETE FROM audit_entry"))
    with pytest.raises(DBAPIError, match="append-only"), postgres.begin() as connection:
        connection.execute(text(hatch), {"cutoff": cutoff})
        connection.execute(text("UPDATE audit_entry SET actor = 'x' WHERE id = :id"), {"id": old})
    assert _ids(postgres) >= {old, new}
    # The setting is transaction-local: the next transaction on the same connection is guarded.
    with postgres.connect() as connection:
        with connection.begin():
            connection.execute(text(hatch), {"cutoff": cutoff})
        with pytest.raises(DBAPIError, match="append-only"), connection.begin():
            connection.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": old})
    assert old in _ids(postgres)


def test_the_retention_purge_still_deletes_expired_audit_rows_on_postgresql(
    postgres: Engine,
) -> None:
    old, new = _old_and_new(postgres)
    with session_scope(postgres) as session:
        decide_all(session)
        report = purge(session=session, retention=Retention())
    assert report.audit_entries_deleted == 1
    remaining = _ids(postgres)
    assert old not in remaining and new in remaining
    # After the purge's block, the same transaction is guarded again.
    with pytest.raises(DBAPIError, match="append-only"), session_scope(postgres) as session:
        with retention_purge(session, before=utcnow() - timedelta(days=RETENTION_DAYS)):
            pass
        session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": new})
    assert new in _ids(postgres)


def test_sqlite_keeps_the_orm_guard(sqlite_url: str) -> None:
    engine = migrate_and_seed(sqlite_url)
    old, new = _old_and_new(engine)
    with pytest.raises(AppendOnlyError), session_scope(engine) as session:
        row = session.get(AuditEntry, new)
        assert row is not None
        row.actor = "someone else"
        session.flush()
    with pytest.raises(AppendOnlyError), session_scope(engine) as session:
        session.delete(session.get(AuditEntry, old))
        session.flush()
    with pytest.raises(AppendOnlyError), session_scope(engine) as session:
        session.exec(delete(AuditEntry))
    with pytest.raises(AppendOnlyError), session_scope(engine) as session:
        session.exec(update(AuditEntry).values(actor="x"))
    assert _ids(engine) == {old, new}
    with session_scope(engine) as session:
        decide_all(session)
        report = purge(session=session, retention=Retention())
    assert report.audit_entries_deleted == 1
    remaining = _ids(engine)  # the purge records itself
    assert old not in remaining and new in remaining
    with Session(engine) as session:
        assert (
            session.exec(select(AuditEntry).where(col(AuditEntry.id) == new)).one().actor == "admin"
        )
    engine.dispose()
