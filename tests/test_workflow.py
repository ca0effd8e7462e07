"""The enquiry workflow on real databases: forward, answer, not ours, feedback, deadlines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.i18n import translate
from bot.messages import choices as callbacks
from db.enquiries.deadlines import SweepReport, sweep_deadlines
from db.enquiries.lifecycle import forwarded as forward_to_department
from db.enquiries.workflow import (
    WorkflowError,
    answer_enquiry,
    find_by_message,
    not_ours,
    record_feedback,
)
from db.models import Enquiry, EnquiryStatus, Escalation, EscalationReason
from db.people import departments
from db.plumbing.session import make_engine, session_scope
from harness.workflow import (
    ASSOCIATION_CHAT,
    COORDINATOR_CHAT,
    DEPARTMENT_CHAT,
    buttons,
    escalated_enquiry,
    events,
    local,
    outbox,
    refused,
    routed_enquiry,
)

MONDAY_9 = local(2026, 3, 16, 9)
FRIDAY_15 = local(2026, 3, 13, 15)


def _forwarded(session, now=MONDAY_9, **kwargs) -> Enquiry:  # type: ignore[no-untyped-def]
    enquiry = routed_enquiry(session, now=now, **kwargs)
    department = departments.department_by_key(session=session, key="kultur_fritid")
    assert department is not None
    forward_to_department(session=session, enquiry=enquiry, department=department, now=now)
    return enquiry


def test_forward_with_department_chat_queues_message_with_buttons(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = routed_enquiry(session, now=MONDAY_9)
        department = departments.department_by_key(session=session, key="kultur_fritid")
        assert department is not None
        messages = forward_to_department(
            session=session, enquiry=enquiry, department=department, now=MONDAY_9
        )
        enquiry_id = enquiry.id
    assert len(messages) == 1
    with session_scope(engine) as session:
        found = session.get(Enquiry, enquiry_id)
        assert found is not None
        enquiry = found
        assert enquiry.status == EnquiryStatus.FORWARDED
        assert enquiry.forwarded_at == MONDAY_9
        [sent] = outbox(session, kind="forward")
        assert sent.chat_id == DEPARTMENT_CHAT
        assert sent.enquiry_id == enquiry_id
        assert str(enquiry.reference) in sent.text
        assert "Storåsa IF" in sent.text
        assert "aktivitetsstöd" in sent.text
        assert "Svara senast" in sent.text
        assert buttons(sent) == [f"dept:answer:{enquiry_id}", f"dept:notours:{enquiry_id}"]
        labels = [b["text"] for b in sent.reply_markup["inline_keyboard"][0]]  # type: ignore[index]
        assert labels == ["Svara", "Inte vårt"]
        assert events(session, enquiry) == ["received", "routed", "forwarded"]


def test_forward_without_department_chat_leaves_it_routed(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = routed_enquiry(session, now=MONDAY_9, department_chat=None)
        department = departments.department_by_key(session=session, key="kultur_fritid")
        assert department is not None
        messages = forward_to_department(
            session=session, enquiry=enquiry, department=department, now=MONDAY_9
        )
        assert messages == []
        assert enquiry.status == EnquiryStatus.ROUTED
        assert outbox(session) == []
        assert events(session, enquiry) == ["received", "routed"]


def test_answer_is_relayed_with_feedback_buttons(engine: Engine) -> None:
    later = MONDAY_9 + timedelta(hours=2)
    with session_scope(engine) as session:
        enquiry = _forwarded(session)
        message = answer_enquiry(
            session=session,
            enquiry=enquiry,
            text="  Ansök i e-tjänsten senast 15 april.  ",
            actor="staff:42",
            now=later,
        )
        enquiry_id = enquiry.id
    assert message is not None
    with session_scope(engine) as session:
        found = session.get(Enquiry, enquiry_id)
        assert found is not None
        enquiry = found
        assert enquiry.status == EnquiryStatus.ANSWERED
        assert enquiry.answered_at == later
        assert enquiry.answer_text == "Ansök i e-tjänsten senast 15 april."
        assert enquiry.answered_by == "staff:42"
        assert enquiry.sla_due_at is None
        [sent] = outbox(session, kind="answer")
        assert sent.chat_id == ASSOCIATION_CHAT
        assert str(enquiry.reference) in sent.text
        assert "Kultur- och fritidsförvaltningen" in sent.text
        assert "Ansök i e-tjänsten senast 15 april." in sent.text
        assert "Hjälpte svaret?" in sent.text
        assert buttons(sent) == [f"fb:{enquiry_id}:y", f"fb:{enquiry_id}:n"]
        assert events(session, enquiry)[-1] == "answered"


def test_answer_in_english_for_english_association(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = _forwarded(session, language="en")
        answer_enquiry(session=session, enquiry=enquiry, text="Yes.", actor="staff:1", now=MONDAY_9)
        [sent] = outbox(session, kind="answer")
        assert "Culture and Leisure" in sent.text
        assert "Did the answer help?" in sent.text
        assert [b["text"] for b in sent.reply_markup["inline_keyboard"][0]] == ["Yes", "No"]  # type: ignore[index]


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_answer_is_refused_and_nothing_changes(engine: Engine, text: str) -> None:
    with session_scope(engine) as session:
        enquiry = _forwarded(session)
        before = events(session, enquiry)
        with refused(WorkflowError, "empty"):
            answer_enquiry(session=session, enquiry=enquiry, text=text, actor="x", now=MONDAY_9)
        assert enquiry.status == EnquiryStatus.FORWARDED
        assert events(session, enquiry) == before
        assert outbox(session, kind="answer") == []


def test_closed_or_answered_enquiry_cannot_be_answered(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = _forwarded(session)
        answer_enquiry(session=session, enquiry=enquiry, text="Svar.", actor="x", now=MONDAY_9)
        with refused(WorkflowError, "already been answered"):
            answer_enquiry(session=session, enquiry=enquiry, text="Igen", actor="x", now=MONDAY_9)
        record_feedback(
            session=session,
            enquiry=enquiry,
            helpful=True,
            actor="association",
            now=MONDAY_9,
        )
        with refused(WorkflowError, "closed"):
            answer_enquiry(session=session, enquiry=enquiry, text="Igen", actor="x", now=MONDAY_9)
        assert len(outbox(session, kind="answer")) == 1


def test_answer_resolves_open_escalation(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry, escalation_id = escalated_enquiry(session, now=MONDAY_9)
        answer_enquiry(session=session, enquiry=enquiry, text="Hej!", actor="cli", now=MONDAY_9)
        escalation = session.get(Escalation, escalation_id)
        assert escalation is not None
        assert escalation.resolved_at == MONDAY_9
        assert escalation.resolution == "answered"
        [sent] = outbox(session, kind="answer")
        assert "samordnaren" in sent.text


def test_not_ours_escalates_with_card(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = _forwarded(session)
        escalation = not_ours(
            session=session,
            enquiry=enquiry,
            actor="staff:42",
            now=MONDAY_9 + timedelta(hours=1),
        )
        assert escalation.reason == EscalationReason.NOT_OURS
        assert enquiry.status == EnquiryStatus.ESCALATED
        assert enquiry.sla_due_at is None
        [card] = outbox(session, kind="card")
        assert card.chat_id == COORDINATOR_CHAT
        assert card.escalation_id == escalation.id
        assert "Kultur- och fritidsförvaltningen säger att frågan inte är deras" in card.text
        assert "Storåsa IF" in card.text
        assert buttons(card) == [
            f"q:claim:{escalation.id}",
            f"q:answer:{escalation.id}",
            f"q:route:{escalation.id}",
            f"q:close:{escalation.id}",
        ]
        assert events(session, enquiry)[-1] == "escalated"
        # A second press is refused and adds nothing.
        with refused(WorkflowError, "already been handled"):
            not_ours(
                session=session,
                enquiry=enquiry,
                actor="staff:42",
            )
        assert len(outbox(session, kind="card")) == 1


def test_feedback_yes_closes(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = _forwarded(session)
        answer_enquiry(session=session, enquiry=enquiry, text="Svar.", actor="x", now=MONDAY_9)
        result = record_feedback(
            session=session,
            enquiry=enquiry,
            helpful=True,
            actor="association",
            now=MONDAY_9 + timedelta(minutes=5),
        )
        assert result is None
        assert enquiry.status == EnquiryStatus.CLOSED
        assert enquiry.helpful is True
        assert enquiry.closed_at == MONDAY_9 + timedelta(minutes=5)
        assert events(session, enquiry)[-2:] == ["feedback", "closed"]
        assert outbox(session, kind="card") == []
        [notice] = outbox(session, kind="feedback_closed")
        assert notice.chat_id == ASSOCIATION_CHAT


def test_feedback_no_reopens_to_coordinator_and_duplicates_are_harmless(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = _forwarded(session)
        answer_enquiry(session=session, enquiry=enquiry, text="Svar.", actor="x", now=MONDAY_9)
        escalation = record_feedback(
            session=session,
            enquiry=enquiry,
            helpful=False,
            actor="association",
            now=MONDAY_9,
        )
        assert escalation is not None
        assert escalation.reason == EscalationReason.NOT_HELPED
        assert enquiry.status == EnquiryStatus.ESCALATED
        assert enquiry.helpful is False
        assert events(session, enquiry)[-3:] == ["feedback", "reopened", "escalated"]
        [card] = outbox(session, kind="card")
        assert "tyckte inte att svaret hjälpte" in card.text
        before = (events(session, enquiry), len(outbox(session)))
        for helpful in (False, True):
            with refused(WorkflowError, "already been handled"):
                record_feedback(
                    session=session,
                    enquiry=enquiry,
                    helpful=helpful,
                    actor="association",
                )
        assert (events(session, enquiry), len(outbox(session))) == before
        assert enquiry.status == EnquiryStatus.ESCALATED


def test_deadlines_in_working_hours_reminder_then_escalation(engine: Engine) -> None:
    """Routed Friday 15:00 with 8 working hours: reminder Monday 13:00, escalation Monday 15:00."""
    with session_scope(engine) as session:
        enquiry = _forwarded(session, now=FRIDAY_15, sla_hours=8)
        enquiry_id = enquiry.id
        assert enquiry.reminder_due_at == local(2026, 3, 16, 13)
        assert enquiry.sla_due_at == local(2026, 3, 16, 15)

    def sweep(at: datetime) -> SweepReport:
        with session_scope(engine) as session:
            return sweep_deadlines(session=session, now=at)

    # Saturday
    assert translate("en", sweep(local(2026, 3, 14, 12)).summary()) == "0 reminded, 0 escalated"
    assert translate("en", sweep(local(2026, 3, 16, 12, 59)).summary()) == "0 reminded, 0 escalated"
    report = sweep(local(2026, 3, 16, 13))
    assert len(report.reminded) == 1 and report.escalated == []
    assert translate("en", sweep(local(2026, 3, 16, 13, 30)).summary()) == "0 reminded, 0 escalated"
    assert translate("en", sweep(local(2026, 3, 16, 14, 59)).summary()) == "0 reminded, 0 escalated"
    report = sweep(local(2026, 3, 16, 15))
    assert len(report.escalated) == 1 and report.reminded == []
    assert translate("en", sweep(local(2026, 3, 16, 15, 1)).summary()) == "0 reminded, 0 escalated"

    with session_scope(engine) as session:
        found = session.get(Enquiry, enquiry_id)
        assert found is not None
        enquiry = found
        assert enquiry.status == EnquiryStatus.ESCALATED
        assert enquiry.reminded_at == local(2026, 3, 16, 13)
        [reminder] = outbox(session, kind="reminder")
        assert reminder.chat_id == DEPARTMENT_CHAT
        assert "Påminnelse" in reminder.text
        assert "mån 2026-03-16 kl. 15:00" in reminder.text
        assert buttons(reminder) == [f"dept:answer:{enquiry_id}", f"dept:notours:{enquiry_id}"]
        [card] = outbox(session, kind="card")
        assert "har inte svarat i tid" in card.text
        [escalation] = session.exec(select(Escalation)).all()
        assert escalation.reason == EscalationReason.SLA
        assert escalation.created_at == local(2026, 3, 16, 15)
        assert events(session, enquiry) == [
            "received",
            "routed",
            "forwarded",
            "reminded",
            "escalated",
        ]


def test_reminder_without_department_chat_records_event_only(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = routed_enquiry(session, now=FRIDAY_15, department_chat=None, sla_hours=8)
        report = sweep_deadlines(session=session, now=local(2026, 3, 16, 13))
        assert len(report.reminded) == 1
        assert outbox(session) == []
        assert events(session, enquiry)[-1] == "reminded"
        assert enquiry.reminded_at == local(2026, 3, 16, 13)


def test_deadlines_fire_after_restart(engine: Engine) -> None:
    """A new engine on the same database, started after both deadlines passed, still escalates."""
    url = engine.url.render_as_string(hide_password=False)
    with session_scope(engine) as session:
        enquiry_id = _forwarded(session, now=FRIDAY_15, sla_hours=8).id
    engine.dispose()
    restarted = make_engine(url)
    try:
        with session_scope(restarted) as session:
            report = sweep_deadlines(session=session, now=local(2026, 3, 17, 10))
        assert len(report.escalated) == 1
        with session_scope(restarted) as session:
            enquiry = session.get(Enquiry, enquiry_id)
            assert enquiry is not None
            assert enquiry.status == EnquiryStatus.ESCALATED
            assert len(outbox(session, kind="card")) == 1
            again = sweep_deadlines(session=session, now=local(2026, 3, 17, 11))
            assert translate("en", again.summary()) == "0 reminded, 0 escalated"
    finally:
        restarted.dispose()


def test_find_by_message_maps_sent_forward_back_to_enquiry(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = _forwarded(session)
        [sent] = outbox(session, kind="forward")
        sent.row.address, sent.row.external_id = str(DEPARTMENT_CHAT), "777"
        session.flush()
        found, escalation = find_by_message(
            session=session, channel="telegram", address=str(DEPARTMENT_CHAT), external_id="777"
        )
        assert found is not None and found.id == enquiry.id
        assert escalation is None
        assert find_by_message(
            session=session, channel="telegram", address=str(DEPARTMENT_CHAT), external_id="778"
        ) == (None, None)


def test_callback_data_round_trip() -> None:
    cases = {
        callbacks.language("en"): ("lang", "en", 0, None),
        callbacks.department_answer(12): ("dept", "answer", 12, None),
        callbacks.department_not_ours(12): ("dept", "notours", 12, None),
        callbacks.feedback(7, True): ("fb", "y", 7, None),
        callbacks.feedback(7, False): ("fb", "n", 7, None),
        callbacks.queue("claim", 3): ("q", "claim", 3, None),
        callbacks.queue("answer", 3): ("q", "answer", 3, None),
        callbacks.queue("route", 3): ("q", "route", 3, None),
        callbacks.queue("close", 3): ("q", "close", 3, None),
        callbacks.route_to(3, "kultur_fritid"): ("q", "to", 3, "kultur_fritid"),
        callbacks.close_reason(3, "not_municipal"): ("q", "why", 3, "not_municipal"),
    }
    for data, (kind, action, object_id, value) in cases.items():
        assert len(data.encode()) <= 64
        parsed = callbacks.parse(data)
        assert parsed == callbacks.Callback(kind, action, object_id, value), data
    longest = callbacks.route_to(10**12 - 1, "a" * 40)
    assert len(longest.encode()) <= 64
    assert callbacks.parse(longest) == callbacks.Callback("q", "to", 10**12 - 1, "a" * 40)


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        42,
        "lang:de",
        "lang:sv:x",
        "dept:answer:",
        "dept:answer:0",
        "dept:answer:-1",
        "dept:answer:abc",
        "dept:delete:1",
        "fb:1:maybe",
        "fb::y",
        "q:claim",
        "q:claim:1:2",
        "q:nuke:1",
        "q:to:1",
        "q:to:1:Bad Key",
        "q:why:1:bored",
        "q:why:x:spam",
        "x" * 65,
        "q:claim:" + "9" * 60,
        "dept:answer:１２",
    ],
)
def test_malformed_callback_data_is_none(data: object) -> None:
    assert callbacks.parse(data) is None


def test_callback_formatters_refuse_bad_input() -> None:
    bad_calls: list[Callable[[], str]] = [
        lambda: callbacks.language("de"),
        lambda: callbacks.department_answer(0),
        lambda: callbacks.department_answer(10**12),
        lambda: callbacks.queue("nuke", 1),
        lambda: callbacks.route_to(1, "Bad Key"),
        lambda: callbacks.close_reason(1, "bored"),
    ]
    for bad in bad_calls:
        with pytest.raises(ValueError):
            bad()
