"""Referral to another authority and the association's choice between two departments.

The action server's decision (rasa-sdk's CollectingDispatcher, real database, both backends),
the association's buttons through the conversation, the deadline for a choice, and the real
Telegram stack (PTB against the fake Bot API server) and console for the buttons.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.actions.context import ActionContext
from bot.actions.enquiry import ActionHandleEnquiry
from bot.conversation import Conversation
from bot.i18n import LANGUAGES
from bot.messages import choices, render
from bot.services import create_services
from bot.settings import Settings
from bot.understanding.routing import Thresholds
from db.enquiries import crud, lifecycle
from db.enquiries.notifications import Channel, Kind, Recipient
from db.models import (
    Enquiry,
    EnquiryEvent,
    EnquiryStatus,
    Escalation,
    EscalationReason,
    EventKind,
    OutboxMessage,
    TrainingCandidate,
    utcnow,
)
from db.people import departments
from db.people.identities import find_person, identify
from db.plumbing.audit import history
from db.plumbing.session import session_scope
from db.routing.confirmation import CONFIRM_HOURS, sweep_unconfirmed
from harness.database import set_group_chat
from harness.people import telegram_person, telegram_writer
from harness.telegram import COORDINATOR_CHAT as COORDINATORS_GROUP
from harness.telegram import TIMEOUT, Harness, buttons, has, new_user_id, running_bot
from harness.workflow import COORDINATOR_CHAT, DEPARTMENT_CHAT, as_sent
from tests.test_authorities import KEYS

TAX_QUESTION = "Hur deklarerar vår förening moms på försäljningen i kiosken?"
TAX = [("authority_skatteverket", 0.82), ("out_of_scope", 0.1), ("topic_bidrag", 0.05)]
UNSURE_QUESTION = "Får vi ha en loppis på torget och söka pengar för det?"
UNSURE = [("topic_bidrag", 0.52), ("topic_markupplatelse", 0.41), ("greet", 0.02)]


def _context(engine: Engine) -> ActionContext:
    settings = Settings(
        database_url=str(engine.url.render_as_string(hide_password=False)),
        coordinator_chat_id=COORDINATOR_CHAT,
        _env_file=None,  # type: ignore[call-arg]
    )
    thresholds = Thresholds(department=0.5, confirm_margin=0.2)
    return ActionContext(settings=settings, engine=engine, threshold=thresholds)


def _tracker(
    text: str,
    ranking: list[tuple[str, float]],
    *,
    user_id: int = 4242,
    key: str = "tg:4242:1",
    language: str = "sv",
    channel: str = "telegram",
) -> Tracker:
    top_name, top_conf = ranking[0]
    latest = {
        "text": text,
        "intent": {"name": top_name, "confidence": top_conf},
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
        "entities": [],
        "metadata": {
            "message_key": key,
            "telegram_user_id": user_id,
            "chat_id": user_id,
            "channel": channel,
            "language": language,
            "reply_language": language,
            "text": text,
        },
    }
    return Tracker(f"tg:{user_id}:{user_id}", {}, latest, [], False, None, {}, "action_listen")


async def _ask(engine: Engine, tracker: Tracker) -> Enquiry:
    """Let the action server handle a parsed message; return the enquiry it recorded."""
    dispatcher = CollectingDispatcher()
    await ActionHandleEnquiry(_context(engine)).run(dispatcher, tracker, {})
    enquiry_id = dispatcher.messages[-1]["custom"]["lotsen"]["enquiry_id"]
    with Session(engine) as session:
        found = session.get(Enquiry, enquiry_id)
        assert found is not None
        return found


def _sent(engine: Engine, enquiry_id: int | None, kind: str) -> list[dict[str, Any]]:
    """Return the association's messages of a kind about an enquiry, as Telegram gets them."""
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.enquiry_id == enquiry_id, OutboxMessage.kind == kind)
            .order_by(col(OutboxMessage.id))
        ).all()
        return [
            {"text": q.text, "buttons": buttons({"reply_markup": q.reply_markup})}
            for q in (as_sent(session, row) for row in rows)
        ]


