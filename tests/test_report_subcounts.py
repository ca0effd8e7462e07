"""Sub-counts of published cells cannot be worked out either: the reasons questions went to the
coordinator, and the questions referred to other authorities (bot/channels/desk/stats.py).

The proof is the indistinguishability of tests/test_report_suppression.py: every page, JSON and
CSV, for every period choice, in Swedish and Arabic, is fetched; then hidden sub-counts are
changed without changing any published number (an escalation's reason moved between two
reasons of fewer than five that month; a referral moved between two authorities each with fewer
than five that month); every byte must be the same. Before this, a department's row listed
"failed: 2, unavailable: 1", and `?months=1` against `?months=2` gave an authority's hidden
month by subtraction. A change to a published sub-cell shows: the check can fail.
"""

from __future__ import annotations

import itertools

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.channels.desk.stats import OTHER_REASONS, SUPPRESS_BELOW
from db.enquiries import (
    lifecycle,
)
from db.models import Enquiry, Escalation
from db.plumbing.session import session_scope
from db.routing.referral import refer
from harness.desk import Clock, desk_client
from harness.people import telegram_person
from harness.workflow import escalated_enquiry, local
from tests.test_report_suppression import PERIODS, _everything

NOW = local(2026, 4, 15, 12)
FEBRUARY = local(2026, 2, 9, 9)
MARCH = local(2026, 3, 9, 9)
APRIL = local(2026, 4, 6, 9)
_users = iter(range(900_000, 999_999))


def _escalated(engine: Engine, reason: str, count: int) -> None:
    with session_scope(engine) as session:
        for number in range(count):
            escalated_enquiry(
                session,
                now=FEBRUARY,
                association=f"Förening {reason} {number}",
                reason=reason,
                detected_language="sv",
            )


def _referred(engine: Engine, when, authority: str, count: int) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        for _ in range(count):
            user = telegram_person(session=session, telegram_user_id=next(_users), chat_id=None)
            enquiry, _ = lifecycle.received(
                session=session,
                text="En fråga till en annan myndighet",
                language="sv",
                detected_language="sv",
                user=user,
                now=when,
            )
            refer(session=session, enquiry=enquiry, authority_key=authority, actor="t", now=when)


def _fabricate(engine: Engine) -> None:
    # February: fourteen questions the coordinator had to place; two reasons of fewer than five.
    _escalated(engine, "unsure", 6)
    _escalated(engine, "human", 5)
    _escalated(engine, "failed", 2)
    _escalated(engine, "unavailable", 1)
    # March: eight referred, five of them to one authority; April: five to another.
    _referred(engine, MARCH, "skatteverket", 5)
    _referred(engine, MARCH, "polisen", 2)
    _referred(engine, MARCH, "bolagsverket", 1)
    _referred(engine, APRIL, "polisen", 5)


def _move_reason(engine: Engine, old: str, new: str) -> None:
    with session_scope(engine) as session:
        escalation = session.exec(select(Escalation).where(Escalation.reason == old)).first()
        assert escalation is not None
        escalation.reason = new


def _move_referral(engine: Engine, month_start, old: str, new: str) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        enquiry = session.exec(
            select(Enquiry).where(Enquiry.referred_to == old, col(Enquiry.created_at) < month_start)
        ).first()
        assert enquiry is not None
        enquiry.referred_to = new


async def test_no_hidden_sub_count_changes_any_page_or_download(engine: Engine) -> None:
    _fabricate(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        before = await _everything(client)
        _move_reason(engine, "failed", "unavailable")  # failed 2 -> 1, unavailable 1 -> 2
        _move_referral(engine, APRIL, "polisen", "bolagsverket")  # March: 2 -> 1, 1 -> 2
        after = await _everything(client)
        differing = sorted(path for path in before if before[path] != after[path])
        assert differing == [], (differing, after[differing[0]] if differing else "")
        # The check can fail: a referral taken from a published authority-month shows.
        _move_referral(engine, APRIL, "skatteverket", "polisen")
        shown = await _everything(client)
    assert before["/rapport.json?months=2"] != shown["/rapport.json?months=2"]
    assert (
        before["/rapport.csv?table=authorities&months=2"]
        != shown["/rapport.csv?table=authorities&months=2"]
    )


async def test_the_sub_counts_shown_are_never_below_the_threshold(engine: Engine) -> None:
    _fabricate(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        reports = {m: await (await client.get(f"/rapport.json?months={m}")).json() for m in PERIODS}
        page = await (await client.get("/rapport?months=3&lang=sv")).text()
    for report in reports.values():
        for row in report["rows"]:  # per department: no breakdown at all
            assert "escalation_reasons" not in row and "referred" not in row
        for month in report["months"]:
            assert all(
                count == 0 or count >= SUPPRESS_BELOW
                for count in (*month["escalation_reasons"].values(), month["referred"])
            ), month
            if month["escalations"]:
                assert sum(month["escalation_reasons"].values()) == month["escalations"]
        for row in report["authorities"]:
            assert row.get("received", 0) == 0 or row["received"] >= SUPPRESS_BELOW
    months = {m["month"]: m for m in reports[3]["months"]}
    # unsure 6 by name; human 5 joins the three below the threshold, so none can be subtracted.
    assert months["2026-02"]["escalation_reasons"] == {OTHER_REASONS: 8, "unsure": 6}
    assert months["2026-03"]["referred"] == 5 and months["2026-04"]["referred"] == 5
    assert "övriga orsaker tillsammans: 8" in page
    # The probe's subtraction over every pair of periods gives a published sub-cell or zero.
    for shorter, longer in itertools.pairwise(PERIODS):
        small = {r["authority"]: r.get("received") or 0 for r in reports[shorter]["authorities"]}
        large = {r["authority"]: r.get("received") or 0 for r in reports[longer]["authorities"]}
        for key, count in small.items():
            difference = large[key] - count
            assert difference == 0 or difference >= SUPPRESS_BELOW, (key, shorter, longer)
    totals = {r["authority"]: r for r in reports[2]["authorities"]}
    assert totals["polisen"]["received"] == 5  # April; March's two are not added
    assert totals["skatteverket"]["received"] == 5
    assert totals["bolagsverket"]["suppressed"] is True and "received" not in totals["bolagsverket"]
