"""The coordinator's queue on real databases: list, claim (concurrently), answer, route, close."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from bot.i18n import translate
from db.enquiries import crud, lifecycle
from db.enquiries import queue as q
from db.enquiries.queue_facts import RARE_CONTACT_MAX_ENQUIRIES, working_hours_between
from db.models import (
    Enquiry,
    EnquiryEvent,
    EnquiryStatus,
    Escalation,
    EscalationReason,
    EventKind,
    TrainingCandidate,
)
from db.people import departments
from db.plumbing.session import make_engine, session_scope
from db.routing.training import export_nlu_yaml, review
from harness.database import set_group_chat
from harness.people import staff_member, staff_people
from harness.wait import wait_until
from harness.workflow import (
    ASSOCIATION_CHAT,
    DEPARTMENT_CHAT,
    as_sent,
    buttons,
    escalated_enquiry,
    events,
    local,
    new_enquiry,
    outbox,
    refused,
    routed_enquiry,
)

MONDAY_9 = local(2026, 3, 16, 9)
ALICE, BOB = 111, 222


@pytest.fixture(autouse=True)
def _coordinators(request: pytest.FixtureRequest) -> None:
    """Alice and Bob are staff people (the queue names its staff by person id)."""
    if "engine" in request.fixturenames:
        engine = request.getfixturevalue("engine")
        with session_scope(engine) as session:
            staff_people(session, ALICE, BOB, telegram=True)


def _one_escalation(engine: Engine, **kwargs: object) -> tuple[int, int]:
    with session_scope(engine) as session:
        enquiry, escalation_id = escalated_enquiry(session, now=MONDAY_9, **kwargs)  # type: ignore[arg-type]
        assert enquiry.id is not None
        return enquiry.id, escalation_id


def test_list_queue_oldest_first_with_filters_and_fairness(engine: Engine) -> None:
    with session_scope(engine) as session:
        # A regular: three enquiries this year, the last one escalated.
        for day in (1, 2):
            new_enquiry(session, now=local(2026, 3, day, 10), association="Flitiga FK")
        regular, regular_esc = escalated_enquiry(
            session, now=local(2026, 3, 10, 10), association="Flitiga FK"
        )
        # A newcomer: one enquiry, escalated later.
        newcomer, newcomer_esc = escalated_enquiry(
            session, now=local(2026, 3, 12, 10), association="Lilla Syföreningen"
        )
        newcomer.guesses = [["teknik", 0.41], ["kultur_fritid", 0.38]]
        # A lone user without an association, routed and then declined by kultur_fritid.
        lone = routed_enquiry(session, now=local(2026, 3, 13, 9), association=None)
        lone_esc = lifecycle.escalated(
            session=session,
            enquiry=lone,
            reason=EscalationReason.NOT_OURS,
            actor="staff:1",
            now=local(2026, 3, 13, 10),
            card=False,
        )
        q.claim(session=session, escalation_id=newcomer_esc, staff_user_id=ALICE, now=MONDAY_9)

    with session_scope(engine) as session:
        items = q.list_queue(session=session, now=MONDAY_9)
        assert [i.escalation.id for i in items] == [regular_esc, newcomer_esc, lone_esc.id]
        by_id = {i.escalation.id: i for i in items}
        assert by_id[regular_esc].rarely_in_contact is False
        assert by_id[regular_esc].association == "Flitiga FK"
        assert by_id[newcomer_esc].rarely_in_contact is True
        assert by_id[newcomer_esc].guesses == [("teknik", 0.41), ("kultur_fritid", 0.38)]
        assert by_id[lone_esc.id].rarely_in_contact is True
        assert by_id[lone_esc.id].association is None
        assert by_id[lone_esc.id].department is not None
        # Escalated Thursday 12 March 10:00, seen Monday 16 March 09:00 local.
        assert by_id[newcomer_esc].waited == timedelta(days=3, hours=23)
        assert by_id[newcomer_esc].waited_working_hours == pytest.approx(6 + 8 + 1)

        unclaimed = q.list_queue(session=session, now=MONDAY_9, filter="unclaimed")
        assert [i.escalation.id for i in unclaimed] == [regular_esc, lone_esc.id]
        mine = q.list_queue(session=session, now=MONDAY_9, filter="mine", staff_user_id=ALICE)
        assert [i.escalation.id for i in mine] == [newcomer_esc]
        assert q.list_queue(session=session, filter="mine", staff_user_id=BOB) == []
        dept = q.list_queue(session=session, now=MONDAY_9, department_key="kultur_fritid")
        assert [i.escalation.id for i in dept] == [lone_esc.id]
        with refused(q.QueueError, "Unknown department 'nope'"):
            q.list_queue(session=session, department_key="nope")
        with refused(q.QueueError, "Unknown filter"):
            q.list_queue(session=session, filter="everything")
        assert regular.id and newcomer.id


def test_rare_contact_threshold_counts_this_enquiry(engine: Engine) -> None:
    with session_scope(engine) as session:
        for day in range(1, RARE_CONTACT_MAX_ENQUIRIES):
            new_enquiry(session, now=local(2026, 3, day, 10), association="Tvåan")
        _, at_limit = escalated_enquiry(session, now=MONDAY_9, association="Tvåan")
        [item] = [i for i in q.list_queue(session=session, now=MONDAY_9)]
        assert item.escalation.id == at_limit
        assert item.rarely_in_contact is True
        # Enquiries older than a year do not count.
        new_enquiry(session, now=local(2025, 3, 1, 10), association="Tvåan")
        assert q.list_queue(session=session, now=MONDAY_9)[0].rarely_in_contact is True
        new_enquiry(session, now=local(2026, 3, 15, 10), association="Tvåan")
        assert q.list_queue(session=session, now=MONDAY_9)[0].rarely_in_contact is False


def test_working_hours_between_skips_nights_and_weekends() -> None:
    friday_15 = local(2026, 3, 13, 15)
    assert working_hours_between(friday_15, local(2026, 3, 16, 13)) == pytest.approx(6)
    assert working_hours_between(friday_15, local(2026, 3, 14, 12)) == pytest.approx(1)
    assert working_hours_between(friday_15, friday_15) == 0


def test_claim_own_again_and_refuse_other(engine: Engine) -> None:
    enquiry_id, escalation_id = _one_escalation(engine)
    with session_scope(engine) as session:
        staff_member(session, ALICE, "coordinator", name="Alice", person_id=ALICE)
        first = q.claim(session=session, escalation_id=escalation_id, staff_user_id=ALICE)
        assert first.ok and not first.already_mine
        again = q.claim(session=session, escalation_id=escalation_id, staff_user_id=ALICE)
        assert again.ok and again.already_mine
        other = q.claim(session=session, escalation_id=escalation_id, staff_user_id=BOB)
        assert not other.ok
        assert other.holder == ALICE
        assert other.holder_name == "Alice"
        assert "claimed by Alice" in translate("en", other.message())
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None
        assert events(session, enquiry).count(EventKind.CLAIMED) == 1
        with refused(q.QueueError, "No escalation"):
            q.claim(session=session, escalation_id=99999, staff_user_id=ALICE)


def _waiting_for_a_lock(engine: Engine) -> bool:
    """Tell whether some session of this database waits for a lock (PostgreSQL)."""
    with engine.connect() as conn:
        waiting = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return int(waiting) > 0


def test_claim_is_atomic_across_sessions(engine: Engine) -> None:
    """Bob claims while Alice's claim is uncommitted: he waits, then loses to her."""
    _, escalation_id = _one_escalation(engine)
    outcome: dict[str, q.ClaimResult] = {}

    alice = Session(engine, expire_on_commit=False)
    try:
        mine = q.claim(session=alice, escalation_id=escalation_id, staff_user_id=ALICE)
        assert mine.ok

        def bob_claims() -> None:
            with session_scope(engine) as bob:
                outcome["bob"] = q.claim(
                    session=bob, escalation_id=escalation_id, staff_user_id=BOB
                )

        bob_asked: list[str] = []

        def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if threading.current_thread() is thread:
                bob_asked.append(statement)

        thread = threading.Thread(target=bob_claims)
        event.listen(engine, "before_cursor_execute", seen)
        try:
            thread.start()
            # Wait until Bob's claim has reached the database …
            assert wait_until(lambda: any("escalation" in s for s in bob_asked), 10), bob_asked
            if engine.dialect.name == "postgresql":
                # … where PostgreSQL shows him waiting for Alice's lock …
                assert wait_until(lambda: _waiting_for_a_lock(engine), 10)
            # … and he does not get through while her transaction is open: not finishing
            # within a while is the behaviour under test (SQLite shows no waiter to look at).
            assert not wait_until(lambda: not thread.is_alive(), 0.5)
            assert "bob" not in outcome, "Bob's claim should wait for Alice's transaction"
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        alice.commit()
    finally:
        alice.close()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert outcome["bob"].ok is False
    assert outcome["bob"].holder == ALICE
    with session_scope(engine) as session:
        escalation = session.get(Escalation, escalation_id)
        assert escalation is not None and escalation.claimed_by == ALICE


