"""The coordinator's routing page, what departments handle and the learning loop, over HTTP.

A real desk on a local port against both database backends: a local desk account and
Telegram staff sign in, and every change is checked in the database (routes, audit trail,
training candidates), including that refused attempts change nothing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from typer.testing import CliRunner

from bot.channels.desk.accounts import add_account
from bot.cli import app as cli_app
from db.enquiries import crud, queue
from db.models import AuditEntry, Department, Route, TrainingCandidate
from db.people.departments import department_by_key
from db.plumbing.session import session_scope
from db.routing.training import export_nlu_yaml
from harness.desk import (
    COORDINATOR_ID,
    OTHER_STAFF_ID,
    STAFF_ID,
    Clock,
    add_staff,
    adopt_session,
    csrf_of,
    desk_client,
    login_path,
    password_attempt,
    person,
)
from harness.people import staff_id
from harness.workflow import escalated_enquiry, local, new_enquiry

NOW = local(2026, 3, 16, 9)
PASSWORD = "ett riktigt långt lösenord"
GRANTS = "topic_bidrag"


@pytest.fixture
async def client(engine: Engine) -> AsyncIterator[TestClient]:
    """Serve the desk with staff and a local coordinator account `samordnare`."""
    add_staff(engine)
    with session_scope(engine) as session:
        add_account(session=session, username="samordnare", password=PASSWORD, role="coordinator")
    async with desk_client(engine, Clock(NOW)) as test_client:
        yield test_client


async def _as_coordinator(client: TestClient) -> None:
    answer = await password_attempt(client, "samordnare", PASSWORD)
    assert answer.status == 303, answer.text
    adopt_session(client, answer)


async def _as_staff(client: TestClient, engine: Engine, user_id: int) -> None:
    path = login_path(engine, user_id, NOW)
    page = await client.get(path)
    response = await client.post(
        "/desk/login",
        data={"csrf": csrf_of(await page.text()), "token": path.split("token=")[1]},
        allow_redirects=False,
    )
    assert response.status == 303


def _department_of(engine: Engine, intent: str) -> str | None:
    with session_scope(engine) as session:
        return crud.routes_map(session=session).get(intent)


def _audit(engine: Engine, entity: str) -> list[AuditEntry]:
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(AuditEntry).where(AuditEntry.entity == entity).order_by(col(AuditEntry.id))
            ).all()
        )


def _row(html: str, intent: str) -> str:
    found = re.search(rf'<tr id="topic-{intent}">(.*?)</tr>', html, re.S)
    assert found is not None, f"no row for {intent}"
    return found.group(1)


async def test_the_page_lists_every_topic_with_its_facts(
    client: TestClient, engine: Engine
) -> None:
    with session_scope(engine) as session:
        for days in (1, 5, 29):
            new_enquiry(session, now=NOW - timedelta(days=days)).intent = GRANTS
        new_enquiry(session, now=NOW - timedelta(days=31)).intent = GRANTS  # too old to count
        culture = department_by_key(session=session, key="kultur_fritid")
        assert culture is not None
    with session_scope(engine) as session:
        from db.routing.edits import mark_verified

        mark_verified(session=session, intent=GRANTS, actor="web:cora", now=NOW - timedelta(days=2))
        routed = len(session.exec(select(Route)).all())
    await _as_coordinator(client)
    page = await client.get("/desk/routes?lang=sv")
    html = await page.text()
    assert page.status == 200
    assert html.count('<tr id="topic-') == routed >= 32
    grants = _row(html, GRANTS)
    assert "Kultur- och fritidsförvaltningen" in grants
    assert "Föreningsservice" in grants  # who answers today
    assert "2026-03-14" in grants and "web:cora" in grants  # last confirmed, by whom
    assert "<td>3</td>" in grants  # questions in the last 30 days
    assert '<option value="kultur_fritid" selected>' in grants

    mine = await (await client.get("/desk/routes?department=utbildning")).text()
    with session_scope(engine) as session:
        education = session.exec(
            select(Route)
            .join(Department, col(Route.department_id) == Department.id)
            .where(Department.key == "utbildning")
        ).all()
    assert mine.count('<tr id="topic-') == len(education) > 0
    assert f'id="topic-{GRANTS}"' not in mine
    found = await (await client.get("/desk/routes?q=bidrag")).text()
    assert f'id="topic-{GRANTS}"' in found
    assert 'id="topic-topic_bygglov"' not in found
    none = await (await client.get("/desk/routes?q=nothing+like+this")).text()
    assert "<tr id=" not in none


async def test_the_coordinator_moves_a_topic_and_the_audit_names_the_account(
    client: TestClient, engine: Engine
) -> None:
    await _as_coordinator(client)
    csrf = csrf_of(await (await client.get("/desk/routes")).text())
    moved = await client.post(
        f"/desk/routes/{GRANTS}",
        data={"csrf": csrf, "department": "utbildning"},
        allow_redirects=False,
    )
    assert moved.status == 303 and "done=moved" in moved.headers["Location"]
    assert _department_of(engine, GRANTS) == "utbildning"
    last = _audit(engine, "route")[-1]
    assert (last.actor, last.entity_key, last.action) == ("web:samordnare", GRANTS, "update")
    assert last.before and last.after
    assert (last.before["department"], last.after["department"]) == ("kultur_fritid", "utbildning")

    again = await client.post(
        f"/desk/routes/{GRANTS}", data={"csrf": csrf, "department": "utbildning"}
    )
    assert "Ämnet gick redan dit" in await again.text()
    assert len([a for a in _audit(engine, "route") if a.entity_key == GRANTS]) == 1

    to_coordinator = await client.post(
        f"/desk/routes/{GRANTS}", data={"csrf": csrf, "department": "coordinator"}
    )
    assert to_coordinator.status == 200
    assert _department_of(engine, GRANTS) is None
    assert _audit(engine, "route")[-1].action == "delete"
    html = await (await client.get("/desk/routes?department=coordinator")).text()
    assert '<option value="coordinator" selected>' in _row(html, GRANTS)

    back = await client.post(
        f"/desk/routes/{GRANTS}", data={"csrf": csrf, "department": "kultur_fritid"}
    )
    assert back.status == 200
    assert _department_of(engine, GRANTS) == "kultur_fritid"
    assert _audit(engine, "route")[-1].action == "create"


async def test_bad_moves_change_nothing(client: TestClient, engine: Engine) -> None:
    await _as_coordinator(client)
    csrf = csrf_of(await (await client.get("/desk/routes")).text())
    before = _audit(engine, "route")
    unknown = await client.post(
        f"/desk/routes/{GRANTS}", data={"csrf": csrf, "department": "nonesuch"}
    )
    assert unknown.status == 400
    assert "Det finns ingen förvaltning med nyckeln nonesuch" in await unknown.text()
    no_topic = await client.post(
        "/desk/routes/topic_nonesuch", data={"csrf": csrf, "department": "teknik"}
    )
    assert no_topic.status == 400 and "topic_nonesuch" in await no_topic.text()
    forged = await client.post(
        f"/desk/routes/{GRANTS}", data={"csrf": "forged", "department": "teknik"}
    )
    assert forged.status == 403
    assert _department_of(engine, GRANTS) == "kultur_fritid"
    assert _department_of(engine, "topic_nonesuch") is None
    assert _audit(engine, "route") == before


@pytest.mark.parametrize("user_id", [STAFF_ID, OTHER_STAFF_ID])
async def test_department_staff_cannot_move_topics(
    client: TestClient, engine: Engine, user_id: int
) -> None:
    await _as_staff(client, engine, user_id)
    assert (await client.get("/desk/routes")).status == 403
    assert (await client.get("/desk/training")).status == 403
    csrf = csrf_of(await (await client.get("/desk/department")).text())
    refused = await client.post(
        f"/desk/routes/{GRANTS}", data={"csrf": csrf, "department": "teknik"}
    )
    assert refused.status == 403
    assert _department_of(engine, GRANTS) == "kultur_fritid"
    assert _audit(engine, "route") == []
    home = await (await client.get("/desk")).text()
    assert "/desk/routes" not in home


async def test_staff_edit_what_their_department_handles(client: TestClient, engine: Engine) -> None:
    with session_scope(engine) as session:
        culture = department_by_key(session=session, key="kultur_fritid")
        assert culture is not None
        original = list(culture.handles)
    assert len(original) >= 3
    await _as_staff(client, engine, STAFF_ID)
    page = await (await client.get("/desk/department/kultur_fritid")).text()
    assert original[0] in page
    form = {"csrf": csrf_of(page)}
    form.update({f"handle_{i}": item for i, item in enumerate(original)})
    form["handle_0"] = "föreningsbidrag: ansökan och beslut"  # reworded
    form["remove_1"] = "1"  # removed
    form["handle_new"] = "lån av utrustning till arrangemang"  # added
    saved = await client.post("/desk/department/kultur_fritid/handles", data=form)
    assert saved.status == 200
    assert "Listan över vad förvaltningen svarar på är sparad." in await saved.text()
    wanted = [form["handle_0"], *original[2:], form["handle_new"]]
    with session_scope(engine) as session:
        culture = department_by_key(session=session, key="kultur_fritid")
        assert culture is not None and culture.handles == wanted
    last = _audit(engine, "department")[-1]
    assert (last.actor, last.entity_key) == (
        f"web:staff:{person(engine, STAFF_ID)}",
        "kultur_fritid",
    )
    assert last.before and last.after
    assert (last.before["handles"], last.after["handles"]) == (original, wanted)

    report = await (await client.get("/rapport")).text()
    assert form["handle_new"] in report and original[1] not in report

    duplicate = await client.post(
        "/desk/department/kultur_fritid/handles",
        data={"csrf": form["csrf"], "handle_0": "samma", "handle_new": "Samma"},
    )
    assert duplicate.status == 400 and "Punkten Samma finns redan" in await duplicate.text()
    too_long = await client.post(
        "/desk/department/kultur_fritid/handles",
        data={"csrf": form["csrf"], "handle_new": "x" * 301},
    )
    assert too_long.status == 400
    with session_scope(engine) as session:
        culture = department_by_key(session=session, key="kultur_fritid")
        assert culture is not None and culture.handles == wanted
    assert len(_audit(engine, "department")) == 1


async def test_staff_cannot_edit_another_departments_handles(
    client: TestClient, engine: Engine
) -> None:
    await _as_staff(client, engine, OTHER_STAFF_ID)
    csrf = csrf_of(await (await client.get("/desk/department")).text())
    refused = await client.post(
        "/desk/department/kultur_fritid/handles", data={"csrf": csrf, "handle_new": "allt"}
    )
    assert refused.status == 404
    with session_scope(engine) as session:
        culture = department_by_key(session=session, key="kultur_fritid")
        assert culture is not None and "allt" not in culture.handles
    assert _audit(engine, "department") == []


async def test_the_coordinator_edits_any_departments_handles(
    client: TestClient, engine: Engine
) -> None:
    await _as_coordinator(client)
    csrf = csrf_of(await (await client.get("/desk/department/teknik")).text())
    saved = await client.post(
        "/desk/department/teknik/handles", data={"csrf": csrf, "handle_new": "snöröjning"}
    )
    assert saved.status == 200
    with session_scope(engine) as session:
        technical = department_by_key(session=session, key="teknik")
        assert technical is not None and technical.handles[-1] == "snöröjning"
    assert _audit(engine, "department")[-1].actor == "web:samordnare"


def _candidates(engine: Engine) -> list[TrainingCandidate]:
    """Let the coordinator re-route two escalated questions: two training candidates."""
    with session_scope(engine) as session:
        for text in (
            "Kan vi få pengar till en ny lekplats, ring 070-123 45 67",
            "Vem lagar gungan i parken?",
        ):
            enquiry, escalation_id = escalated_enquiry(session, now=NOW, text=text)
            enquiry.intent = "topic_lokalbokning"
            queue.claim(
                session=session,
                escalation_id=escalation_id,
                staff_user_id=staff_id(session, COORDINATOR_ID),
            )
            queue.route(
                session=session,
                escalation_id=escalation_id,
                department_key="teknik",
                staff_user_id=staff_id(session, COORDINATOR_ID),
                email_enabled=True,
                now=NOW,
            )
    with session_scope(engine) as session:
        found = list(session.exec(select(TrainingCandidate).order_by(col(TrainingCandidate.id))))
    assert len(found) == 2
    return found


async def test_candidates_are_accepted_and_rejected_in_the_desk(
    client: TestClient, engine: Engine
) -> None:
    first, second = _candidates(engine)
    with session_scope(engine) as session:
        assert export_nlu_yaml(session=session)[1] == 0  # nothing without a person's acceptance
    await _as_coordinator(client)
    page = await client.get("/desk/training?lang=sv")
    html = await page.text()
    assert page.status == 200
    row = re.search(rf'<tr id="candidate-{first.id}">(.*?)</tr>', html, re.S)
    assert row is not None
    assert "[telefon]" in row.group(1) and "070-123" not in html  # masked
    assert "topic_lokalbokning" in row.group(1)  # what Lotsen guessed
    assert f'<option value="{first.intent}" selected>' in row.group(1)  # the right topic
    assert "0 godkända exempel väntar" in html

    csrf = csrf_of(html)
    accepted = await client.post(
        f"/desk/training/{first.id}/accept", data={"csrf": csrf, "intent": "topic_parker"}
    )
    assert accepted.status == 200
    html = await accepted.text()
    assert "1 godkänt exempel väntar" in html and f'id="candidate-{first.id}"' not in html
    rejected = await client.post(f"/desk/training/{second.id}/reject", data={"csrf": csrf})
    assert "1 förslag är avvisat" in await rejected.text()
    with session_scope(engine) as session:
        one = session.get(TrainingCandidate, first.id)
        two = session.get(TrainingCandidate, second.id)
        assert one is not None and two is not None
        assert (one.accepted, one.intent, one.reviewed_by) == (
            True,
            "topic_parker",
            "web:samordnare",
        )
        assert (two.accepted, two.reviewed_by) == (False, "web:samordnare")
        text, count = export_nlu_yaml(session=session)
    assert count == 1 and "topic_parker" in text and "gungan" not in text

    unknown = await client.post(
        f"/desk/training/{second.id}/accept", data={"csrf": csrf, "intent": "topic_nonesuch"}
    )
    assert unknown.status == 400 and "topic_nonesuch" in await unknown.text()
    missing = await client.post("/desk/training/999999/reject", data={"csrf": csrf})
    assert missing.status == 400
    forged = await client.post(f"/desk/training/{second.id}/accept", data={"csrf": "x"})
    assert forged.status == 403
    with session_scope(engine) as session:
        two = session.get(TrainingCandidate, second.id)
        assert two is not None and two.accepted is False


def test_history_shows_a_desk_move_with_its_account(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from db.routing.overview import move_topic

    with session_scope(engine) as session:
        move_topic(
            session=session,
            intent=GRANTS,
            department_key="utbildning",
            actor="web:samordnare",
            domain_intents=[GRANTS],
            now=NOW,
        )
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    result = CliRunner().invoke(cli_app, ["routes", "history", "--entity", "route"])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert "web:samordnare" in first and GRANTS in first
    assert '"department": "utbildning"' in result.output


async def test_the_coordinator_keeps_the_other_authorities_on_the_same_page(
    client: TestClient, engine: Engine
) -> None:
    from db.models import Authority
    from db.routing.authorities import authority_by_key

    await _as_coordinator(client)
    csrf = csrf_of(await (await client.get("/desk/routes")).text())
    added = await client.post(
        "/desk/authorities/new",
        data={
            "csrf": csrf,
            "key": "hyresnamnden",
            "name_sv": "Hyresnämnden",
            "name_en": "Rent Tribunal",
            "handles": "skatt och folkbokföring",
            "website": "https://www.domstol.se",
            "phone": "0771-567 567",
            "intents": "",
        },
    )
    assert added.status == 200
    again = await client.post(
        "/desk/authorities/new", data={"csrf": csrf, "key": "hyresnamnden", "name_sv": "X"}
    )
    assert again.status == 400 and "finns redan" in await again.text()
    html = await added.text()
    assert "Myndigheten är sparad" in html and 'id="authority-hyresnamnden"' in html
    with session_scope(engine) as session:
        found = authority_by_key(session=session, key="hyresnamnden")
        assert found is not None
        assert (found.names, found.phone) == (
            {"en": "Rent Tribunal", "sv": "Hyresnämnden"},
            "0771-567 567",
        )
    changed = await client.post(
        "/desk/authorities/hyresnamnden",
        data={
            "csrf": csrf,
            "name_sv": "Hyresnämnden",
            "name_en": "",
            "handles": "skatt",
            "website": "https://hyresnamnden.se",
            "phone": "0771-567 567",
            "intents": "",
        },
    )
    assert changed.status == 200
    bad = await client.post(
        "/desk/authorities/hyresnamnden",
        data={"csrf": csrf, "name_sv": "Hyresnämnden", "website": "hyresnamnden", "intents": ""},
    )
    assert bad.status == 400 and "Webbadressen går inte att använda" in await bad.text()
    with session_scope(engine) as session:
        found = authority_by_key(session=session, key="hyresnamnden")
        assert found is not None
        assert (found.names, found.handles, found.website) == (
            {"sv": "Hyresnämnden"},
            "skatt",
            "https://hyresnamnden.se",
        )
    audit = _audit(engine, "authority")
    assert [(a.actor, a.action) for a in audit] == [
        ("web:samordnare", "create"),
        ("web:samordnare", "update"),
    ]
    removed = await client.post("/desk/authorities/hyresnamnden/remove", data={"csrf": csrf})
    assert removed.status == 200 and "Myndigheten är borttagen" in await removed.text()
    with session_scope(engine) as session:
        assert authority_by_key(session=session, key="hyresnamnden") is None
        assert session.exec(select(Authority)).all() != []  # the others are still there
    assert _audit(engine, "authority")[-1].action == "delete"


async def test_staff_cannot_change_the_other_authorities(
    client: TestClient, engine: Engine
) -> None:
    await _as_staff(client, engine, STAFF_ID)
    csrf = csrf_of(await (await client.get("/desk/department")).text())
    refused = await client.post(
        "/desk/authorities/new", data={"csrf": csrf, "key": "polisen", "name_sv": "Polisen"}
    )
    assert refused.status == 403
    assert _audit(engine, "authority") == []
