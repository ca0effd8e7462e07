"""The public report's figures on real databases: exact medians, SLA shares, suppression."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from bot.channels.desk.stats import SUPPRESS_BELOW, csv_rows, public_report, report_cells
from db.enquiries import lifecycle
from db.enquiries import queue as q
from db.enquiries.workflow import answer_enquiry
from db.models import EscalationReason
from db.plumbing.session import session_scope
from harness.people import staff_people
from harness.workflow import escalated_enquiry, local, routed_enquiry

NOW = local(2026, 4, 15, 12)
MONDAY_MARCH = local(2026, 3, 2, 9)  # 8 working hours later: Tuesday 09:00
MONDAY_APRIL = local(2026, 4, 6, 9)
COORDINATOR = 111


def _answer(session, enquiry, hours: float) -> None:  # type: ignore[no-untyped-def]
    answer_enquiry(
        session=session,
        enquiry=enquiry,
        text="Svar",
        actor="staff:1",
        now=enquiry.created_at + timedelta(hours=hours),
    )


def _fabricate(engine: Engine) -> None:
    with session_scope(engine) as session:
        # kultur_fritid, March: six enquiries, deadline Tuesday 09:00.
        march = [
            routed_enquiry(session, now=MONDAY_MARCH, sla_hours=8, association=f"Förening {i}")
            for i in range(6)
        ]
        for enquiry, hours in zip(march[:4], (2, 4, 10, 48), strict=True):
            _answer(session, enquiry, hours)  # 2, 4, 10 on time; 48 late
        # march[4] stays unanswered past its deadline: late.
        late = march[5]
        escalation = lifecycle.escalated(
            session=session,
            enquiry=late,
            reason=EscalationReason.SLA,
            actor="lotsen",
            now=MONDAY_MARCH + timedelta(hours=25),
            card=False,
        )
        assert escalation.id is not None
        staff_people(session, COORDINATOR)
        q.answer(
            session=session,
            escalation_id=escalation.id,
            text="Svar från samordnaren",
            staff_user_id=COORDINATOR,
            now=MONDAY_MARCH + timedelta(hours=72),
        )
        # kultur_fritid, April: exactly the threshold, all answered quickly.
        for i, hours in enumerate((1, 2, 3, 4, 5)):
            enquiry = routed_enquiry(session, now=MONDAY_APRIL, sla_hours=8, association=f"Lag {i}")
            _answer(session, enquiry, hours)
        # teknik, March: too few to publish.
        for i in range(SUPPRESS_BELOW - 1):
            routed_enquiry(
                session, now=MONDAY_MARCH, department_key="teknik", association=f"Klubb {i}"
            )
        # Not routed, April: two escalations.
        for i in range(2):
            escalated_enquiry(session, now=MONDAY_APRIL, association=f"Ensam {i}")
        # Outside the twelve-month window.
        routed_enquiry(session, now=local(2025, 3, 3, 9), association="Gammal")


def test_cells_have_exact_medians_shares_and_escalations(engine: Engine) -> None:
    _fabricate(engine)
    with session_scope(engine) as session:
        cells = {(c.department_key, c.month): c for c in report_cells(session=session, now=NOW)}
    assert set(cells) == {
        ("kultur_fritid", "2026-03"),
        ("teknik", "2026-03"),
        ("kultur_fritid", "2026-04"),
        ("", "2026-04"),
    }
    march = cells[("kultur_fritid", "2026-03")]
    assert (march.received, march.answered, march.on_time, march.late) == (6, 5, 3, 3)
    assert march.median_hours == 10.0
    assert march.sla_share == 0.5
    assert march.escalations == 1 and dict(march.reasons) == {"sla": 1}
    april = cells[("kultur_fritid", "2026-04")]
    assert (april.received, april.median_hours, april.sla_share) == (5, 3.0, 1.0)
    assert not april.suppressed
    assert cells[("teknik", "2026-03")].suppressed
    unrouted = cells[("", "2026-04")]
    assert unrouted.suppressed and unrouted.escalations == 2


def test_public_report_leaves_out_small_cells(engine: Engine) -> None:
    _fabricate(engine)
    with session_scope(engine) as session:
        report = public_report(session=session, now=NOW)
    assert report["period"] == {"from_month": "2025-05", "to_month": "2026-04"}
    assert report["suppression_threshold"] == SUPPRESS_BELOW
    rows = {(r["department"], r["month"]): r for r in report["rows"]}
    assert rows[("kultur_fritid", "2026-03")]["answered_within_sla_share"] == 0.5
    assert rows[("kultur_fritid", "2026-03")]["median_hours_to_first_answer"] == 10.0
    # Reasons are published per month over all departments, none below the threshold: the
    # one late question stands among "other" (tests/test_report_suppression.py).
    assert "escalation_reasons" not in rows[("kultur_fritid", "2026-03")]
    march = {m["month"]: m for m in report["months"]}["2026-03"]
    assert march["escalations"] == 1 and march["escalation_reasons"] == {"other": 1}
    small = rows[("teknik", "2026-03")]
    assert small["suppressed"] is True
    assert "received" not in small and "answered_within_sla_share" not in small
    assert "received" not in rows[(None, "2026-04")]
    csv = {(r[0], r[1]): r for r in csv_rows(report)[1:]}
    assert csv[("2026-03", "teknik")][3:] == ["yes"] + [""] * 10
    # received, without the coordinator (all six), out of scope (none), past the deadline (one
    # of six), answered, within the deadline, median hours, no feedback yet, escalations.
    assert csv[("2026-03", "kultur_fritid")][3:] == [
        *("no", "6", "1.0", "0.0", "0.1667", "5", "0.5", "10.0", "", ""),
        "1",
    ]
    overall = {r[0]: r for r in csv_rows(report, "overall")[1:]}
    assert overall["2026-03"][-3:] == ["1", "other=1", "0"]


def test_empty_database_gives_an_empty_report(engine: Engine) -> None:
    with session_scope(engine) as session:
        report = public_report(session=session, now=NOW, months=3)
    assert report["rows"] == []
    assert report["period"] == {"from_month": "2026-02", "to_month": "2026-04"}