def test_many_concurrent_claims_exactly_one_wins(engine: Engine) -> None:
    _, escalation_id = _one_escalation(engine)
    contenders = [1001, 1002, 1003, 1004, 1005]
    with session_scope(engine) as session:
        staff_people(session, *contenders)
    barrier = threading.Barrier(len(contenders))
    results: dict[int, bool] = {}
    errors: list[BaseException] = []

    def contend(user_id: int) -> None:
        try:
            barrier.wait(timeout=10)
            with session_scope(engine) as session:
                results[user_id] = q.claim(
                    session=session, escalation_id=escalation_id, staff_user_id=user_id
                ).ok
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=contend, args=(u,)) for u in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    winners = [u for u, ok in results.items() if ok]
    assert len(winners) == 1
    with session_scope(engine) as session:
        escalation = session.get(Escalation, escalation_id)
        assert escalation is not None and escalation.claimed_by == winners[0]
        claimed = session.exec(
            select(EnquiryEvent).where(EnquiryEvent.kind == EventKind.CLAIMED)
        ).all()
        assert len(claimed) == 1


def test_answer_claims_implicitly_and_refuses_other_holder(engine: Engine) -> None:
    enquiry_id, escalation_id = _one_escalation(engine)
    with session_scope(engine) as session:
        with refused(q.QueueError, "empty"):
            q.answer(session=session, escalation_id=escalation_id, text=" ", staff_user_id=BOB)
        q.claim(session=session, escalation_id=escalation_id, staff_user_id=ALICE)
        with refused(q.QueueError, "claimed by"):
            q.answer(session=session, escalation_id=escalation_id, text="Hej", staff_user_id=BOB)
        assert outbox(session, kind="answer") == []
    _, second = _one_escalation(engine)
    with session_scope(engine) as session:
        message = q.answer(
            session=session,
            escalation_id=second,
            text="Kontakta föreningsservice.",
            staff_user_id=BOB,
            now=MONDAY_9,
        )
        assert message is not None
        escalation = session.get(Escalation, second)
        assert escalation is not None
        assert escalation.claimed_by == BOB
        assert escalation.resolution == "answered"
        sent = as_sent(session, message)
        assert "samordnaren" in sent.text
        assert buttons(sent)[0].startswith("fb:")
        with refused(q.QueueError, "already resolved"):
            q.answer(session=session, escalation_id=second, text="Igen", staff_user_id=BOB)
    assert enquiry_id