def _events(engine: Engine, enquiry_id: int | None) -> list[EnquiryEvent]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(EnquiryEvent)
                .where(EnquiryEvent.enquiry_id == enquiry_id)
                .order_by(col(EnquiryEvent.id))
            ).all()
        )


def _conversation(engine: Engine, settings: Settings | None = None) -> Conversation:
    url = engine.url.render_as_string(hide_password=False)
    services = create_services(
        settings or Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    )
    return Conversation(services)


# ---------------------------------------------------------------------- referral


async def test_a_question_for_another_authority_is_referred_and_recorded(engine: Engine) -> None:
    enquiry = await _ask(engine, _tracker(TAX_QUESTION, TAX))
    assert enquiry.status == EnquiryStatus.REFERRED
    assert enquiry.referred_to == "skatteverket"
    assert enquiry.department_id is None and enquiry.sla_due_at is None
    assert [e.kind for e in _events(engine, enquiry.id)] == ["received", "referred"]
    [answer] = _sent(engine, enquiry.id, Kind.REFERRED)
    assert "Skatteverket" in answer["text"]
    assert "https://www.skatteverket.se" in answer["text"] and "0771-567 567" in answer["text"]
    assert enquiry.reference is not None and enquiry.reference in answer["text"]
    assert answer["buttons"] == [f"ref:{enquiry.id}"]
    with Session(engine) as session:
        assert session.exec(select(Escalation)).all() == []  # nobody at the municipality
        assert session.exec(select(OutboxMessage).where(OutboxMessage.kind == "card")).all() == []
        [audit] = history(session=session, entity="enquiry")
    assert (audit.entity_key, audit.action) == (enquiry.reference, "refer")
    assert audit.after == {"status": "referred", "referred_to": "skatteverket"}

    again = await _ask(engine, _tracker(TAX_QUESTION, TAX))  # the same message redelivered
    assert again.id == enquiry.id
    assert len(_sent(engine, enquiry.id, Kind.REFERRED)) == 1


@pytest.mark.parametrize("language", ["en", "ar", "uk"])
async def test_the_referral_speaks_the_writers_language(engine: Engine, language: str) -> None:
    enquiry = await _ask(engine, _tracker("?", TAX, language=language))
    [answer] = _sent(engine, enquiry.id, Kind.REFERRED)
    with Session(engine) as session:
        names = crud_names(session)
    assert names[language] in answer["text"].replace("\u2068", "").replace("\u2069", "")
    assert "kommunen" not in answer["text"]  # not Swedish


def crud_names(session: Session) -> dict[str, str]:
    from db.routing.authorities import authority_by_key

    found = authority_by_key(session=session, key="skatteverket")
    assert found is not None
    return found.names


async def test_that_is_not_right_sends_the_referral_to_the_coordinator(engine: Engine) -> None:
    enquiry = await _ask(engine, _tracker(TAX_QUESTION, TAX))
    conversation = _conversation(engine)
    try:
        stranger = await conversation.press(
            writer=telegram_writer(999, 999), data=f"ref:{enquiry.id}", key="tg:999:5"
        )
        assert stranger == "Den här knappen fungerar inte längre."
        assert (
            await conversation.press(
                writer=telegram_writer(4242, 4242), data=f"ref:{enquiry.id}", key="tg:4242:cb1"
            )
            is None
        )
        twice = await conversation.press(
            writer=telegram_writer(4242, 4242), data=f"ref:{enquiry.id}", key="tg:4242:cb2"
        )
        assert twice == "Det här ärendet är redan hanterat."
    finally:
        await conversation.services.aclose()
    with Session(engine) as session:
        found = session.get(Enquiry, enquiry.id)
        assert found is not None and found.status == EnquiryStatus.ESCALATED
        assert found.referred_to == "skatteverket"  # what it was referred to stays on record
        [escalation] = session.exec(select(Escalation)).all()
        cards = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "card")).all()
        assert [as_sent(session, c).chat_id for c in cards] == [COORDINATOR_CHAT]
        actions = [a.action for a in history(session=session, entity="enquiry")]
    assert escalation.reason == EscalationReason.MISREFERRED
    assert actions == ["dispute_referral", "refer"]
    [reply] = _sent(engine, enquiry.id, Kind.ESCALATED)
    assert "samordnare" in reply["text"] and (enquiry.reference or "?") in reply["text"]


