"""The description of personal data (db/privacy/catalogue.py) and the stores it drives: raw
inbound e-mail and web chats purged under a decision, erased with their person, exported."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from bot.settings import Settings
from db.enquiries import lifecycle
from db.models import (
    DisposalDecision,
    DisposalLog,
    Feedback,
    InboundMail,
    InboundMailState,
    WebChat,
    WebChatEntry,
)
from db.people.identities import Writer, identify, link
from db.plumbing.session import session_scope
from db.privacy.catalogue import NO_PERSONAL_DATA, PURGED, STORES, readme_table
from db.privacy.disposal import KINDS
from db.privacy.erasure import erase_person
from db.privacy.personal_data import export_person
from db.privacy.retention import purge
from db.records import inbound_mail
from db.webchat import record_inbound, set_email, start_chat
from tests.test_retention import NOW, Retention, days_ago

README = Path(__file__).resolve().parents[1] / "README.md"


SHORT = Retention(retention_inbound_mail_days=90, retention_web_chat_days=60)
"""The retention periods with raw e-mail and web chats kept 90 and 60 days."""


def test_every_table_is_described_or_listed_as_holding_no_personal_data() -> None:
    """A new table must be described (or declared free of personal data) to pass."""
    tables = set(SQLModel.metadata.tables)
    described = [s.table for s in STORES]
    assert len(described) == len(set(described)), "a table is described twice"
    assert not set(described) & NO_PERSONAL_DATA
    missing = tables - set(described) - NO_PERSONAL_DATA
    assert not missing, f"tables without an entry in db/privacy/catalogue.py: {sorted(missing)}"
    assert not (set(described) | (NO_PERSONAL_DATA - {"alembic_version"})) - tables


def test_the_description_names_real_columns_kinds_and_settings() -> None:
    settings = set(Settings.model_fields)
    for s in STORES:
        model_columns = set(SQLModel.metadata.tables[s.table].columns.keys())
        assert set(s.columns) <= model_columns, s.table
        assert set(s.blanked) <= model_columns, s.table
        assert (s.setting is None) == (s.kind is None), s.table
        if s.kind is not None:
            assert s.kind in KINDS and s.setting in settings, s.table
    # every kind a decision can cover is some store's
    assert {s.kind for s in STORES if s.kind} | {"tracker"} == set(KINDS)


def test_readme_table_is_the_description() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- personal-data-table -->")
    end = text.index("<!-- /personal-data-table -->")
    shown = [line for line in text[start:end].splitlines() if line.startswith("|")]
    assert shown == readme_table()


def _decide(session: Session, kinds: list[str]) -> None:
    session.add(
        DisposalDecision(
            reference="KS 2026/9 § 9",
            decided_on=date(2026, 1, 15),
            covers=dict.fromkeys(kinds, 1),
            recorded_by="test",
        )
    )
    session.flush()


def _mail(session: Session, key: str, *, handled_days_ago: int, state: str, **kw: object) -> int:
    row, _ = inbound_mail.store(
        session=session,
        key=key,
        source="imap",
        raw=f"From: x\r\nSubject: {key}\r\n\r\nHej, jag heter Anna.".encode(),
        sender=str(kw.get("sender", "anna@example.org")),
        recipient="lotsen@example.org",
        subject=f"Fråga {key}",
        now=days_ago(handled_days_ago + 1),
    )
    row.state = state
    row.handled_at = days_ago(handled_days_ago)
    enquiry_id = kw.get("enquiry_id")
    if isinstance(enquiry_id, int):
        row.enquiry_id = enquiry_id
    session.flush()
    assert row.id is not None
    return row.id


def _chat(session: Session, *, last_seen_days_ago: int, text: str) -> WebChat:
    chat, _ = start_chat(session=session, now=days_ago(last_seen_days_ago))
    record_inbound(session=session, chat=chat, key=f"k-{chat.key}", text=text, language="sv")
    set_email(session=session, chat=chat, email="anna@example.org")
    chat.last_seen_at = days_ago(last_seen_days_ago)
    session.flush()
    return chat


def test_purge_disposes_of_old_mail_and_chats_only_under_a_decision(engine: Engine) -> None:
    with session_scope(engine) as session:
        old = _mail(session, "<old@x>", handled_days_ago=100, state=InboundMailState.DONE)
        recent = _mail(session, "<new@x>", handled_days_ago=10, state=InboundMailState.DONE)
        held = _mail(session, "<held@x>", handled_days_ago=100, state=InboundMailState.HELD)
        old_chat = _chat(session, last_seen_days_ago=70, text="Gammal chatt")
        new_chat = _chat(session, last_seen_days_ago=5, text="Ny chatt")
        old_chat_id, new_chat_id = old_chat.id, new_chat.id

    with session_scope(engine) as session:  # no decision: everything kept
        report = purge(session=session, retention=SHORT, now=NOW)
        assert report.inbound_mails_redacted == 0 and report.web_chats_deleted == 0
        assert {"inbound_mail", "web_chats"} <= set(report.refused)
    with session_scope(engine) as session:
        _decide(session, ["inbound_mail", "web_chats"])
        dry = purge(session=session, retention=SHORT, now=NOW, dry_run=True)
        assert (dry.inbound_mails_redacted, dry.web_chats_deleted) == (1, 1)
    with session_scope(engine) as session:
        mail = session.get(InboundMail, old)
        assert mail is not None and mail.raw != b""  # the dry run changed nothing
        report = purge(session=session, retention=SHORT, now=NOW)
        assert (report.inbound_mails_redacted, report.web_chats_deleted) == (1, 1)
        assert report.cutoffs["inbound mail"] == days_ago(90)
        assert report.cutoffs["web chats"] == days_ago(60)
    with session_scope(engine) as session:
        mail = session.get(InboundMail, old)
        assert mail is not None
        assert (mail.raw, mail.sender, mail.subject, mail.size) == (b"", None, PURGED, 0)
        assert mail.key == "<old@x>" and mail.state == InboundMailState.DONE  # never twice
        for kept in (recent, held):
            row = session.get(InboundMail, kept)
            assert row is not None and row.raw and row.sender == "anna@example.org"
        assert session.get(WebChat, old_chat_id) is None
        entries = session.exec(select(WebChatEntry.chat_id)).all()
        assert set(entries) == {new_chat_id}
        logged = {e.kind: e.count for e in session.exec(select(DisposalLog))}
        assert logged == {"inbound_mail": 1, "web_chats": 1}
        again = purge(session=session, retention=SHORT, now=NOW)
        assert (again.inbound_mails_redacted, again.web_chats_deleted) == (0, 0)


def test_erasure_and_export_cover_mail_chats_and_feedback(engine: Engine) -> None:
    with session_scope(engine) as session:
        chat = _chat(session, last_seen_days_ago=1, text="Jag heter Anna")
        other_chat = _chat(session, last_seen_days_ago=1, text="Någon annan")
        person = identify(
            session=session, writer=Writer("web", chat.visitor, chat.key), language="sv"
        )
        link(session=session, person=person, writer=Writer("email", "anna@example.org"))
        enquiry, _ = lifecycle.received(
            session=session, text="Hur söker vi bidrag?", language="sv", user=person, now=NOW
        )
        assert enquiry.id is not None
        session.add(
            Feedback(
                enquiry_id=enquiry.id,
                helpful=False,
                channel="web",
                comment="Ring Anna",
                given_at=NOW,
            )
        )
        mine = _mail(session, "<a@x>", handled_days_ago=1, state=InboundMailState.DONE)
        # sent from another address, but about her enquiry
        about = _mail(
            session,
            "<b@x>",
            handled_days_ago=1,
            state=InboundMailState.DONE,
            sender="annas.kollega@example.org",
            enquiry_id=enquiry.id,
        )
        theirs = _mail(
            session,
            "<c@x>",
            handled_days_ago=1,
            state=InboundMailState.DONE,
            sender="b@example.org",
        )
        person_id, chat_id, other_id = person.id, chat.id, other_chat.id

    with session_scope(engine) as session:
        from db.models import AssociationUser

        person = session.get(AssociationUser, person_id)
        assert person is not None
        data = export_person(session=session, person=person, now=NOW)
        # every store the description says is exported is in the export
        assert {s.export for s in STORES if s.export} <= set(data)
        assert sorted(m["key"] for m in data["inbound_mails"]) == ["<a@x>", "<b@x>"]
        assert all("Hej, jag heter Anna." in m["raw"] for m in data["inbound_mails"])
        assert [c["id"] for c in data["web_chats"]] == [chat_id]
        assert "token_hash" not in data["web_chats"][0]
        assert data["web_chats"][0]["email"] == "anna@example.org"
        assert [e["text"] for e in data["web_chats"][0]["entries"]] == ["Jag heter Anna"]
        assert [f["comment"] for f in data["feedback"]] == ["Ring Anna"]

        report = erase_person(session=session, person=person, actor="staff:1", now=NOW)
        assert report.counts["inbound_mails_redacted"] == 2
        assert report.counts["web_chats_deleted"] == 1

    with session_scope(engine) as session:
        for erased in (mine, about):
            row = session.get(InboundMail, erased)
            assert row is not None and (row.raw, row.sender, row.subject) == (b"", None, PURGED)
        other = session.get(InboundMail, theirs)
        assert other is not None and other.sender == "b@example.org" and other.raw
        assert session.get(WebChat, chat_id) is None
        assert session.get(WebChat, other_id) is not None
        remaining = session.exec(select(WebChatEntry.chat_id)).all()
        assert set(remaining) == {other_id}
        comments = session.exec(select(Feedback.comment).where(col(Feedback.id).is_not(None)))
        assert list(comments) == [PURGED]


def test_readme_table_lists_every_store_once() -> None:
    rows = readme_table()[2:]
    names = [re.match(r"\| `([a-z_]+)`", row) for row in rows]
    assert [m.group(1) for m in names if m] == [s.table for s in STORES]