def test_route_gives_fresh_deadline_training_candidate_and_forward(engine: Engine) -> None:
    with session_scope(engine) as session:
        department = departments.department_by_key(session=session, key="teknik")
        assert department is not None
        set_group_chat(department, DEPARTMENT_CHAT)
        enquiry, escalation_id = escalated_enquiry(
            session, now=local(2026, 3, 13, 15), text="Får vi ha loppis på torget i maj?"
        )
        enquiry.intent = "topic_bidrag"
        result = q.route(
            session=session,
            escalation_id=escalation_id,
            department_key="teknik",
            staff_user_id=ALICE,
            email_enabled=True,
            now=MONDAY_9,
        )
        enquiry_id = enquiry.id
    with session_scope(engine) as session:
        found = session.get(Enquiry, enquiry_id)
        assert found is not None
        enquiry = found
        assert enquiry.status == EnquiryStatus.FORWARDED
        assert enquiry.routed_at == MONDAY_9
        # Fresh deadline from Monday 09:00: 48 working hours = six working days later.
        assert enquiry.sla_due_at == local(2026, 3, 24, 9)
        assert enquiry.reminded_at is None
        escalation = session.get(Escalation, escalation_id)
        assert escalation is not None
        assert escalation.resolution == "rerouted" and escalation.claimed_by == ALICE
        [forward] = outbox(session, kind="forward")
        assert forward.chat_id == DEPARTMENT_CHAT
        assert "loppis" in forward.text
        [candidate] = session.exec(select(TrainingCandidate)).all()
        assert candidate.enquiry_id == enquiry_id
        assert candidate.text == "Får vi ha loppis på torget i maj?"
        teknik_intents = sorted(
            intent for intent, key in crud.routes_map(session=session).items() if key == "teknik"
        )
        assert candidate.intent == teknik_intents[0]
        assert candidate.accepted is None and candidate.reviewed_at is None
        assert result.candidate is not None
        [rerouted] = session.exec(
            select(EnquiryEvent).where(
                EnquiryEvent.enquiry_id == enquiry_id, EnquiryEvent.kind == EventKind.REROUTED
            )
        ).all()
        assert rerouted.actor == f"staff:{ALICE}"
        assert rerouted.detail["department"] == "teknik"
        assert rerouted.detail["training_intent"] == candidate.intent
        assert rerouted.detail["previous_intent"] == "topic_bidrag"
        assert "first of" in rerouted.detail["training_choice"]
        assert events(session, enquiry)[-4:] == ["escalated", "claimed", "rerouted", "forwarded"]
        [notice] = outbox(session, kind="rerouted")
        assert notice.chat_id == ASSOCIATION_CHAT
        assert f"{enquiry.reference} är nu skickat till Tekniska förvaltningen" in notice.text
        assert "6 arbetsdagar" in notice.text