async def test_an_authority_removed_meanwhile_escalates_as_out_of_scope(engine: Engine) -> None:
    from db.routing.authorities import remove_authority

    with session_scope(engine) as session:
        remove_authority(session=session, key="skatteverket", actor="test")
    enquiry = await _ask(engine, _tracker(TAX_QUESTION, TAX))
    assert enquiry.status == EnquiryStatus.ESCALATED and enquiry.referred_to is None
    with Session(engine) as session:
        [escalation] = session.exec(select(Escalation)).all()
    assert escalation.reason == EscalationReason.OUT_OF_SCOPE


# ---------------------------------------------------------------------- confirmation


async def test_an_unsure_question_asks_the_association_to_choose(engine: Engine) -> None:
    enquiry = await _ask(engine, _tracker(UNSURE_QUESTION, UNSURE))
    assert enquiry.status == EnquiryStatus.CONFIRMING
    assert enquiry.department_id is None
    assert enquiry.sla_due_at is not None
    events = _events(engine, enquiry.id)
    assert [e.kind for e in events] == ["received", "confirm_asked"]
    assert events[-1].detail == {
        "options": ["kultur_fritid", "teknik"],
        "intents": {"kultur_fritid": "topic_bidrag", "teknik": "topic_markupplatelse"},
    }
    [question] = _sent(engine, enquiry.id, Kind.CONFIRM)
    assert question["buttons"] == [
        f"cf:{enquiry.id}:kultur_fritid",
        f"cf:{enquiry.id}:teknik",
        f"cf:{enquiry.id}",
    ]
    assert "Kultur- och fritidsförvaltningen – föreningsbidrag" in question["text"]
    assert "Tekniska förvaltningen – markupplåtelse" in question["text"]
    assert enquiry.reference is not None and enquiry.reference in question["text"]
    with Session(engine) as session:
        assert (
            session.exec(select(OutboxMessage).where(OutboxMessage.kind == "forward")).all() == []
        )


async def test_the_choice_routes_and_becomes_a_training_candidate(engine: Engine) -> None:
    enquiry = await _ask(engine, _tracker(UNSURE_QUESTION, UNSURE))
    with session_scope(engine) as session:
        teknik = departments.department_by_key(session=session, key="teknik")
        assert teknik is not None
        set_group_chat(teknik, DEPARTMENT_CHAT)  # reachable: the choice forwards there
    conversation = _conversation(engine)
    try:
        offered_not = await conversation.press(
            writer=telegram_writer(4242, 4242), data=f"cf:{enquiry.id}:social", key="k1"
        )
        chosen = await conversation.press(
            writer=telegram_writer(4242, 4242), data=f"cf:{enquiry.id}:teknik", key="k2"
        )
        late = await conversation.press(
            writer=telegram_writer(4242, 4242), data=f"cf:{enquiry.id}", key="k3"
        )
    finally:
        await conversation.services.aclose()
    assert offered_not == "Det här ärendet är redan hanterat."
    assert chosen is None
    assert late == "Det här ärendet är redan hanterat."
    with Session(engine) as session:
        found = session.get(Enquiry, enquiry.id)
        assert found is not None and found.status == EnquiryStatus.FORWARDED
        teknik = departments.department_by_key(session=session, key="teknik")
        assert teknik is not None and found.department_id == teknik.id
        [candidate] = session.exec(select(TrainingCandidate)).all()
        [forward] = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.enquiry_id == enquiry.id, OutboxMessage.kind == Kind.FORWARD
            )
        ).all()
        assert forward.channel == Channel.TELEGRAM
        assert as_sent(session, forward).chat_id == DEPARTMENT_CHAT
        assert session.exec(select(Escalation)).all() == []
    assert (candidate.text, candidate.intent, candidate.enquiry_id) == (
        UNSURE_QUESTION,
        "topic_markupplatelse",
        enquiry.id,
    )
    assert candidate.reviewed_at is None  # waits for `lotsen training review`
    chosen_event = [e for e in _events(engine, enquiry.id) if e.kind == EventKind.CHOSEN]
    assert chosen_event[0].detail["department"] == "teknik"
    assert chosen_event[0].detail["training_candidate"] == candidate.id
    [reply] = _sent(engine, enquiry.id, Kind.ROUTED)
    assert "Tekniska förvaltningen" in reply["text"] and "gatapark@storasa.example" in reply["text"]


