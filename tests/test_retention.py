"""Retention: old texts anonymised (rows kept), old updates and tracker events deleted."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from bot.i18n import translate
from db.enquiries import lifecycle
from db.enquiries.lifecycle.base import event as add_event
from db.enquiries.tracker_events import EVENTS, METADATA, sender_id, tracker_store
from db.models import (
    AuditEntry,
    DeskLoginThrottle,
    DeskLoginToken,
    DeskSession,
    DisposalDecision,
    Enquiry,
    EnquiryEvent,
    EnquiryStatus,
    EventKind,
    InboxUpdate,
    OutboxMessage,
    TrainingCandidate,
)
from db.people.staff_identities import staff_person_for
from db.plumbing.audit import AppendOnlyError, record, retention_purge
from db.plumbing.session import session_scope
from db.privacy.disposal import KINDS
from db.privacy.retention import PURGED, purge, run_purge
from harness.database import migrate_and_seed
from harness.people import telegram_person
from tests.conftest import _settings_for

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)


def decide_all(session: Session) -> None:
    """Add a disposal decision covering every kind for a day: the settings' periods rule.

    Added as a row (not through `record_decision`, whose audit entry the tests would count).
    """
    session.add(
        DisposalDecision(
            reference="KS 2026/1 § 1",
            decided_on=date(2026, 1, 15),
            covers=dict.fromkeys(KINDS, 1),
            recorded_by="test",
        )
    )
    session.flush()


@dataclass
class Retention:
    """Retention periods in days, as the settings hold them."""

    retention_enquiry_text_days: int = 730
    retention_tracker_days: int = 90
    retention_audit_days: int = 3650
    retention_inbox_days: int = 30
    retention_feedback_comment_days: int = 365
    retention_inbound_mail_days: int = 365
    retention_web_chat_days: int = 365


def days_ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


def _enquiry(
    session: Session,
    *,
    created_days_ago: int,
    closed_days_ago: int | None,
    text: str = "Hur söker vi lokalbidrag?",
    answer: str | None = "Ansök via e-tjänsten senast 1 mars.",
    telegram_user_id: int = 5001,
) -> Enquiry:
    user = telegram_person(
        session=session, telegram_user_id=telegram_user_id, chat_id=telegram_user_id
    )
    enquiry, _ = lifecycle.received(
        session=session, text=text, language="sv", user=user, now=days_ago(created_days_ago)
    )
    if answer is not None:
        enquiry.answer_text = answer
        add_event(
            session=session,
            enquiry=enquiry,
            kind=EventKind.ANSWERED,
            actor="staff:1",
            now=days_ago(created_days_ago),
            by="kultur_fritid",
            text=answer,
        )
    if closed_days_ago is not None:
        enquiry.status = EnquiryStatus.CLOSED
        enquiry.closed_at = days_ago(closed_days_ago)
        enquiry.updated_at = days_ago(closed_days_ago)
        add_event(
            session=session,
            enquiry=enquiry,
            kind=EventKind.CLOSED,
            actor="association",
            now=days_ago(closed_days_ago),
            reason="helpful",
        )
    else:
        enquiry.status = EnquiryStatus.ESCALATED
    session.flush()
    return enquiry


def _tracker_event(connection: object, *, sender: str, at: datetime, text: str) -> None:
    connection.execute(  # type: ignore[attr-defined]
        insert(EVENTS).values(
            sender_id=sender,
            type_name="user",
            timestamp=at.timestamp(),
            intent_name="topic_bidrag",
            data=json.dumps({"event": "user", "text": text, "timestamp": at.timestamp()}),
        )
    )


def _fill(engine: Engine, tracker_url: str) -> dict[str, int]:
    """Write data of every kind, some past its retention and some not; return row ids."""
    ids: dict[str, int] = {}
    with session_scope(engine) as session:
        decide_all(session)
        old = _enquiry(session, created_days_ago=800, closed_days_ago=740)
        recent = _enquiry(session, created_days_ago=200, closed_days_ago=100)
        old_open = _enquiry(session, created_days_ago=800, closed_days_ago=None, answer=None)
        session.add(TrainingCandidate(text=old.text, intent="topic_bidrag", enquiry_id=old.id))
        session.add(
            TrainingCandidate(
                text="Hur söker vi lokalbidrag?",
                intent="topic_bidrag",
                enquiry_id=old.id,
                accepted=True,
                reviewed_at=days_ago(700),
                reviewed_by="samordnaren",
            )
        )
        session.add_all(
            [
                InboxUpdate(
                    update_id=7_000_000_001,
                    payload={"update_id": 7_000_000_001, "message": {"text": "gammal"}},
                    received_at=days_ago(40),
                    processed_at=days_ago(40),
                ),
                InboxUpdate(
                    update_id=7_000_000_002,
                    payload={"update_id": 7_000_000_002, "message": {"text": "ny"}},
                    received_at=days_ago(10),
                    processed_at=days_ago(10),
                ),
                InboxUpdate(
                    update_id=7_000_000_003,
                    payload={"update_id": 7_000_000_003, "message": {"text": "fastnad"}},
                    received_at=days_ago(40),
                ),
            ]
        )

        def message(text: str, sent_at: datetime | None) -> OutboxMessage:
            return OutboxMessage(
                channel="telegram",
                kind="text",
                recipient="association",
                params={"text": text},
                sent_at=sent_at,
                address="5001" if sent_at else None,
            )

        sent_old = message("Svar: ansök via e-tjänsten", days_ago(40))
        sent_new = message("Ärende mottaget", days_ago(5))
        unsent = message("Väntar på att skickas", None)
        session.add_all([sent_old, sent_new, unsent])
        record(
            session=session,
            actor="admin",
            entity="route",
            key="topic_bidrag",
            action="update",
            before=None,
            after={"department": "kultur_fritid"},
            now=days_ago(3700),
        )
        record(
            session=session,
            actor="admin",
            entity="route",
            key="topic_lokal",
            action="update",
            before=None,
            after={"department": "teknik"},
            now=days_ago(100),
        )
        session.flush()
        rows: dict[str, Enquiry | OutboxMessage] = {
            "old": old,
            "recent": recent,
            "old_open": old_open,
            "sent_old": sent_old,
            "sent_new": sent_new,
            "unsent": unsent,
        }
        for name, row in rows.items():
            assert row.id is not None
            ids[name] = row.id
    with tracker_store(tracker_url) as connection:
        assert connection is not None
        _tracker_event(
            connection,
            sender=sender_id("telegram", str(5001), str(5001)),
            at=days_ago(100),
            text="gammal",
        )
        _tracker_event(
            connection,
            sender=sender_id("telegram", str(5001), str(5001)),
            at=days_ago(10),
            text="ny",
        )
    return ids


def _create_tracker_table(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    METADATA.create_all(engine)
    engine.dispose()


def _tracker_texts(url: str) -> list[str]:
    with tracker_store(url) as connection:
        assert connection is not None
        rows = connection.execute(sa_select(EVENTS.c.data).order_by(EVENTS.c.timestamp))
        return [json.loads(data)["text"] for data in rows.scalars()]


def test_purge_dry_run_then_purge_then_nothing_left(engine: Engine, database_url: str) -> None:
    tracker_url = database_url  # on PostgreSQL Rasa shares the app database
    _create_tracker_table(tracker_url)
    ids = _fill(engine, tracker_url)
    expected = {
        "enquiries_anonymised": 1,
        "training_candidates_redacted": 1,
        "inbox_updates_deleted": 1,
        "outbox_messages_redacted": 1,
        "audit_entries_deleted": 1,
        "tracker_events_deleted": 1,
        "desk_sign_ins_deleted": 0,  # none made here (see the test of desk sign-ins)
        "rate_limit_refusals_deleted": 0,  # none made here (see the test of refusals)
        "feedback_comments_deleted": 0,  # none made here (tests/test_register_records.py)
        "inbound_mails_redacted": 0,  # none made here (tests/test_privacy_catalogue.py)
        "web_chats_deleted": 0,  # none made here (tests/test_privacy_catalogue.py)
    }

    with session_scope(engine) as session:
        dry = purge(
            session=session, retention=Retention(), now=NOW, dry_run=True, tracker_url=tracker_url
        )
    assert dry.dry_run and dry.counts() == expected
    assert "Dry run" in translate("en", dry.lines()[0])
    with session_scope(engine) as session:
        old = session.get(Enquiry, ids["old"])
        assert old is not None and old.text == "Hur söker vi lokalbidrag?"
        assert session.get(InboxUpdate, 7_000_000_001) is not None
        assert len(session.exec(select(AuditEntry)).all()) == 2
    assert _tracker_texts(tracker_url) == ["gammal", "ny"]

    with session_scope(engine) as session:
        report = purge(session=session, retention=Retention(), now=NOW, tracker_url=tracker_url)
    assert report.counts() == expected and report.tracker_store == "checked"

    with session_scope(engine) as session:
        old = session.get(Enquiry, ids["old"])
        assert old is not None
        # The public record stays: reference, status, department, timestamps, history.
        assert (old.text, old.answer_text) == (PURGED, PURGED)
        assert old.reference is not None and old.reference.startswith("LOT-")
        assert old.status == EnquiryStatus.CLOSED and old.closed_at == days_ago(740)
        history = session.exec(
            select(EnquiryEvent)
            .where(EnquiryEvent.enquiry_id == old.id)
            .order_by(col(EnquiryEvent.id))
        ).all()
        assert [e.kind for e in history] == ["received", "answered", "closed"]
        assert history[1].detail == {"by": "kultur_fritid", "text": PURGED}
        recent = session.get(Enquiry, ids["recent"])
        old_open = session.get(Enquiry, ids["old_open"])
        assert recent is not None and recent.text == "Hur söker vi lokalbidrag?"
        assert recent.answer_text == "Ansök via e-tjänsten senast 1 mars."
        assert old_open is not None and old_open.text == "Hur söker vi lokalbidrag?"
        candidates = session.exec(
            select(TrainingCandidate).order_by(col(TrainingCandidate.id))
        ).all()
        assert [(c.text, c.accepted, c.reviewed_by) for c in candidates] == [
            (PURGED, False, "retention"),
            ("Hur söker vi lokalbidrag?", True, "samordnaren"),
        ]
        inbox = session.exec(
            select(InboxUpdate.update_id).order_by(col(InboxUpdate.update_id))
        ).all()
        assert list(inbox) == [7_000_000_002, 7_000_000_003]
        kept = {
            m.id: (m.params.get("text"), m.address)
            for m in session.exec(select(OutboxMessage)).all()
        }
        assert kept == {
            ids["sent_old"]: (None, None),
            ids["sent_new"]: ("Ärende mottaget", "5001"),
            ids["unsent"]: ("Väntar på att skickas", None),
        }
        audit = session.exec(select(AuditEntry).order_by(col(AuditEntry.at))).all()
        assert [(a.entity, a.entity_key) for a in audit] == [
            ("route", "topic_lokal"),
            ("retention", "2026-06-01"),
        ]
        assert audit[1].after is not None and audit[1].after["enquiries_anonymised"] == 1
    assert _tracker_texts(tracker_url) == ["ny"]

    with session_scope(engine) as session:
        again = purge(session=session, retention=Retention(), now=NOW, tracker_url=tracker_url)
    assert again.total == 0
    with session_scope(engine) as session:
        assert len(session.exec(select(AuditEntry)).all()) == 2  # no entry for an empty run


def test_later_clock_purges_what_has_since_expired(engine: Engine, database_url: str) -> None:
    _create_tracker_table(database_url)
    ids = _fill(engine, database_url)
    with session_scope(engine) as session:
        purge(session=session, retention=Retention(), now=NOW, tracker_url=database_url)
    later = NOW + timedelta(days=640)  # the "recent" enquiry closed 100 days before NOW
    with session_scope(engine) as session:
        report = purge(session=session, retention=Retention(), now=later)
        assert report.enquiries_anonymised == 1 and report.tracker_store == "not checked"
        recent = session.get(Enquiry, ids["recent"])
        assert recent is not None and recent.text == PURGED


def test_desk_sign_ins_that_cannot_be_used_any_more_are_deleted(engine: Engine) -> None:
    with session_scope(engine) as session:
        decide_all(session)
        old = days_ago(45)
        staff = staff_person_for(session=session, channel="telegram", address="501")
        session.add_all(
            [
                DeskLoginToken(token_hash="a" * 64, person_id=staff.id, expires_at=old),
                DeskLoginToken(token_hash="b" * 64, mailbox="kultur@x.se", expires_at=days_ago(1)),
                DeskSession(session_hash="c" * 64, csrf_token="t", expires_at=old, created_at=old),
                DeskSession(
                    session_hash="d" * 64, csrf_token="t", expires_at=NOW + timedelta(hours=8)
                ),
                DeskLoginThrottle(scope="address", key_hash="e" * 64, window_started_at=old),
                DeskLoginThrottle(
                    scope="user",
                    key_hash="f" * 64,
                    window_started_at=old,
                    locked_until=NOW + timedelta(minutes=5),
                ),
            ]
        )
    with session_scope(engine) as session:
        dry = purge(session=session, retention=Retention(), now=NOW, dry_run=True)
        assert dry.desk_sign_ins_deleted == 3
    with session_scope(engine) as session:
        report = purge(session=session, retention=Retention(), now=NOW)
        assert report.desk_sign_ins_deleted == 3
    with Session(engine) as session:
        assert [t.token_hash[0] for t in session.exec(select(DeskLoginToken))] == ["b"]
        assert [s.session_hash[0] for s in session.exec(select(DeskSession))] == ["d"]
        assert [t.key_hash[0] for t in session.exec(select(DeskLoginThrottle))] == ["f"]
    with session_scope(engine) as session:
        assert purge(session=session, retention=Retention(), now=NOW).desk_sign_ins_deleted == 0


def test_old_counts_of_refused_messages_go_with_the_inbox(engine: Engine) -> None:
    from db.people.limits import count_refusal, refusals_on

    old_day = days_ago(45).date()
    with session_scope(engine) as session:
        count_refusal(session, person="telegram:5", day=old_day)
        count_refusal(session, person="console:0", day=NOW.date())
    with session_scope(engine) as session:  # no decision covers the inbox yet: kept
        assert (
            purge(session=session, retention=Retention(), now=NOW).rate_limit_refusals_deleted == 0
        )
    with session_scope(engine) as session:
        decide_all(session)
    with session_scope(engine) as session:
        dry = purge(session=session, retention=Retention(), now=NOW, dry_run=True)
        assert dry.rate_limit_refusals_deleted == 1
    with session_scope(engine) as session:
        assert refusals_on(session, day=old_day) == [("telegram:5", 1)]  # a dry run keeps it
        report = purge(session=session, retention=Retention(), now=NOW)
        assert report.rate_limit_refusals_deleted == 1
    with Session(engine) as session:
        assert refusals_on(session, day=old_day) == []
        assert refusals_on(session, day=NOW.date()) == [("console:0", 1)]


def test_missing_tracker_store_is_not_created(engine: Engine, tmp_path: Path) -> None:
    tracker_file = tmp_path / "rasa-tracker.db"
    with session_scope(engine) as session:
        decide_all(session)
        report = purge(
            session=session, retention=Retention(), now=NOW, tracker_url=f"sqlite:///{tracker_file}"
        )
    assert report.tracker_store == "no events table yet"
    assert not tracker_file.exists()


def test_audit_rows_deleted_only_through_the_retention_path(engine: Engine) -> None:
    with session_scope(engine) as session:
        record(
            session=session,
            actor="admin",
            entity="route",
            key="x",
            action="update",
            before=None,
            after=None,
            now=days_ago(4000),
        )
    with pytest.raises(AppendOnlyError), session_scope(engine) as session:
        session.exec(delete(AuditEntry))
    with (
        pytest.raises(AppendOnlyError),
        session_scope(engine) as session,
        retention_purge(session, before=days_ago(3650)),
    ):
        session.exec(update(AuditEntry).values(actor="someone else"))  # updates: never
    with pytest.raises(AppendOnlyError), session_scope(engine) as session:
        with retention_purge(session, before=days_ago(3650)):
            pass
        session.exec(delete(AuditEntry))  # the window is closed again
    with session_scope(engine) as session:
        assert len(session.exec(select(AuditEntry)).all()) == 1
        with retention_purge(session, before=days_ago(3650)):
            session.exec(delete(AuditEntry).where(col(AuditEntry.at) < days_ago(3650)))
    with session_scope(engine) as session:
        assert session.exec(select(AuditEntry)).all() == []


def test_run_purge_with_settings_and_cli(tmp_path: Path) -> None:
    import bot.cli

    url = f"sqlite:///{tmp_path / 'lotsen.db'}"
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = migrate_and_seed(url)
    _create_tracker_table(tracker_url)
    _fill(engine, tracker_url)
    settings = _settings_for(url, tmp_path).model_copy(
        update={"tracker_db_url": tracker_url, "retention_inbox_days": 60}
    )
    report = run_purge(settings, now=NOW, dry_run=True)
    assert report.inbox_updates_deleted == 0 and report.enquiries_anonymised == 1
    env = {"DATABASE_URL": url, "TRACKER_DB_URL": tracker_url}
    runner = CliRunner()
    dry = runner.invoke(bot.cli.app, ["purge", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.startswith("Dry run, nothing changed.")
    assert "enquiries anonymised:" in dry.stdout and "tracker events deleted:" in dry.stdout
    with session_scope(engine) as session:
        assert session.exec(select(Enquiry).where(Enquiry.text == PURGED)).all() == []
    result = runner.invoke(bot.cli.app, ["purge"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Purged:") and "tracker store: checked" in result.stdout
    engine.dispose()