@pytest.mark.parametrize("smtp", [False, True], ids=["no-smtp", "smtp"])
def test_route_to_a_department_nobody_can_reach_never_goes_into_the_void(
    engine: Engine, smtp: bool
) -> None:
    """teknik takes Telegram but has no group: its mailbox by e-mail, else the coordinator."""
    with session_scope(engine) as session:
        enquiry, escalation_id = escalated_enquiry(session, now=MONDAY_9, text="Vem lagar gungan?")
        result = q.route(
            session=session,
            escalation_id=escalation_id,
            department_key="teknik",
            staff_user_id=ALICE,
            email_enabled=smtp,
            now=MONDAY_9,
        )
        unreachable = result.unreachable()
        said = translate("sv", unreachable) if unreachable is not None else None
        new_escalation = result.escalation.id if result.escalation is not None else None
    with Session(engine) as session:
        found = session.get(Enquiry, enquiry.id)
        assert found is not None
        rows = outbox(session)
        escalations = session.exec(
            select(Escalation)
            .where(Escalation.enquiry_id == enquiry.id)
            .order_by(col(Escalation.id))
        ).all()
        history = events(session, found)
    forwards = [(r.row.channel, r.row.recipient) for r in rows if r.kind == "forward"]
    if smtp:
        assert found.status == EnquiryStatus.FORWARDED and said is None
        assert forwards == [("email", "department")]
        assert [e.resolution for e in escalations] == ["rerouted"]
        [told] = [r for r in rows if r.kind == "rerouted"]
        assert "Tekniska förvaltningen" in told.text
        assert history[-2:] == ["rerouted", "forwarded"]
    else:
        assert found.status == EnquiryStatus.ESCALATED and forwards == []
        assert [(e.reason, e.resolution) for e in escalations] == [
            ("unsure", "rerouted"),
            ("unreachable", None),
        ]
        assert new_escalation == escalations[1].id
        assert said is not None and f"{found.reference} kunde inte skickas till teknik" in said
        assert "SMTP_HOST" in said  # why: no group, and e-mail is off
        assert [r.kind for r in rows if r.kind in ("card", "rerouted")] == ["card"]
        assert history[-2:] == ["rerouted", "escalated"]


def test_route_to_unknown_department_changes_nothing(engine: Engine) -> None:
    _, escalation_id = _one_escalation(engine)
    with session_scope(engine) as session:
        with refused(q.QueueError, "Unknown department 'nope'"):
            q.route(
                session=session,
                escalation_id=escalation_id,
                department_key="nope",
                staff_user_id=1,
                email_enabled=True,
            )
        escalation = session.get(Escalation, escalation_id)
        assert escalation is not None and escalation.claimed_by is None
        assert escalation.resolved_at is None
        assert session.exec(select(TrainingCandidate)).all() == []