async def test_something_else_goes_to_the_coordinator(engine: Engine) -> None:
    enquiry = await _ask(engine, _tracker(UNSURE_QUESTION, UNSURE, language="en"))
    conversation = _conversation(engine)
    try:
        assert (
            await conversation.press(
                writer=telegram_writer(4242, 4242), data=f"cf:{enquiry.id}", key="k"
            )
            is None
        )
    finally:
        await conversation.services.aclose()
    with Session(engine) as session:
        found = session.get(Enquiry, enquiry.id)
        assert found is not None and found.status == EnquiryStatus.ESCALATED
        [escalation] = session.exec(select(Escalation)).all()
        assert session.exec(select(TrainingCandidate)).all() == []
    assert escalation.reason == EscalationReason.NOT_LISTED
    [reply] = _sent(engine, enquiry.id, Kind.ESCALATED)
    assert "coordinator" in reply["text"]


@pytest.mark.parametrize("smtp", [False, True], ids=["no-smtp", "smtp"])
async def test_a_choice_of_a_department_nobody_can_reach_never_goes_into_the_void(
    engine: Engine, smtp: bool
) -> None:
    """teknik takes Telegram but has no group: by e-mail when SMTP is set, else the coordinator."""
    enquiry = await _ask(engine, _tracker(UNSURE_QUESTION, UNSURE))
    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(
        database_url=url,
        smtp_host="127.0.0.1" if smtp else None,
        _env_file=None,  # type: ignore[call-arg]
    )
    with Session(engine) as session:
        teknik = departments.department_by_key(session=session, key="teknik")
        assert teknik is not None and teknik.channels == "telegram"
        assert teknik.group_chat is None
        mailbox = departments.department_mailbox(session=session, department=teknik)
        assert mailbox == "gatapark@storasa.example"
    conversation = _conversation(engine, settings)
    try:
        pressed = await conversation.press(
            writer=telegram_writer(4242, 4242), data=f"cf:{enquiry.id}:teknik", key="k"
        )
    finally:
        await conversation.services.aclose()
    assert pressed is None
    with Session(engine) as session:
        found = session.get(Enquiry, enquiry.id)
        assert found is not None and found.department_id == teknik.id
        forwards = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.enquiry_id == enquiry.id, OutboxMessage.kind == Kind.FORWARD
            )
        ).all()
        escalations = session.exec(select(Escalation)).all()
        cards = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.enquiry_id == enquiry.id, OutboxMessage.kind == Kind.CARD
            )
        ).all()
    kinds = [e.kind for e in _events(engine, enquiry.id)]
    if smtp:  # the e-mail fallback: the department's mailbox gets the forward
        assert found.status == EnquiryStatus.FORWARDED
        assert [(f.channel, f.recipient, f.recipient_id) for f in forwards] == [
            (Channel.EMAIL, Recipient.DEPARTMENT, teknik.id)
        ]
        assert escalations == [] and cards == []
        assert kinds[-3:] == ["chosen", "routed", "forwarded"]
        [reply] = _sent(engine, enquiry.id, Kind.ROUTED)
        assert "Tekniska förvaltningen" in reply["text"]
        assert _sent(engine, enquiry.id, Kind.ESCALATED) == []
    else:  # nobody can be reached: the coordinator has it at once, and the association hears so
        assert found.status == EnquiryStatus.ESCALATED
        assert forwards == []
        assert [e.reason for e in escalations] == [EscalationReason.UNREACHABLE]
        assert [(c.recipient, c.escalation_id) for c in cards] == [
            (Recipient.COORDINATORS, escalations[0].id)
        ]
        assert kinds[-3:] == ["chosen", "routed", "escalated"]
        assert _sent(engine, enquiry.id, Kind.ROUTED) == []
        [reply] = _sent(engine, enquiry.id, Kind.ESCALATED)
        assert "kan inte nås just nu" in reply["text"] and str(found.reference) in reply["text"]


