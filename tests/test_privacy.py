"""Personal data: masking, 64-bit Telegram ids, export, erasure requests and carried-out erasure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from typer.testing import CliRunner

from bot.cli.privacy import parse_identity, parse_telegram_user_id
from bot.messages.coordinator import reason_text
from db.enquiries import crud, lifecycle
from db.enquiries import notifications as notify
from db.enquiries.lifecycle.base import event as add_event
from db.enquiries.queue import list_queue
from db.enquiries.tracker_events import EVENTS, METADATA, sender_id, tracker_store
from db.models import (
    AssociationUser,
    DeskLoginToken,
    DeskSession,
    Enquiry,
    EnquiryEvent,
    EnquiryStatus,
    Escalation,
    EscalationReason,
    EventKind,
    InboxUpdate,
    OutboxMessage,
    StaffMember,
)
from db.people import departments
from db.people.identities import Writer, identities_of, identity_for, link
from db.people.staff_identities import staff_address, staff_person_for
from db.plumbing.audit import history
from db.plumbing.session import session_scope
from db.privacy.erasure import erase_identity, request_erasure
from db.privacy.masking import mask_personal_data
from db.privacy.personal_data import (
    UnknownUser,
    export_identity,
    find_by_identity,
)
from db.privacy.retention import PURGED
from harness.database import migrate_and_seed
from harness.people import person_of, staff_id, staff_member, telegram_person
from harness.workflow import COORDINATOR_CHAT, outbox

NOW = datetime(2026, 5, 12, 9, 0, tzinfo=UTC)
USER = 7_000_000_000  # above 2^32: Telegram ids need 64 bits
OTHER = 7_000_000_001
GROUP_CHAT = -1001234567890


# --- masking -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "850312-1234",
        "19850312-1234",
        "8503121234",
        "198503121234",
        "850312+1234",
        "19850312 1234",
        "070123-4567",  # born 2007, written as a personnummer
        "850372-1234",  # samordningsnummer (day + 60)
    ],
)
def test_personnummer_is_masked(text: str) -> None:
    masked = mask_personal_data(f"Mitt personnummer är {text}, tack.")
    assert masked == "Mitt personnummer är [personnummer], tack."


@pytest.mark.parametrize(
    "text",
    [
        "070-123 45 67",
        "070 123 45 67",
        "0701234567",
        "073-1234567",
        "0701-23 45 67",
        "08-123 456 78",
        "031-12 34 56",
        "+46 70 123 45 67",
        "+46701234567",
        "+46-70-123 45 67",
        "+46 (0)70-123 45 67",
        "0046 70 123 45 67",
    ],
)
def test_phone_numbers_are_masked(text: str) -> None:
    assert mask_personal_data(f"Ring {text} efter kl 17.") == "Ring [telefon] efter kl 17."


@pytest.mark.parametrize(
    "text", ["anna.berg@example.se", "kassor+fotboll@storasa-if.se", "a_b@sub.kommun.se"]
)
def test_email_addresses_are_masked(text: str) -> None:
    assert mask_personal_data(f"Mejla {text} så svarar vi.") == "Mejla [e-post] så svarar vi."


@pytest.mark.parametrize(
    "text",
    [
        "Vår förening har orgnr 802400-1234.",
        "Organisationsnummer 8024001234",
        "Organisationsnummer 16802400-1234",
        "Vi söker 15 000 kr i bidrag.",
        "Budgeten är 1 500 000 kronor.",
        "Mötet är 2026-05-12 kl 18.30.",
        "Från 2026-05-12 till 2026-06-30, kl. 18:30–20:00.",
        "Vi har 1 200 medlemmar sedan år 1998.",
        "Gäller ärende LOT-2026-00042.",
        "Bankgiro 5050-1055, datum 20260512.",
        "Säsongen 2025-2026 kostar 10 000–20 000 kr.",
    ],
)
def test_organisation_numbers_dates_and_amounts_are_kept(text: str) -> None:
    assert mask_personal_data(text) == text


def test_mixed_message_masks_only_the_personal_data() -> None:
    text = (
        "Hej! Jag är kassör i Storåsa IF (802400-1234), pnr 850312-1234. "
        "Vi söker 15 000 kr till lägret 2026-07-01. Nå mig på 070-123 45 67 eller anna@ex.se."
    )
    assert mask_personal_data(text) == (
        "Hej! Jag är kassör i Storåsa IF (802400-1234), pnr [personnummer]. "
        "Vi söker 15 000 kr till lägret 2026-07-01. Nå mig på [telefon] eller [e-post]."
    )


# --- 64-bit Telegram ids ----------------------------------------------------------------------


def test_telegram_ids_above_32_bits_are_stored_exactly(engine: Engine) -> None:
    with session_scope(engine) as session:
        user = telegram_person(session=session, telegram_user_id=USER, chat_id=GROUP_CHAT)
        staff_member(session, USER, "coordinator")
        enquiry, _ = lifecycle.received(
            session=session, text="Fråga", language="sv", user=user, now=NOW
        )
        session.add(InboxUpdate(update_id=9_000_000_000, payload={"update_id": 9_000_000_000}))
        sent = notify.to_association(
            session=session, user=user, kind=notify.Kind.HELP, language="sv", enquiry=enquiry
        )
        assert sent is not None
        sent.address = str(GROUP_CHAT)
        notify.to_staff(
            session=session, person_id=staff_id(session, USER), kind=notify.Kind.ROUTE_REVIEW
        )
        enquiry_id = enquiry.id
    with session_scope(engine) as session:
        found = person_of(session, USER)
        assert found is not None and found.id is not None
        identity = identity_for(session=session, person_id=found.id, channel="telegram")
        assert identity is not None
        assert (int(identity.address), int(identity.conversation or 0)) == (USER, GROUP_CHAT)
        staff = staff_id(session, USER)
        member = session.exec(select(StaffMember).where(StaffMember.person_id == staff)).one()
        assert staff_address(session=session, person_id=member.person_id, channel="telegram") == (
            str(USER)
        )
        stored = session.get(Enquiry, enquiry_id)
        assert stored is not None and stored.chat_id == GROUP_CHAT
        assert session.get(InboxUpdate, 9_000_000_000) is not None
        to_user, to_staff = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        assert int(to_user.address or 0) == GROUP_CHAT
        assert to_staff.recipient_id == staff


# --- a user with data of every kind ---------------------------------------------------------


def _tracker(url: str) -> None:
    engine = create_engine(url)
    METADATA.create_all(engine)
    engine.dispose()
    with tracker_store(url) as connection:
        assert connection is not None
        for sender, text in [
            (sender_id("telegram", str(USER), str(USER)), "Hur söker vi bidrag?"),
            (sender_id("telegram", str(GROUP_CHAT), str(USER)), "Fråga i gruppen"),
            (sender_id("telegram", str(OTHER), str(OTHER)), "Någon annans fråga"),
            (sender_id("telegram", str(USER), str(17_000_000_000)), "Fel användare, samma början"),
        ]:
            connection.execute(
                insert(EVENTS).values(
                    sender_id=sender,
                    type_name="user",
                    timestamp=NOW.timestamp(),
                    data=json.dumps({"event": "user", "text": text}),
                )
            )


def _tracker_senders(url: str) -> list[str]:
    with tracker_store(url) as connection:
        assert connection is not None
        return sorted(connection.execute(sa_select(EVENTS.c.sender_id)).scalars())


def _user_with_data(engine: Engine) -> dict[str, int]:
    """Write a user with an association, two enquiries, updates, messages; return ids."""
    with session_scope(engine) as session:
        user = telegram_person(session=session, telegram_user_id=USER, chat_id=USER)
        crud.set_user_association(
            session=session, user=user, name="Storåsa IF", org_number="802400-1234"
        )
        closed, _ = lifecycle.received(
            session=session,
            text="Hur söker vi bidrag? Ring [telefon].",
            language="sv",
            user=user,
            message_key=f"tg:{USER}:11",
            now=NOW,
        )
        closed.answer_text = "Via e-tjänsten."
        closed.status = EnquiryStatus.CLOSED
        closed.closed_at = NOW
        add_event(
            session=session,
            enquiry=closed,
            kind=EventKind.ANSWERED,
            actor="staff:1",
            now=NOW,
            text="Via e-tjänsten.",
        )
        answer = notify.to_association(
            session=session,
            user=user,
            kind=notify.Kind.ANSWER,
            language="sv",
            enquiry=closed,
            department="kultur_fritid",
        )
        assert answer is not None
        answer.sent_at, answer.address = NOW, str(USER)
        notify.to_association(session=session, user=user, kind=notify.Kind.HELP, language="sv")
        department = departments.department_by_key(session=session, key="kultur_fritid")
        assert department is not None
        session.add(
            OutboxMessage(
                channel="telegram",
                kind=notify.Kind.FORWARD,
                recipient=notify.Recipient.DEPARTMENT,
                recipient_id=department.id,
                params={"deadline": NOW.isoformat()},
                enquiry_id=closed.id,
                sent_at=NOW,
                address="-100200",
            )
        )
        other_staff = staff_person_for(session=session, channel="telegram", address=str(OTHER))
        assert other_staff.id is not None
        notify.to_staff(
            session=session,
            person_id=other_staff.id,
            kind=notify.Kind.ROUTE_REVIEW,
            intents=["topic_bidrag"],
        )
        session.add_all(
            [
                InboxUpdate(
                    update_id=1001,
                    payload={
                        "update_id": 1001,
                        "message": {
                            "message_id": 11,
                            "from": {"id": USER, "first_name": "Anna"},
                            "chat": {"id": USER, "type": "private"},
                            "text": "Hur söker vi bidrag?",
                        },
                    },
                    processed_at=NOW,
                    sender=f"telegram:{USER}",  # as the intake writes it
                ),
                InboxUpdate(
                    update_id=1002,
                    payload={
                        "update_id": 1002,
                        "callback_query": {"id": "x", "from": {"id": USER}, "data": "fb:1:y"},
                    },
                    sender=f"telegram:{USER}",
                ),
                InboxUpdate(
                    update_id=1003,
                    payload={"update_id": 1003, "message": {"from": {"id": OTHER}, "text": "Hej"}},
                    sender=f"telegram:{OTHER}",
                ),
            ]
        )
        other = telegram_person(session=session, telegram_user_id=OTHER, chat_id=OTHER)
        other_enquiry, _ = lifecycle.received(
            session=session, text="Annan förenings fråga", language="sv", user=other, now=NOW
        )
        session.flush()
        assert user.id is not None and closed.id is not None and other_enquiry.id is not None
        return {"user": user.id, "closed": closed.id, "other": other_enquiry.id}


def test_export_user_holds_everything_about_the_user(engine: Engine, database_url: str) -> None:
    _tracker(database_url)
    ids = _user_with_data(engine)
    with session_scope(engine) as session:
        staff_member(session, USER, "staff")
        request_erasure(
            session=session, channel="telegram", address=str(USER), actor="cli:test", now=NOW
        )
    with session_scope(engine) as session:
        data = export_identity(
            session=session,
            channel="telegram",
            address=str(USER),
            tracker_url=database_url,
            now=NOW,
        )
    json.dumps(data)  # JSON-ready
    assert data["exported_at"] == NOW.isoformat()
    assert data["telegram_user_id"] == USER
    assert [(i["channel"], i["address"]) for i in data["channel_identities"]] == [
        ("telegram", str(USER))
    ]
    assert data["association"]["name"] == "Storåsa IF"
    first = data["enquiries"][0]
    assert first["id"] == ids["closed"]
    assert first["text"] == "Hur söker vi bidrag? Ring [telefon]."
    assert [ev["kind"] for ev in first["events"]] == ["received", "answered"]
    assert data["enquiries"][1]["escalations"][0]["reason"] == "erasure"
    assert [r["role"] for r in data["staff_roles"]] == ["staff"]
    assert [u["update_id"] for u in data["inbox_updates"]] == [1001, 1002]
    assert sorted(m["kind"] for m in data["outbox_messages"]) == ["answer", "help"]
    assert sorted(e["sender_id"] for e in data["tracker_events"]) == [
        sender_id("telegram", str(GROUP_CHAT), str(USER)),
        sender_id("telegram", str(USER), str(USER)),
    ]
    assert all(ids["other"] != e["id"] for e in data["enquiries"])

    with session_scope(engine) as session, pytest.raises(UnknownUser):
        export_identity(session=session, channel="telegram", address=str(123456789))


def test_erasure_request_lands_in_the_coordinators_queue(engine: Engine) -> None:
    _user_with_data(engine)
    with session_scope(engine) as session:
        request = request_erasure(
            session=session,
            channel="telegram",
            address=str(USER),
            actor="cli:registrator",
            note="Begärd per e-post, svara till anna@example.se",
            now=NOW,
        )
        assert request.created
        again = request_erasure(
            session=session, channel="telegram", address=str(USER), actor="x", now=NOW
        )
        assert not again.created and again.escalation.id == request.escalation.id
    with session_scope(engine) as session:
        items = list_queue(session=session, now=NOW + timedelta(hours=2))
        [item] = [i for i in items if i.escalation.reason == EscalationReason.ERASURE]
        assert item.association == "Storåsa IF"
        assert item.enquiry.text == (
            "Begäran om radering av personuppgifter\nBegärd per e-post, svara till [e-post]"
        )
        assert reason_text(item, "sv") == "begäran om radering av personuppgifter"
        assert reason_text(item, "en") == "request to erase personal data"
        [card] = [m for m in outbox(session) if m.chat_id == COORDINATOR_CHAT]
        assert item.enquiry.reference is not None
        assert card.kind == "card" and item.enquiry.reference in card.text
        # Nothing was erased by the request.
        assert session.exec(select(InboxUpdate)).all() != []
    with session_scope(engine) as session, pytest.raises(UnknownUser):
        request_erasure(session=session, channel="telegram", address=str(424242), actor="x")


def test_erase_user_anonymises_and_deletes_but_keeps_public_records(
    engine: Engine, database_url: str
) -> None:
    _tracker(database_url)
    ids = _user_with_data(engine)
    with session_scope(engine) as session:
        request = request_erasure(
            session=session, channel="telegram", address=str(USER), actor="cli", now=NOW
        )
        request_id = request.enquiry.id
    later = NOW + timedelta(days=3)
    with session_scope(engine) as session:
        report = erase_identity(
            session=session,
            channel="telegram",
            address=str(USER),
            actor="staff:42",
            tracker_url=database_url,
            now=later,
        )
    assert report.pseudonym == -ids["user"]
    assert report.counts == {
        "enquiries_anonymised": 1,
        "erasure_requests_closed": 1,
        "training_candidates_redacted": 0,
        "inbox_updates_deleted": 2,
        "outbox_messages_deleted": 1,
        "outbox_messages_redacted": 2,
        "tracker_events_deleted": 2,
        "desk_sign_ins_deleted": 0,
        "inbound_mails_redacted": 0,  # none made here (tests/test_privacy_catalogue.py)
        "web_chats_deleted": 0,  # none made here (tests/test_privacy_catalogue.py)
    }
    assert report.tracker_store == "checked"
    with session_scope(engine) as session:
        user = session.get(AssociationUser, ids["user"])
        assert user is not None
        assert user.erased_at == later
        # no identity names the person any more: not the Telegram user, not the chat
        assert identities_of(session=session, person_id=ids["user"]) == []
        assert person_of(session, USER) is None
        assert user.association_id is not None  # statistics per association stay
        closed = session.get(Enquiry, ids["closed"])
        assert closed is not None
        assert (closed.text, closed.answer_text, closed.chat_id, closed.message_key) == (
            PURGED,
            PURGED,
            None,
            None,
        )
        assert closed.reference is not None and closed.status == EnquiryStatus.CLOSED
        answered = session.exec(
            select(EnquiryEvent).where(
                EnquiryEvent.enquiry_id == closed.id, EnquiryEvent.kind == "answered"
            )
        ).one()
        assert answered.detail["text"] == PURGED
        erasure = session.get(Enquiry, request_id)
        assert erasure is not None and erasure.status == EnquiryStatus.CLOSED
        assert erasure.text == "Begäran om radering av personuppgifter"
        escalation = session.exec(
            select(Escalation).where(Escalation.enquiry_id == request_id)
        ).one()
        assert (escalation.resolved_at, escalation.resolution) == (later, "erased")
        assert [u.update_id for u in session.exec(select(InboxUpdate))] == [1003]
        messages = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        assert [(m.recipient, m.recipient_id, m.address, m.params) for m in messages] == [
            ("association", ids["user"], None, {}),
            ("department", messages[1].recipient_id, "-100200", {}),
            ("staff", staff_id(session, OTHER), None, {"intents": ["topic_bidrag"]}),
            ("coordinators", None, None, {}),  # the erasure request's card: about no one's text
        ]
        other = session.get(Enquiry, ids["other"])
        assert other is not None and other.text == "Annan förenings fråga"
        [entry] = history(session=session, entity="association_user")
        assert (entry.actor, entry.action, entry.entity_key) == (
            "staff:42",
            "erase",
            f"user#{ids['user']}",
        )
        assert str(USER) not in json.dumps(entry.after)
        with pytest.raises(UnknownUser):
            export_identity(session=session, channel="telegram", address=str(USER))
    assert _tracker_senders(database_url) == sorted(
        [
            sender_id("telegram", str(OTHER), str(OTHER)),
            sender_id("telegram", str(USER), str(17_000_000_000)),
        ]
    )
    # Writing again later makes a new, separate user (the pseudonym keeps the unique id free).
    with session_scope(engine) as session:
        again = telegram_person(session=session, telegram_user_id=USER, chat_id=USER)
        assert again.id != ids["user"]


def test_parse_telegram_user_id() -> None:
    assert parse_telegram_user_id(" 7000000000 ") == USER
    for bad in ["anna", "-5", "1.5", "", str(2**63)]:
        with pytest.raises(ValueError):
            parse_telegram_user_id(bad)


def test_parse_identity() -> None:
    assert parse_identity("7000000000") == ("telegram", str(USER))  # a bare number: Telegram
    assert parse_identity(" telegram:7000000000 ") == ("telegram", str(USER))
    assert parse_identity("email:Kassor@Forening.se") == ("email", "kassor@forening.se")
    assert parse_identity("web:v65fefc6e") == ("web", "v65fefc6e")
    assert parse_identity("Console:1") == ("console", "1")
    for bad in ["anna", "telegram:anna", "fax:123", "email:", "errand:1", ":5"]:
        with pytest.raises(ValueError):
            parse_identity(bad)


def test_cli_takes_any_identity_of_the_person(tmp_path: Path) -> None:
    import bot.cli

    url = f"sqlite:///{tmp_path / 'lotsen.db'}"
    engine = migrate_and_seed(url)
    ids = _user_with_data(engine)
    with session_scope(engine) as session:
        person = session.get(AssociationUser, ids["user"])
        assert person is not None
        link(session=session, person=person, writer=Writer("email", "kassor@storasa.se"))
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(bot.cli.app, list(args), env={"DATABASE_URL": url})

    by_mail = run("export-user", "email:Kassor@Storasa.se")
    assert by_mail.exit_code == 0, by_mail.output
    data = json.loads(by_mail.stdout)
    assert data["association_user"]["id"] == ids["user"]
    assert data["telegram_user_id"] == USER  # the same person, all identities
    assert data == json.loads(run("export-user", f"telegram:{USER}").stdout) | {
        "exported_at": data["exported_at"]
    }
    fax = run("erase-user", "fax:123", "--confirm")
    assert fax.exit_code == 1 and "Unknown channel 'fax'" in fax.stderr
    nobody = run("erase-user", "email:nobody@example.org", "--confirm")
    assert nobody.exit_code == 1 and "email:nobody@example.org" in nobody.stderr
    result = run("erase-user", "email:kassor@storasa.se", "--confirm")
    assert result.exit_code == 0, result.output
    assert "enquiries anonymised: 1" in result.stdout
    with session_scope(engine) as session:
        for channel, address in (("email", "kassor@storasa.se"), ("telegram", str(USER))):
            assert find_by_identity(session=session, channel=channel, address=address) is None
    engine.dispose()


def test_cli_export_request_and_erase(tmp_path: Path) -> None:
    import bot.cli

    url = f"sqlite:///{tmp_path / 'lotsen.db'}"
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = migrate_and_seed(url)
    _tracker(tracker_url)
    _user_with_data(engine)
    env = {"DATABASE_URL": url, "TRACKER_DB_URL": tracker_url}
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(bot.cli.app, list(args), env=env)

    bad = run("export-user", "anna")
    assert bad.exit_code == 1 and "not a Telegram user id" in bad.stderr
    unknown = run("export-user", "123")
    assert unknown.exit_code == 1 and "No data is held about Telegram user 123" in unknown.stderr
    out = tmp_path / "export.json"
    result = run("export-user", str(USER), "--out", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["association"]["name"] == "Storåsa IF" and len(data["tracker_events"]) == 2
    printed = run("export-user", str(USER))
    assert json.loads(printed.stdout)["telegram_user_id"] == USER

    assert run("erasure-request", "999").exit_code == 1
    result = run("erasure-request", str(USER), "--note", "Begärd i telefon")
    assert result.exit_code == 0, result.output
    assert "is in the coordinator's queue" in result.stdout
    queue = run("queue", "list")
    assert queue.exit_code == 0, queue.output
    assert "request to erase personal data" in queue.stdout

    refused = run("erase-user", str(USER))
    assert refused.exit_code == 2 and "--confirm" in refused.stderr
    with session_scope(engine) as session:
        assert (
            find_by_identity(session=session, channel="telegram", address=str(USER)) is not None
        )  # nothing changed
    result = run("erase-user", str(USER), "--confirm", "--actor", "samordnaren")
    assert result.exit_code == 0, result.output
    assert "enquiries anonymised: 1" in result.stdout
    assert "tracker events deleted: 2" in result.stdout
    assert run("erase-user", str(USER), "--confirm").exit_code == 1
    queue = run("queue", "list")
    assert "request to erase personal data" not in queue.stdout
    engine.dispose()


def _desk_sign_ins(engine: Engine, telegram_user_id: int) -> None:
    """Give a Telegram user (a staff person) a used sign-in link and an open desk session."""
    with session_scope(engine) as session:
        staff = staff_person_for(session=session, channel="telegram", address=str(telegram_user_id))
        session.add(
            DeskLoginToken(
                token_hash=f"{telegram_user_id:064d}",
                person_id=staff.id,
                created_at=NOW,
                expires_at=NOW + timedelta(minutes=10),
                used_at=NOW + timedelta(minutes=1),
            )
        )
        session.add(
            DeskSession(
                session_hash=f"{telegram_user_id + 1:064d}",
                person_id=staff.id,
                csrf_token="c" * 43,
                created_at=NOW,
                expires_at=NOW + timedelta(hours=12),
            )
        )


def test_desk_sign_ins_are_exported_without_their_secrets_and_erased(engine: Engine) -> None:
    ids = _user_with_data(engine)
    _desk_sign_ins(engine, USER)
    _desk_sign_ins(engine, OTHER)
    with session_scope(engine) as session:
        data = export_identity(session=session, channel="telegram", address=str(USER), now=NOW)
    signs = data["desk_sign_ins"]
    with session_scope(engine) as session:
        user_staff, other_staff = staff_id(session, USER), staff_id(session, OTHER)
    assert [(s["kind"], s["person_id"]) for s in signs] == [
        ("link", user_staff),
        ("session", user_staff),
    ]
    assert signs[0]["used_at"] == (NOW + timedelta(minutes=1)).isoformat()
    assert signs[1]["last_seen_at"] and signs[1]["ended_at"] is None
    exported = json.dumps(data)
    assert "token_hash" not in exported and "session_hash" not in exported
    assert "csrf_token" not in exported and "c" * 43 not in exported

    with session_scope(engine) as session:
        report = erase_identity(
            session=session, channel="telegram", address=str(USER), actor="cli", now=NOW
        )
    assert report.counts["desk_sign_ins_deleted"] == 2
    with session_scope(engine) as session:
        left = [row.person_id for row in session.exec(select(DeskLoginToken))]
        left += [row.person_id for row in session.exec(select(DeskSession))]
        assert left == [other_staff, other_staff]
        assert session.get(AssociationUser, ids["user"]) is not None


def test_a_staff_member_with_only_desk_sign_ins_can_export_them(engine: Engine) -> None:
    _desk_sign_ins(engine, OTHER)
    with session_scope(engine) as session:
        data = export_identity(session=session, channel="telegram", address=str(OTHER), now=NOW)
    assert data["association_user"] is None
    assert len(data["desk_sign_ins"]) == 2


def test_events_under_the_sender_the_bot_uses_are_exported_and_erased(
    engine: Engine, database_url: str
) -> None:
    """The bot talks to Rasa as `telegram:<chat>:<user>`; the first build wrote `tg:…`."""
    _user_with_data(engine)
    store = create_engine(database_url)
    METADATA.create_all(store)
    store.dispose()
    with tracker_store(database_url) as connection:
        assert connection is not None
        for sender in (f"telegram:{USER}:{USER}", f"tg:{USER}:{USER}", f"telegram:{OTHER}:{OTHER}"):
            connection.execute(
                insert(EVENTS).values(
                    sender_id=sender, type_name="user", timestamp=NOW.timestamp(), data="{}"
                )
            )
    with session_scope(engine) as session:
        data = export_identity(
            session=session, channel="telegram", address=str(USER), tracker_url=database_url
        )
    assert sorted(e["sender_id"] for e in data["tracker_events"]) == [
        f"telegram:{USER}:{USER}",
        f"tg:{USER}:{USER}",
    ]
    with session_scope(engine) as session:
        report = erase_identity(
            session=session,
            channel="telegram",
            address=str(USER),
            actor="cli",
            tracker_url=database_url,
        )
    assert report.counts["tracker_events_deleted"] == 2
    assert _tracker_senders(database_url) == [f"telegram:{OTHER}:{OTHER}"]