def test_close_tells_association_in_its_language(engine: Engine) -> None:
    enquiry_id, escalation_id = _one_escalation(engine, language="en")
    with session_scope(engine) as session:
        with refused(q.QueueError, "Unknown reason 'bored'"):
            q.close(
                session=session, escalation_id=escalation_id, reason_code="bored", staff_user_id=1
            )
        message = q.close(
            session=session,
            escalation_id=escalation_id,
            reason_code="duplicate",
            staff_user_id=ALICE,
            now=MONDAY_9,
        )
        assert message is not None
        sent = as_sent(session, message)
        assert sent.chat_id == ASSOCIATION_CHAT
        assert sent.kind == "closed"
        assert "is closed" in sent.text and "already in another enquiry" in sent.text
    with session_scope(engine) as session:
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None
        assert enquiry.status == EnquiryStatus.CLOSED and enquiry.closed_at == MONDAY_9
        escalation = session.get(Escalation, escalation_id)
        assert escalation is not None and escalation.resolution == "closed:duplicate"
        assert events(session, enquiry)[-1] == "closed"
        with refused(q.QueueError, "already resolved"):
            q.close(
                session=session, escalation_id=escalation_id, reason_code="spam", staff_user_id=1
            )


def test_training_export_contains_only_accepted_and_loads(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        texts = {
            "ok": 'Får vi sälja "korv" på torget? [inte en entitet](x) #1\nrad två: ja',
            "no": "Det här är skräp",
            "fixed": "Hur bokar vi idrottshallen?",
        }
        rows = {
            key: TrainingCandidate(text=value, intent="topic_parker")
            for key, value in texts.items()
        }
        for row in rows.values():
            session.add(row)
        session.flush()
        review(session=session, candidate_id=rows["ok"].id, accept=True, reviewer="cli")  # type: ignore[arg-type]
        review(session=session, candidate_id=rows["no"].id, accept=False, reviewer="cli")  # type: ignore[arg-type]
        review(
            session=session,
            candidate_id=rows["fixed"].id,  # type: ignore[arg-type]
            accept=True,
            reviewer="cli",
            intent="topic_lokalbokning",
        )
        text, count = export_nlu_yaml(session=session)
    assert count == 2
    data = yaml.safe_load(text)
    assert data["version"] == "3.1"
    examples = {item["intent"]: item["examples"] for item in data["nlu"]}
    assert set(examples) == {"topic_parker", "topic_lokalbokning"}
    assert examples["topic_lokalbokning"] == "- Hur bokar vi idrottshallen?\n"
    assert examples["topic_parker"] == (
        '- Får vi sälja "korv" på torget? (inte en entitet)(x) #1 rad två: ja\n'
    )
    assert "skräp" not in text


def test_training_review_refuses_unknown_intent(engine: Engine) -> None:
    from db.routing.training import TrainingError

    with session_scope(engine) as session:
        row = TrainingCandidate(text="x", intent="topic_parker")
        session.add(row)
        session.flush()
        with refused(TrainingError, "Unknown intent"):
            review(session=session, candidate_id=row.id, accept=True, reviewer="cli", intent="nope")  # type: ignore[arg-type]
        assert row.accepted is None


# --- command line ------------------------------------------------------------------------


@pytest.fixture
def cli(sqlite_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Return (invoke, engine) for the CLI on a migrated, seeded SQLite file."""
    from bot import cli as cli_module
    from harness.database import migrate_and_seed

    engine = migrate_and_seed(sqlite_url)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COORDINATOR_CHAT_ID", "-100900")
    monkeypatch.chdir(Path(sqlite_url.split("///", 1)[1]).parent)
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli_module.app, list(args))

    yield invoke, engine
    engine.dispose()


def test_cli_queue_flow(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    invoke, engine = cli
    with session_scope(engine) as session:
        staff_member(session, ALICE, "coordinator", name="Alice", person_id=ALICE)
        staff_member(session, BOB, "staff", name="Bob", person_id=BOB)
        enquiry, first = escalated_enquiry(session, now=MONDAY_9, text="Vem äger fotbollsplanen?")
        reference = enquiry.reference
        _, second = escalated_enquiry(session, now=MONDAY_9, text="Kan vi få bidrag?")
        _, third = escalated_enquiry(session, now=MONDAY_9, text="Köp billiga klockor")
        culture = departments.department_by_key(session=session, key="kultur_fritid")
        assert culture is not None
        set_group_chat(culture, DEPARTMENT_CHAT)  # reachable: the route forwards there

    result = invoke("queue", "list")
    assert result.exit_code == 0, result.output
    assert reference in result.output and str(second) in result.output

    result = invoke("queue", "answer", str(first), "Teknik äger planen.", "--as", str(BOB))
    assert result.exit_code == 1
    assert "not a coordinator" in result.output
    result = invoke("queue", "answer", str(first), "Teknik äger planen.")
    assert result.exit_code == 2

    result = invoke("queue", "answer", str(first), "Teknik äger planen.", "--as", str(ALICE))
    assert result.exit_code == 0, result.output
    result = invoke("queue", "list", "--mine", "--as", str(ALICE))
    assert result.exit_code == 0 and "The queue is empty." in result.output

    result = invoke("queue", "show", reference)
    assert result.exit_code == 0, result.output
    assert "History:" in result.output and "answered" in result.output
    assert "staff:111" in result.output

    result = invoke("queue", "route", str(second), "nope", "--as", "cli")
    assert result.exit_code == 1 and "Unknown department 'nope'" in result.output
    result = invoke("queue", "route", str(second), "kultur_fritid", "--as", "cli")
    assert result.exit_code == 0, result.output
    assert "Training candidate" in result.output
    assert "sent to kultur_fritid and on to the department" in result.output

    result = invoke("queue", "close", str(third), "bored", "--as", "cli")
    assert result.exit_code == 1 and "Unknown reason" in result.output
    result = invoke("queue", "close", str(third), "spam", "--as", "cli")
    assert result.exit_code == 0, result.output

    result = invoke("queue", "list", "--unclaimed")
    assert result.exit_code == 0 and "The queue is empty." in result.output
    result = invoke("queue", "sweep")
    assert result.exit_code == 0 and "0 reminded, 0 escalated" in result.output

    result = invoke("training", "list")
    assert result.exit_code == 0 and "pending" in result.output
    with session_scope(engine) as session:
        [candidate] = session.exec(select(TrainingCandidate)).all()
        candidate_id = str(candidate.id)
    result = invoke("training", "review", candidate_id)
    assert result.exit_code == 2
    result = invoke("training", "review", candidate_id, "--accept", "--intent", "nope")
    assert result.exit_code == 1 and "Unknown intent" in result.output
    result = invoke("training", "review", candidate_id, "--accept")
    assert result.exit_code == 0, result.output
    out = tmp_path / "export" / "nlu_new.yml"
    result = invoke("training", "export", str(out))
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["nlu"][0]["examples"] == "- Kan vi få bidrag?\n"

    with session_scope(engine) as session:
        notices = [m for m in outbox(session) if m.kind in {"rerouted", "closed"}]
        assert len(notices) == 2  # the reroute and the spam close told the association
        assert session.exec(select(Enquiry).where(Enquiry.status == "closed")).first()


def test_cli_route_to_a_department_nobody_can_reach_says_so(cli) -> None:  # type: ignore[no-untyped-def]
    invoke, engine = cli
    with session_scope(engine) as session:
        staff_member(session, ALICE, "coordinator", name="Alice", person_id=ALICE)
        enquiry, escalation_id = escalated_enquiry(session, now=MONDAY_9, text="Vem lagar gungan?")
        reference = enquiry.reference
    result = invoke("queue", "route", str(escalation_id), "teknik", "--as", str(ALICE))
    assert result.exit_code == 0, result.output
    assert f"{reference} could not be sent to teknik" in result.output
    assert "SMTP_HOST" in result.output and "sent to teknik and on" not in result.output
    listed = invoke("queue", "list", "--unclaimed")
    assert reference in listed.output and "cannot be reached" in listed.output


def test_cli_sweep_fires_due_deadlines(cli) -> None:  # type: ignore[no-untyped-def]
    invoke, engine = cli
    with session_scope(engine) as session:
        routed_enquiry(session, now=local(2020, 1, 3, 15), sla_hours=8)
    result = invoke("queue", "sweep")
    assert result.exit_code == 0, result.output
    assert "0 reminded, 1 escalated" in result.output
    with session_scope(engine) as session:
        [card] = outbox(session, kind="card")
        assert card.chat_id == -100900
    result = invoke("queue", "sweep")
    assert "0 reminded, 0 escalated" in result.output


def test_cli_queue_speaks_swedish_to_a_swedish_locale(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    invoke, _engine = cli
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "sv_SE.UTF-8")
    result = invoke("queue", "list")
    assert result.exit_code == 0, result.output
    assert result.output == "Kön är tom.\n"
    result = invoke("queue", "sweep")
    assert result.exit_code == 0, result.output
    assert result.output == "Tidsfrister kontrollerade – påminnelser: 0, eskaleringar: 0.\n"
    result = invoke("queue", "list", "--unclaimed", "--mine")
    assert result.exit_code == 2
    assert "Använd antingen --unclaimed eller --mine, inte båda." in result.output
    result = invoke("training", "review", "999", "--accept")
    assert result.exit_code == 1
    assert "Det finns inget träningsförslag med id 999." in result.output


def test_make_engine_new_process_view(sqlite_url: str) -> None:
    """The queue reads what another engine wrote (the bot and the CLI share the database)."""
    from harness.database import migrate_and_seed

    writer = migrate_and_seed(sqlite_url)
    with session_scope(writer) as session:
        escalated_enquiry(session, now=MONDAY_9)
    writer.dispose()
    reader = make_engine(sqlite_url)
    try:
        with session_scope(reader) as session:
            assert len(q.list_queue(session=session, now=MONDAY_9)) == 1
    finally:
        reader.dispose()


def test_render_card_shows_what_the_coordinator_needs(engine: Engine) -> None:
    from bot.messages.coordinator import card, close_picker, route_picker

    with session_scope(engine) as session:
        staff_member(session, ALICE, "coordinator", name="Alice", person_id=ALICE)
        enquiry, escalation_id = escalated_enquiry(
            session,
            now=local(2026, 3, 12, 10),
            association="Lilla Syföreningen",
            reason=EscalationReason.HUMAN,
            text="نريد التحدث مع شخص من البلدية عن جمعيتنا",
            detected_language="ar",
        )
        enquiry.guesses = [["kultur_fritid", 0.38], ["teknik", 0.41], ["okand", 0.05], ["x", 0.01]]
        q.claim(session=session, escalation_id=escalation_id, staff_user_id=ALICE)
        escalation = session.get(Escalation, escalation_id)
        assert escalation is not None
        shown = card(session=session, escalation=escalation, now=MONDAY_9, language="sv")
        text = shown.text
        assert text.splitlines()[:6] == [
            f"Ärende {enquiry.reference} – vill prata med en människa",
            "Förening: Lilla Syföreningen (hör sällan av sig)",
            "Språk: arabiska · föreningens språk: svenska",
            "Väntat: 3 d 23 h (15 arbetstimmar)",
            "Förslag: Tekniska förvaltningen 41 %, Kultur- och fritidsförvaltningen 38 %, "
            "okand 5 %",
            "Tagen av: Alice",
        ]
        assert text.endswith(enquiry.text)
        assert [choice.action for row in shown.choices for choice in row] == [
            f"q:claim:{escalation_id}",
            f"q:answer:{escalation_id}",
            f"q:route:{escalation_id}",
            f"q:close:{escalation_id}",
        ]
        fresh = card(
            session=session, escalation=escalation, now=local(2026, 3, 12, 10, 7), language="en"
        )
        assert "Waited: 7 min (0.1 working hours)" in fresh.text
        picks = [
            choice.action
            for row in route_picker(session=session, escalation_id=escalation_id, language="sv")
            for choice in row
        ]
        assert f"q:to:{escalation_id}:teknik" in picks and len(picks) >= 8
        reasons = [choice.action for row in close_picker(escalation_id, "sv") for choice in row]
        assert reasons[-1] == f"q:why:{escalation_id}:other" and len(reasons) == 5


def test_cli_queue_list_names_todays_floods(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from db.people.limits import count_refusal

    invoke, engine = cli
    monkeypatch.setenv("LANG", "en_GB.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    assert "refused" not in invoke("queue", "list").stdout
    today = datetime.now(UTC).date()
    with session_scope(engine) as session:
        for _ in range(4):
            count_refusal(session, person="telegram:4711", day=today)
        count_refusal(session, person="telegram:4712", day=today - timedelta(days=1))
    result = invoke("queue", "list")
    assert result.exit_code == 0, result.output
    assert "Messages refused today (too many in a short time): telegram:4711 ×4" in result.stdout
    assert "telegram:4712" not in result.stdout
