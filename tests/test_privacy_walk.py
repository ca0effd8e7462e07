"""The catalogue drives purge, erasure and export (db/privacy/catalogue.py, stores.py).

A database with at least one row in every table the catalogue describes: every store's purge
rules and erasure rules find rows there, and after a purge (erasure) none of them finds any
left to do, on SQLite and PostgreSQL. A store added to the catalogue (a test-only table) is
purged, erased and exported without a line of the walkers changing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from db.enquiries import crud, lifecycle
from db.models import (
    AnswerRecord,
    AssociationUser,
    DeskLoginThrottle,
    DeskLoginToken,
    DeskSession,
    EnquiryStatus,
    Escalation,
    EscalationReason,
    Feedback,
    InboundMailState,
    InboxUpdate,
    OutboxMessage,
    RateLimitBucket,
    RateLimitRefusal,
    StaffInvite,
    TrainingCandidate,
)
from db.people.identities import Writer, link
from db.people.limits import person_key
from db.plumbing.audit import record
from db.plumbing.migrate import downgrade, upgrade
from db.plumbing.session import make_engine, session_scope
from db.privacy import catalogue
from db.privacy.erasure import erase_person
from db.privacy.personal_data import export_person
from db.privacy.retention import purge
from db.privacy.stores import Cut, Erasure, Found, Store, Subject, deleted, deleting, find
from db.privacy.stores import subject_of as subject_from
from db.records import inbound_mail
from db.webchat import record_inbound, start_chat
from harness.people import staff_member, telegram_person
from tests.test_privacy_catalogue import SHORT
from tests.test_retention import decide_all

THEN = datetime(2000, 3, 2, 9, 0, tzinfo=UTC)  # long past every retention period
LATER = datetime.now(UTC)  # (PostgreSQL refuses an audit cutoff in the future)
USER = 7_000_000_001


class Scrap(SQLModel, table=True):
    """A table that exists only in this test: notes about a person, kept 30 days."""

    __tablename__ = "test_scrap"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int
    note: str
    written_at: datetime


SQLModel.metadata.remove(Scrap.__table__)  # type: ignore[attr-defined]  # not the app's table

SCRAPS = deleted(
    Scrap,
    ("note",),
    Found.PERSON,
    ("retention_inbox_days", "inbox"),
    mine=lambda s: col(Scrap.person_id) == s.person_id,
    count="scraps_deleted",
    purge=(deleting(lambda c: col(Scrap.written_at) < c.at, count="scraps_deleted"),),
    export="scraps",
)


def _one_row_per_store(session: Session) -> AssociationUser:
    """Write a person with a row in every table the catalogue describes; return the person."""
    person = telegram_person(session=session, telegram_user_id=USER, chat_id=USER)
    crud.set_user_association(session=session, user=person, name="Storåsa IF", org_number=None)
    chat, _ = start_chat(session=session, now=THEN)
    record_inbound(session=session, chat=chat, key="k-1", text="Jag heter Anna", language="sv")
    chat.last_seen_at = THEN
    link(session=session, person=person, writer=Writer("web", chat.visitor, chat.key))
    link(session=session, person=person, writer=Writer("email", "anna@example.org"))
    enquiry, _ = lifecycle.received(
        session=session,
        text="Hur söker vi bidrag?",
        language="sv",
        user=person,
        message_key=f"telegram:{USER}:1",
        now=THEN,
    )
    assert enquiry.id is not None and person.id is not None
    enquiry.status, enquiry.closed_at, enquiry.answer_text = EnquiryStatus.CLOSED, THEN, "Så här"
    answer = AnswerRecord(enquiry_id=enquiry.id, number=1, text="Så här", by="x", actor="x")
    session.add(answer)
    session.flush()
    mail, _ = inbound_mail.store(
        session=session,
        key="<a@x>",
        source="imap",
        raw=b"From: anna@example.org\r\n\r\nHej",
        sender="anna@example.org",
        recipient="lotsen@example.org",
        subject="Fråga",
        now=THEN,
    )
    mail.state, mail.handled_at = InboundMailState.DONE, THEN
    staff = staff_member(session, USER, "staff", name="Anna").person_id  # also a colleague
    session.add_all(
        [
            Escalation(enquiry_id=enquiry.id, reason=EscalationReason.UNSURE),
            Feedback(
                enquiry_id=enquiry.id,
                answer_id=answer.id,
                helpful=False,
                channel="telegram",
                comment="Ring Anna",
                comment_at=THEN,
            ),
            TrainingCandidate(text="Hur söker vi bidrag?", intent="x", enquiry_id=enquiry.id),
            InboxUpdate(
                update_id=1,
                payload={"update_id": 1, "message": {"from": {"id": USER}, "text": "Hej"}},
                processed_at=THEN,
                sender=person_key("telegram", USER),
            ),
            OutboxMessage(
                channel="telegram",
                kind="answer",
                recipient="association",
                recipient_id=person.id,
                params={"text": "Så här"},
                sent_at=THEN,
                address=str(USER),
            ),
            DeskLoginToken(token_hash="a" * 64, person_id=staff, expires_at=THEN),
            DeskSession(session_hash="b" * 64, person_id=staff, csrf_token="c", expires_at=THEN),
            DeskLoginThrottle(scope="x", key_hash="d" * 64, window_started_at=THEN),
            RateLimitBucket(person=person_key("telegram", USER), tokens=1, updated=0),
            RateLimitRefusal(person=person_key("telegram", USER), day=THEN.date(), refused=3),
            StaffInvite(code="e" * 16, expires_at=THEN, used_by=staff),
            Scrap(person_id=person.id, note="ringer på tisdagar", written_at=THEN),
        ]
    )
    record(
        session=session, actor="t", entity="x", key="1", action="t", before=None, after={}, now=THEN
    )
    session.flush()
    return person


@pytest.fixture
def with_scraps(engine: Engine) -> Iterator[Engine]:
    """The engine with the test-only table, described in the catalogue while the test runs."""
    Scrap.__table__.create(engine)  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(catalogue, "STORES", (*catalogue.STORES, SCRAPS))
        yield engine
    Scrap.__table__.drop(engine)  # type: ignore[attr-defined]


def _purge_found(session: Session, now: datetime) -> dict[str, int]:
    """Return, per table, the rows its purge rules find (with the settings' periods)."""
    found: dict[str, int] = {}
    for described in catalogue.STORES:
        for rule in described.purge:
            setting, _ = rule.kept or (described.setting, described.kind)
            days = getattr(SHORT, str(setting))
            cut = Cut(at=now - timedelta(days=days), now=now)
            found[described.table] = found.get(described.table, 0) + len(
                find(session, described, rule, cut)
            )
    return found


def _erase_found(session: Session, subject: Subject, *, deleting: bool) -> dict[str, int]:
    """Return, per table, the rows its erasure rules find for the subject (`deleting`: only
    the rules that delete)."""
    found: dict[str, int] = {}
    for described in catalogue.STORES:
        for rule in described.erase:
            if rule.action == Erasure.DELETE or not deleting:
                found[described.table] = found.get(described.table, 0) + len(
                    find(session, described, rule, subject)
                )
    return found


def test_every_store_is_purged_by_its_description(with_scraps: Engine) -> None:
    with session_scope(with_scraps) as session:
        _one_row_per_store(session)
        decide_all(session)
    with session_scope(with_scraps) as session:
        before = _purge_found(session, LATER)
        purging = {s.table for s in catalogue.STORES if s.purge}
        assert purging >= {"enquiry", "inbox_update", "audit_entry", "web_chat", "test_scrap"}
        assert {table for table, n in before.items() if not n} == set()  # each rule has rows
        report = purge(session=session, retention=SHORT, now=LATER)
        assert report.more == {"scraps_deleted": 1}
        assert report.enquiries_anonymised == 1 and report.inbound_mails_redacted == 1
    with session_scope(with_scraps) as session:
        after = _purge_found(session, LATER)
        assert after == dict.fromkeys(before, 0)  # nothing left to do
        assert session.exec(select(Scrap)).all() == []


def test_every_store_is_erased_and_exported_by_its_description(with_scraps: Engine) -> None:
    with session_scope(with_scraps) as session:
        person = _one_row_per_store(session)
        other = telegram_person(session=session, telegram_user_id=USER + 1, chat_id=USER + 1)
        assert other.id is not None
        session.add(Scrap(person_id=other.id, note="någon annan", written_at=THEN))
        person_id = person.id
    with session_scope(with_scraps) as session:
        person = session.get(AssociationUser, person_id)
        assert person is not None
        data = export_person(session=session, person=person, now=LATER)
        exported = {s.export for s in catalogue.STORES if s.export}
        assert {key for key in exported if not data[key]} == set()  # every key has rows
        assert [s["note"] for s in data["scraps"]] == ["ringer på tisdagar"]
        # the nested answer records go out inside their enquiry
        assert [a["text"] for e in data["enquiries"] for a in e["answers"]] == ["Så här"]
        subject = _subject(session, person)
        erasing = {s.table for s in catalogue.STORES if s.erasure != Erasure.KEEP}
        every = _erase_found(session, subject, deleting=False)
        assert {table for table in erasing if not every.get(table)} == set()  # all have rows
        before = _erase_found(session, subject, deleting=True)
        report = erase_person(session=session, person=person, actor="test", now=LATER)
        assert report.counts["scraps_deleted"] == 1
        assert report.counts["enquiries_anonymised"] == 1
        assert report.counts["inbound_mails_redacted"] == 1
    with session_scope(with_scraps) as session:
        after = _erase_found(session, subject, deleting=True)
        assert after == dict.fromkeys(before, 0)
        for described in catalogue.STORES:
            for rule in described.erase:
                if rule.action != Erasure.DELETE:
                    assert _blanked(session, described, rule.values, subject), described.table
        assert [s.note for s in session.exec(select(Scrap))] == ["någon annan"]


def _subject(session: Session, person: AssociationUser) -> Subject:
    from db.people.identities import identities_of

    assert person.id is not None
    return subject_from(session, person, identities_of(session=session, person_id=person.id))


def _blanked(session: Session, described: Store, values: object, subject: Subject) -> bool:
    """Tell whether the subject's rows still found hold the blanked values (nothing left)."""
    rows = session.exec(select(described.model).where(described.mine(subject))).all()  # type: ignore[misc]
    for row in rows:
        wanted = values if isinstance(values, Mapping) else values(row, LATER)  # type: ignore[operator]
        for column, value in wanted.items():
            if isinstance(value, datetime):
                continue
            if getattr(row, column) != value:
                return False
    return True


def test_the_intake_writes_who_sent_an_update_and_erasure_finds_it(engine: Engine) -> None:
    from bot.channels.telegram.inbox import store_updates

    updates = [
        {"update_id": 7, "message": {"message_id": 1, "from": {"id": USER}, "chat": {"id": -5}}},
        {"update_id": 8, "callback_query": {"id": "q", "from": {"id": USER + 1}, "data": "x"}},
        {"update_id": 9, "poll": {"id": "p"}},  # names nobody
    ]
    assert store_updates(engine, updates) == 3
    with session_scope(engine) as session:
        senders = {u.update_id: u.sender for u in session.exec(select(InboxUpdate))}
        assert senders == {7: f"telegram:{USER}", 8: f"telegram:{USER + 1}", 9: None}
        person = telegram_person(session=session, telegram_user_id=USER, chat_id=USER)
        report = erase_person(session=session, person=person, actor="test", now=LATER)
        assert report.counts["inbox_updates_deleted"] == 1
        assert sorted(u.update_id for u in session.exec(select(InboxUpdate))) == [8, 9]


def test_migration_0170_gives_stored_updates_their_sender_both_ways(database_url: str) -> None:
    upgrade(database_url, "0140")
    engine = make_engine(database_url)
    payloads = {
        1: {"update_id": 1, "message": {"from": {"id": USER}, "text": "Hej"}},
        2: {"update_id": 2, "edited_message": {"from": {"id": 42}, "text": "Hej då"}},
        3: {"update_id": 3, "poll": {"id": "p"}},
    }
    with engine.begin() as connection:
        for update_id, payload in payloads.items():
            connection.execute(
                text(
                    "INSERT INTO inbox_update (update_id, payload, chat_id, received_at,"
                    " attempts) VALUES (:id, :payload, 1, '2026-03-16 08:00:00', 0)"
                ),
                {"id": update_id, "payload": json.dumps(payload)},
            )
    upgrade(database_url, "0170")
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT update_id, sender, payload FROM inbox_update ORDER BY update_id")
        ).all()
    assert [(row[0], row[1]) for row in rows] == [
        (1, f"telegram:{USER}"),
        (2, "telegram:42"),
        (3, None),
    ]
    assert all(_json(row[2]) == payloads[row[0]] for row in rows)  # payloads untouched
    downgrade(database_url, "0140")
    assert "sender" not in {c["name"] for c in inspect(engine).get_columns("inbox_update")}
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM inbox_update")).scalar_one()
    assert count == 3
    upgrade(database_url)
    engine.dispose()


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value