async def test_a_question_nobody_chooses_for_goes_to_the_coordinator(engine: Engine) -> None:
    enquiry = await _ask(engine, _tracker(UNSURE_QUESTION, UNSURE))
    soon = utcnow() + timedelta(hours=CONFIRM_HOURS - 1)
    later = utcnow() + timedelta(hours=CONFIRM_HOURS + 1)
    with session_scope(engine) as session:
        assert sweep_unconfirmed(session=session, now=soon) == []
    with session_scope(engine) as session:
        assert sweep_unconfirmed(session=session, now=later) == [enquiry.reference]
    with session_scope(engine) as session:
        assert sweep_unconfirmed(session=session, now=later) == []  # once
    with Session(engine) as session:
        [escalation] = session.exec(select(Escalation)).all()
    assert escalation.reason == EscalationReason.UNCONFIRMED
    [reply] = _sent(engine, enquiry.id, Kind.ESCALATED)
    assert "inte valt någon förvaltning" in reply["text"]


def test_choice_data_round_trips_and_rejects_nonsense() -> None:
    assert choices.parse(choices.referral_wrong(12)) == choices.Callback("ref", "wrong", 12)
    assert choices.parse(choices.confirm(12, "teknik")) == choices.Callback(
        "cf", "choose", 12, "teknik"
    )
    assert choices.parse(choices.confirm(12, None)) == choices.Callback("cf", "other", 12)
    for bad in ("ref:", "ref:0", "ref:x", "cf:", "cf:1:Teknik!", "cf:1:a:b", "ref:1:2"):
        assert choices.parse(bad) is None, bad


@pytest.mark.parametrize("language", LANGUAGES)
def test_both_kinds_render_in_every_language_with_buttons(engine: Engine, language: str) -> None:
    with session_scope(engine) as session:
        user = telegram_person(session=session, telegram_user_id=77, chat_id=77)
        enquiry, _ = lifecycle.received(session=session, text="?", language=language, user=user)
        rows = [
            OutboxMessage(
                channel="telegram",
                kind=Kind.REFERRED,
                recipient="association",
                recipient_id=user.id,
                language=language,
                params={"authority": "region_halsa"},
                enquiry_id=enquiry.id,
            ),
            OutboxMessage(
                channel="telegram",
                kind=Kind.CONFIRM,
                recipient="association",
                recipient_id=user.id,
                language=language,
                params={"options": ["samhallsbyggnad", "samverkan"]},
                enquiry_id=enquiry.id,
            ),
        ]
        referred, confirm = (render(session, row) for row in rows)
    assert "1177" in referred.text and "https://www.1177.se" in referred.text
    assert [c.action for row in referred.choices for c in row] == [f"ref:{enquiry.id}"]
    assert len([c for row in confirm.choices for c in row]) == 3
    if language != "sv":  # the departments' lines come translated from the catalogue
        assert "detaljplaner, översiktsplan" not in confirm.text


# ---------------------------------------------------------------------- Telegram and console


