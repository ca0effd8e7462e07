"""People and their channel identities (db/people/identities.py), message keys, migration 0080."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, insert, inspect, text
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.channels.telegram.outbox import resolve_chat
from bot.settings import Settings
from db import intake
from db.enquiries import notifications as notify
from db.enquiries.notifications import Channel, Kind, Recipient
from db.models import AssociationUser, ChannelIdentity, Enquiry, EscalationReason, OutboxMessage
from db.people.identities import find_person, identify, identity_for, link
from db.plumbing.keys import older_keys
from db.plumbing.migrate import downgrade, upgrade
from db.plumbing.session import make_engine, session_scope

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
TELEGRAM = intake.Writer("telegram", "7000000000", "7000000000")
LANGUAGES = intake.Languages(reply="sv", preferred="sv")
ESCALATE = intake.Decision.escalated(EscalationReason.UNAVAILABLE)


# --- message keys ------------------------------------------------------------------------------


def test_message_keys_are_channel_neutral_and_hashed_when_long() -> None:
    assert intake.message_key("telegram", "-100200", "17") == "telegram:-100200:17"
    assert intake.message_key("web", "c1", "m1") == "web:c1:m1"
    long = intake.message_key("email", "<" + "x" * 80 + "@example.se>", "<m@example.se>")
    assert long.startswith("email:h:") and len(long) == len("email:h:") + 40
    again = intake.message_key("email", "<" + "x" * 80 + "@example.se>", "<m@example.se>")
    other = intake.message_key("email", "<" + "y" * 80 + "@example.se>", "<m@example.se>")
    assert long == again and long != other
    assert older_keys("telegram:5:6:answer") == ["telegram:5:6:answer", "tg:5:6:answer"]
    assert older_keys("web:c:m") == ["web:c:m"]


def test_a_message_recorded_under_its_old_key_is_not_recorded_again(engine: Engine) -> None:
    old = intake.Message(key="tg:7000000000:5", writer=TELEGRAM, text="Hej?", languages=LANGUAGES)
    new = intake.Message(
        key="telegram:7000000000:5", writer=TELEGRAM, text="Hej?", languages=LANGUAGES
    )
    with session_scope(engine) as session:
        first = intake.receive(session=session, message=old, decision=ESCALATE, email_enabled=False)
        assert first.created
    with session_scope(engine) as session:
        again = intake.receive(session=session, message=new, decision=ESCALATE, email_enabled=False)
        assert not again.created and again.enquiry.id == first.enquiry.id
        person = find_person(session=session, channel="telegram", address="7000000000")
        assert person is not None
        # A reply keyed by the old form of the key is not queued again under the new one.
        assert (
            notify.to_association(
                session=session,
                user=person,
                kind=Kind.HELP,
                language="sv",
                dedupe_key="telegram:7000000000:5:answer",
            )
            is None
        )
    with Session(engine) as session:
        assert len(session.exec(select(Enquiry)).all()) == 1
        answers = session.exec(
            select(OutboxMessage).where(OutboxMessage.recipient == Recipient.ASSOCIATION)
        ).all()
        assert [row.dedupe_key for row in answers] == ["tg:7000000000:5:answer"]


# --- identify, identity_for --------------------------------------------------------------------


def test_identify_creates_the_person_once_and_follows_their_channel(engine: Engine) -> None:
    with session_scope(engine) as session:
        person = identify(session=session, writer=TELEGRAM, language="en")
        again = identify(
            session=session,
            writer=intake.Writer("telegram", "7000000000", "-100300"),
            language="sv",
        )
        assert again.id == person.id and person.language == "en"  # the first contact's language
        assert person.id is not None
        identity = identity_for(session=session, person_id=person.id, channel="telegram")
        assert identity is not None and identity.conversation == "-100300"
        assert identity_for(session=session, person_id=person.id, channel="email") is None
        mail = intake.Writer("email", "kassor@storasa.se", "<root@storasa.se>")
        link(session=session, person=person, writer=mail)
        assert identify(session=session, writer=mail, language="sv").id == person.id
        assert person.channel == "email"  # answers go where the person last wrote from
        identify(session=session, writer=TELEGRAM, language="sv")
        assert person.channel == "telegram"
        stranger = identify(
            session=session, writer=intake.Writer("telegram", "5", "5"), language="sv"
        )
        assert stranger.id != person.id
        try:
            link(session=session, person=stranger, writer=mail)
        except ValueError:
            pass
        else:
            raise AssertionError("an identity of one person was given to another")
        count = session.exec(select(ChannelIdentity)).all()
        assert sorted((i.channel, i.address) for i in count) == [
            ("email", "kassor@storasa.se"),
            ("telegram", "5"),
            ("telegram", "7000000000"),
        ]


def test_the_telegram_dispatcher_resolves_a_person_through_their_identity(engine: Engine) -> None:
    with session_scope(engine) as session:
        person = identify(
            session=session,
            writer=intake.Writer("telegram", "7000000000", "7000000000"),
            language="sv",
        )
        row = notify.to_association(session=session, user=person, kind=Kind.HELP, language="sv")
        assert row is not None and row.channel == Channel.TELEGRAM
        assert resolve_chat(session, row, None) == 7000000000
        mail_only = identify(
            session=session, writer=intake.Writer("email", "a@b.se", "<r@b.se>"), language="sv"
        )
        assert person.id is not None and mail_only.id is not None
        stray = OutboxMessage(
            kind=Kind.HELP,
            channel=Channel.TELEGRAM,
            recipient=Recipient.ASSOCIATION,
            recipient_id=mail_only.id,
        )
        assert resolve_chat(session, stray, None) is None  # no Telegram identity: nowhere


# --- a web writer gets the same dialogue ---------------------------------------------------------


async def test_a_web_writer_gets_the_conversation_on_the_web_channel(
    engine: Engine, tmp_path: Any
) -> None:
    from bot.conversation import Conversation
    from bot.services import create_services
    from harness.ports import free_port

    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(
        database_url=url,
        rasa_url=f"http://127.0.0.1:{free_port()}",  # nobody listens: Rasa is down
        _env_file=None,  # type: ignore[call-arg]
    )
    services = create_services(settings)
    writer = intake.Writer("web", "visitor-1", "conv-1")
    conversation = Conversation(services, Channel.WEB)
    try:
        await conversation.start(writer=writer, key="web:conv-1:1")
        await conversation.handle_text(
            writer=writer, text="Storåsa IF, 802400-1234", message_key="web:conv-1:2"
        )
        await conversation.handle_text(
            writer=writer, text="Hur söker vi bidrag för lägret?", message_key="web:conv-1:3"
        )
        await conversation.handle_text(  # the same message again: answered once
            writer=writer, text="Hur söker vi bidrag för lägret?", message_key="web:conv-1:3"
        )
    finally:
        await services.aclose()
    with Session(engine) as session:
        person = find_person(session=session, channel="web", address="visitor-1")
        assert person is not None and person.association_id is not None
        rows = session.exec(
            select(OutboxMessage)
            .where(
                OutboxMessage.recipient == Recipient.ASSOCIATION,
                OutboxMessage.recipient_id == person.id,
            )
            .order_by(col(OutboxMessage.id))
        ).all()
        assert {row.channel for row in rows} == {"web"}
        assert [row.kind for row in rows] == ["welcome", "association_saved", "escalated"]
        [enquiry] = session.exec(select(Enquiry).where(Enquiry.user_id == person.id)).all()
        assert enquiry.status == "escalated" and enquiry.message_key == "web:conv-1:3"


# --- migration 0080 -----------------------------------------------------------------------------


def _old_rows(engine: Engine) -> None:
    """Write association users as revision 0060 held them: Telegram, console, erased."""
    with engine.begin() as connection:
        for row_id, user_id, chat_id, channel in [
            (1, 7_000_000_000, -100_200_300_400, "telegram"),
            (2, 0, 0, "console"),
            (3, -3, None, "telegram"),  # erased: the pseudonym minus the row id
            (4, 42, None, "telegram"),
        ]:
            connection.execute(
                text(
                    "INSERT INTO association_user (id, telegram_user_id, chat_id, channel,"
                    " language, created_at, last_seen_at) VALUES (:id, :user, :chat, :channel,"
                    " 'sv', :now, :now)"
                ),
                {"id": row_id, "user": user_id, "chat": chat_id, "channel": channel, "now": NOW},
            )
        connection.execute(
            text(
                "INSERT INTO enquiry (id, user_id, chat_id, text, language, guesses, status,"
                " created_at, updated_at) VALUES (1, 1, -100200300400, 'Fråga', 'sv', '[]',"
                " 'received', :now, :now)"
            ),
            {"now": NOW},
        )


def test_migration_0080_carries_every_user_into_channel_identities_and_back(
    database_url: str,
) -> None:
    upgrade(database_url, "0060")
    engine = make_engine(database_url)
    try:
        _old_rows(engine)
        upgrade(database_url, "0080")
        columns = {c["name"] for c in inspect(engine).get_columns("association_user")}
        assert {"telegram_user_id", "chat_id"}.isdisjoint(columns) and "erased_at" in columns
        with Session(engine) as session:
            identities = session.exec(
                select(ChannelIdentity).order_by(col(ChannelIdentity.person_id))
            ).all()
            assert [(i.person_id, i.channel, i.address, i.conversation) for i in identities] == [
                (1, "telegram", "7000000000", "-100200300400"),
                (2, "console", "0", "0"),
                (4, "telegram", "42", None),
            ]
            erased = session.get(AssociationUser, 3)
            assert erased is not None and erased.erased_at is not None
            kept = session.get(AssociationUser, 1)
            assert kept is not None and kept.erased_at is None
            assert find_person(session=session, channel="telegram", address="7000000000") == kept
        with session_scope(engine) as session:  # the new model works on the carried rows
            person = identify(
                session=session,
                writer=intake.Writer("telegram", "7000000000", "-100200300400"),
                language="en",
            )
            assert person.id == 1
            row = notify.to_association(session=session, user=person, kind=Kind.HELP, language="sv")
            assert row is not None and resolve_chat(session, row, None) == -100_200_300_400
            session.delete(row)
        downgrade(database_url, "0060")
        assert "channel_identity" not in inspect(engine).get_table_names()
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT id, telegram_user_id, chat_id, channel FROM association_user"
                    " ORDER BY id"
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            (1, 7_000_000_000, -100_200_300_400, "telegram"),
            (2, 0, 0, "console"),
            (3, -3, None, "telegram"),
            (4, 42, None, "telegram"),
        ]
        upgrade(database_url)
        with Session(engine) as session:
            assert len(session.exec(select(ChannelIdentity)).all()) == 3
            enquiry = session.get(Enquiry, 1)
            assert enquiry is not None and enquiry.user_id == 1
    finally:
        engine.dispose()


# --- one person, two identities -----------------------------------------------------------------

MAIL = intake.Writer("email", "kassor@storasa.se", "<root-1@storasa.se>")


def _ask(engine: Engine, writer: intake.Writer, key: str, text_: str, reply: str) -> int:
    message = intake.Message(
        key=key,
        writer=writer,
        text=text_,
        languages=intake.Languages(reply=reply, preferred=reply),
    )
    with session_scope(engine) as session:
        received = intake.receive(
            session=session, message=message, decision=ESCALATE, email_enabled=False
        )
        assert received.created and received.enquiry.id is not None
        return received.enquiry.id


def _tracker_events(url: str, senders: list[str]) -> None:
    from db.enquiries.tracker_events import EVENTS, METADATA, tracker_store

    tracker_engine = create_engine(url)
    METADATA.create_all(tracker_engine)
    tracker_engine.dispose()
    with tracker_store(url) as connection:
        assert connection is not None
        for sender in senders:
            connection.execute(
                insert(EVENTS).values(
                    sender_id=sender, type_name="user", timestamp=NOW.timestamp(), data="{}"
                )
            )


def _tracker_senders(url: str) -> list[str]:
    from db.enquiries.tracker_events import EVENTS, tracker_store

    with tracker_store(url) as connection:
        assert connection is not None
        return sorted(connection.execute(sa_select(EVENTS.c.sender_id)).scalars())


def test_one_person_with_two_identities_has_one_history_export_and_erasure(
    engine: Engine, database_url: str
) -> None:
    from db.enquiries.queue_facts import rarely_in_contact
    from db.privacy.erasure import erase_person
    from db.privacy.personal_data import export_person

    _tracker_events(
        database_url,
        [
            "telegram:7000000000:7000000000",
            "tg:7000000000:7000000000",  # the first build's sender id
            "email:<root-1@storasa.se>:kassor@storasa.se",
            "telegram:5:5",  # someone else
        ],
    )
    with session_scope(engine) as session:
        person = identify(session=session, writer=TELEGRAM, language="en")
        link(session=session, person=person, writer=MAIL)
        person_id = person.id
    first = _ask(engine, TELEGRAM, "telegram:7000000000:1", "Hur söker vi bidrag?", "sv")
    second = _ask(engine, MAIL, "email:<root-1@storasa.se>:<m2@storasa.se>", "Och lokaler?", "sv")
    with Session(engine) as session:
        # One history: both enquiries are the person's, whichever identity wrote them.
        mine = session.exec(select(Enquiry).where(Enquiry.user_id == person_id)).all()
        assert sorted(e.id for e in mine) == sorted([first, second])
        enquiry = session.get(Enquiry, second)
        assert enquiry is not None
        # ★: two enquiries in a year (across both identities) is still "rarely in contact" …
        assert rarely_in_contact(session=session, enquiry=enquiry, now=enquiry.created_at)
        # … and the language is the person's, not the identity's.
        found = find_person(session=session, channel="email", address="kassor@storasa.se")
        assert found is not None and found.id == person_id and found.language == "en"
        assert found.channel == "email"  # answers go where the person last wrote from
    third = _ask(engine, TELEGRAM, "telegram:7000000000:3", "Och bygglov?", "sv")
    with session_scope(engine) as session:
        enquiry = session.get(Enquiry, third)
        assert enquiry is not None
        assert not rarely_in_contact(session=session, enquiry=enquiry, now=enquiry.created_at)
        person = session.get(AssociationUser, person_id)
        assert person is not None
        data = export_person(session=session, person=person, tracker_url=database_url, now=NOW)
        assert sorted(e["id"] for e in data["enquiries"]) == sorted([first, second, third])
        assert sorted((i["channel"], i["address"]) for i in data["channel_identities"]) == [
            ("email", "kassor@storasa.se"),
            ("telegram", "7000000000"),
        ]
        assert sorted(e["sender_id"] for e in data["tracker_events"]) == [
            "email:<root-1@storasa.se>:kassor@storasa.se",
            "telegram:7000000000:7000000000",
            "tg:7000000000:7000000000",
        ]
        report = erase_person(
            session=session, person=person, actor="cli", tracker_url=database_url, now=NOW
        )
        assert report.counts["tracker_events_deleted"] == 3
        assert report.counts["enquiries_anonymised"] == 3
    with Session(engine) as session:
        assert session.exec(select(ChannelIdentity)).all() == []
        assert find_person(session=session, channel="email", address="kassor@storasa.se") is None
        erased = session.get(AssociationUser, person_id)
        assert erased is not None and erased.erased_at is not None
    assert _tracker_senders(database_url) == ["telegram:5:5"]
    # Writing again from either address is a new person.
    with session_scope(engine) as session:
        assert identify(session=session, writer=MAIL, language="sv").id != person_id