async def test_telegram_buttons_refer_dispute_and_choose(offline: Harness) -> None:
    h, fake = offline, offline.fake
    user = new_user_id()
    async with running_bot(h.settings):
        await fake.wait_for("getUpdates", timeout=TIMEOUT)
        referral = await _ask(h.engine, _tracker(TAX_QUESTION, TAX, user_id=user, key="r1"))
        sent = await h.message_to(user, lambda m: f"ref:{referral.id}" in buttons(m))
        assert "https://www.skatteverket.se" in sent["text"]

        mark = h.mark()
        press = fake.callback(user, f"ref:{referral.id}", message_id=sent["message_id"])
        await h.callback_answer(press)
        await h.message_to(user, has("samordnare", referral.reference or "?"), after=mark)
        await h.message_to(COORDINATORS_GROUP, has(referral.reference or "?"), after=mark)
        assert "reply_markup" not in fake.message(user, sent["message_id"])
        assert [e.reason for e in h.escalations(referral.id or 0)] == ["misreferred"]

        unsure = await _ask(h.engine, _tracker(UNSURE_QUESTION, UNSURE, user_id=user, key="u1"))
        asked = await h.message_to(user, lambda m: f"cf:{unsure.id}" in buttons(m))
        mark = h.mark()
        press = fake.callback(user, f"cf:{unsure.id}:kultur_fritid", message_id=asked["message_id"])
        await h.callback_answer(press)
        # kultur_fritid takes Telegram but has no group, and no SMTP is configured: nobody can
        # be reached, so the coordinator has the question at once and the association hears so
        await h.message_to(user, has("kan inte nås just nu", unsure.reference or "?"), after=mark)
        card = await h.message_to(COORDINATORS_GROUP, has(unsure.reference or "?"), after=mark)
        assert "Kultur- och fritidsförvaltningen kan inte nås" in card["text"]
        assert h.enquiry(unsure.id or 0).status == EnquiryStatus.ESCALATED
        assert [e.reason for e in h.escalations(unsure.id or 0)] == ["unreachable"]
        told = [m["text"] for m in h.sent_to(user, after=mark)]
        assert not any("Kultur- och fritidsförvaltningen" in text for text in told), told

        stranger = new_user_id()
        other = fake.callback(
            stranger, f"ref:{referral.id}", message_id=sent["message_id"], chat_id=user
        )
        answer = await h.callback_answer(other)
        assert answer.get("text") == "Den här knappen fungerar inte längre."
        assert [e.reason for e in h.escalations(referral.id or 0)] == ["misreferred"]


async def test_console_offers_the_choice_as_numbers(engine: Engine, tmp_path: Any) -> None:
    from bot.channels.console import CONSOLE_USER_ID, CONSOLE_WRITER, run_console
    from harness.ports import free_port

    with session_scope(engine) as session:
        user = identify(session=session, writer=CONSOLE_WRITER, language="sv")
        crud.set_user_association(session=session, user=user, name="Storåsa IF", org_number=None)
        teknik = departments.department_by_key(session=session, key="teknik")
        assert teknik is not None
        set_group_chat(teknik, DEPARTMENT_CHAT)  # reachable: the choice forwards there
    tracker = _tracker(
        UNSURE_QUESTION, UNSURE, user_id=CONSOLE_USER_ID, key="console:1", channel="console"
    )
    enquiry = await _ask(engine, tracker)
    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(
        database_url=url,
        rasa_url=f"http://127.0.0.1:{free_port()}",
        _env_file=None,  # type: ignore[call-arg]
    )
    lines = ["2", "/quit"]
    output: list[str] = []

    async def read(_prompt: str) -> str | None:
        await asyncio.sleep(0)
        return lines.pop(0) if lines else None

    services = create_services(settings)
    try:
        await run_console(services, read, output.append)
    finally:
        await services.aclose()
    transcript = "\n".join(output)
    assert "[1] Kultur- och fritidsförvaltningen" in transcript
    assert "[2] Tekniska förvaltningen" in transcript and "[3] Något annat" in transcript
    with Session(engine) as session:
        found = session.get(Enquiry, enquiry.id)
        assert found is not None and found.status == EnquiryStatus.FORWARDED
        console_user = find_person(
            session=session, channel=Channel.CONSOLE, address=str(CONSOLE_USER_ID)
        )
        assert console_user is not None and console_user.channel == Channel.CONSOLE
    assert transcript.index("Din fråga gäller Tekniska förvaltningen.") > transcript.index("[3]")


# ---------------------------------------------------------------------- the report


def test_the_public_report_counts_referred_enquiries(engine: Engine) -> None:
    from bot.channels.desk.stats import SUPPRESS_BELOW, csv_rows, public_report
    from db.routing.referral import refer

    now = utcnow()
    with session_scope(engine) as session:
        user = telegram_person(session=session, telegram_user_id=88, chat_id=88)
        for number in range(SUPPRESS_BELOW + 1):
            key = "skatteverket" if number < SUPPRESS_BELOW else "polisen"
            enquiry, _ = lifecycle.received(
                session=session, text=f"Fråga {number}", language="sv", user=user, now=now
            )
            refer(session=session, enquiry=enquiry, authority_key=key, actor="test", now=now)
        report = public_report(session=session, now=now + timedelta(minutes=1))
    totals = {row["authority"]: row for row in report["authorities"]}
    assert set(totals) == KEYS
    assert totals["skatteverket"]["received"] == SUPPRESS_BELOW
    assert totals["polisen"]["suppressed"] is True and "received" not in totals["polisen"]
    assert totals["bolagsverket"]["received"] == 0
    assert totals["region_halsa"]["authority_name"] == "Region Storåsa – 1177"
    [unrouted] = [row for row in report["rows"] if row["department"] is None]
    assert "referred" not in unrouted  # per authority and month only, none below the threshold
    [month] = [row for row in report["months"] if row["received"]]
    assert month["referred"] == SUPPRESS_BELOW  # the one to polisen is not counted
    csv = csv_rows(report, "authorities")
    assert csv[0] == ["authority", "authority_name", "suppressed", "received"]
    assert ["skatteverket", "Skatteverket", "no", str(SUPPRESS_BELOW)] in csv


def test_a_referred_enquiry_is_anonymised_after_the_retention_period(engine: Engine) -> None:
    from db.privacy.retention import PURGED, purge
    from db.routing.referral import refer
    from tests.test_retention import decide_all

    class Retention:
        retention_enquiry_text_days = 730
        retention_tracker_days = 90
        retention_audit_days = 3650
        retention_inbox_days = 30
        retention_feedback_comment_days = 365
        retention_inbound_mail_days = 365
        retention_web_chat_days = 365

    then = utcnow() - timedelta(days=800)
    with session_scope(engine) as session:
        enquiry, _ = lifecycle.received(
            session=session, text=TAX_QUESTION, language="sv", user=None, now=then
        )
        refer(session=session, enquiry=enquiry, authority_key="skatteverket", actor="t", now=then)
        fresh, _ = lifecycle.received(session=session, text=TAX_QUESTION, language="sv", user=None)
        refer(session=session, enquiry=fresh, authority_key="polisen", actor="t")
    with session_scope(engine) as session:
        decide_all(session)  # disposal only by decision: one covers every kind
        report = purge(session=session, retention=Retention())  # type: ignore[arg-type]
        assert report.enquiries_anonymised == 1
    with Session(engine) as session:
        old = session.get(Enquiry, enquiry.id)
        kept = session.get(Enquiry, fresh.id)
        assert old is not None and old.text == PURGED and old.referred_to == "skatteverket"
        assert kept is not None and kept.text == TAX_QUESTION


async def test_a_choice_and_the_deadline_at_once_make_one_outcome(engine: Engine) -> None:
    from db.enquiries.workflow import WorkflowError
    from db.routing.confirmation import choose

    enquiry = await _ask(engine, _tracker(UNSURE_QUESTION, UNSURE))
    seen_before = Session(engine, expire_on_commit=False)
    stale = seen_before.get(Enquiry, enquiry.id)  # what the choice read, still confirming
    assert stale is not None
    seen_before.expunge(stale)
    seen_before.close()
    later = utcnow() + timedelta(hours=CONFIRM_HOURS + 1)
    with session_scope(engine) as session:
        assert sweep_unconfirmed(session=session, now=later) == [enquiry.reference]
    with pytest.raises(WorkflowError), session_scope(engine) as session:
        mine = session.merge(stale, load=False)
        choose(
            session=session,
            enquiry=mine,
            department_key="teknik",
            actor="association:1",
            email_enabled=True,
        )
    with Session(engine) as session:
        found = session.get(Enquiry, enquiry.id)
        assert found is not None and found.status == EnquiryStatus.ESCALATED
        assert found.department_id is None
        assert session.exec(select(TrainingCandidate)).all() == []
        assert len(session.exec(select(Escalation)).all()) == 1
