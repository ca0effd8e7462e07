"""What the register keeps beyond the lifecycle: every answer's text as a record of its own, and
associations that are one private person (on real databases; the export checked against the
ERMS schema with lxml and xmllint; the migration with data on both backends)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

import bot.cli
from db import feedback
from db.enquiries import (
    lifecycle,
    workflow,
)
from db.enquiries.answers import answers_of
from db.models import AnswerRecord, Association, AuditEntry, Enquiry, Feedback
from db.people import departments
from db.plumbing.migrate import downgrade, upgrade
from db.plumbing.session import make_engine, session_scope
from db.privacy.disposal import record_decision
from db.privacy.retention import PURGED, purge
from db.records import erms
from db.records.errands import errand_body
from db.records.private_person import find_association, set_private_person
from db.records.register import entry_by_reference, public_entry
from harness.database import migrate_and_seed
from harness.desk import STAFF_ID, Clock, add_staff, csrf_of, desk_client, person, sign_in
from harness.workflow import local, routed_enquiry
from tests.test_register import NS, Retention, _validate

NOW = local(2026, 3, 16, 9)


def _answered_twice(session: Session, **kwargs: object) -> Enquiry:
    """Answered, rated "no", answered again by the coordinator."""
    enquiry = routed_enquiry(session, now=NOW, **kwargs)  # type: ignore[arg-type]
    department = departments.department_by_key(session=session, key="kultur_fritid")
    assert department is not None
    lifecycle.forwarded(session=session, enquiry=enquiry, department=department, now=NOW)
    workflow.answer_enquiry(
        session=session, enquiry=enquiry, text="Första svaret.", actor="dept", now=NOW
    )
    feedback.rate(
        session=session,
        enquiry=enquiry,
        helpful=False,
        channel="telegram",
        actor="association:1",
        now=NOW + timedelta(hours=1),
    )
    workflow.answer_enquiry(
        session=session,
        enquiry=enquiry,
        text="Det rättade svaret.",
        actor="coordinator:1",
        now=NOW + timedelta(hours=2),
        by_coordinator=True,
    )
    return enquiry


def test_every_answer_is_its_own_outgoing_record_in_the_archive(
    engine: Engine, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        enquiry = _answered_twice(session)
        reference = str(enquiry.reference)
        document = erms.export(session=session, start=NOW.date(), end=NOW.date())
    tree = _validate(document, tmp_path)
    [case] = tree.findall(".//e:aggregation[@aggregationType='caseFile']", NS)
    answers = [r for r in case.findall("e:record", NS) if r.get("recordType") == "answer"]
    assert [r.findtext("e:description", namespaces=NS) for r in answers] == [
        "Första svaret.",
        "Det rättade svaret.",
    ]
    for record, at in zip(answers, (NOW, NOW + timedelta(hours=2)), strict=True):
        direction = record.find("e:direction", NS)
        assert direction is not None and direction.get("directionDefinition") == "outgoing"
        assert record.findtext("e:dates/e:date[@dateType='sent']", namespaces=NS) == at.isoformat()
    senders = [
        r.findtext("e:agents/e:agent[@agentType='sender']/e:name", namespaces=NS) for r in answers
    ]
    assert senders == ["Kultur- och fritidsförvaltningen", "Samordnaren"]
    with session_scope(engine) as session:
        entry = entry_by_reference(session=session, reference=reference)
        assert entry is not None and public_entry(entry).answers == 2


def test_answers_and_comments_are_disposed_of_only_under_a_decision(engine: Engine) -> None:
    later = NOW + timedelta(days=800)
    with session_scope(engine) as session:
        enquiry = _answered_twice(session)
        given = feedback.rate(
            session=session,
            enquiry=enquiry,
            helpful=True,
            channel="email",
            actor="a",
            now=NOW + timedelta(hours=3),
        )
        feedback.add_comment(session=session, feedback=given, text="Tack!", now=NOW)
        enquiry_id = enquiry.id
        report = purge(session=session, retention=Retention(), now=later)
        assert "feedback_comments" in report.refused and report.feedback_comments_deleted == 0
    with session_scope(engine) as session:
        assert {a.text for a in session.exec(select(AnswerRecord))} != {PURGED}
        record_decision(
            session=session,
            reference="KS 2026/1",
            decided_on=NOW.date(),
            covers={"feedback_comments": 365},
            actor="t",
        )
    with session_scope(engine) as session:
        report = purge(session=session, retention=Retention(), now=later)
        assert report.feedback_comments_deleted == 1
        comments = [f.comment for f in session.exec(select(Feedback)) if f.comment]
        assert comments == [PURGED]
        # The taps stay (they count in the published figures); the answers wait for their kind.
        assert len(session.exec(select(Feedback)).all()) == 2
        assert PURGED not in {a.text for a in session.exec(select(AnswerRecord))}
        record_decision(
            session=session,
            reference="KS 2026/2",
            decided_on=NOW.date(),
            covers={"enquiry_texts": 730},
            actor="t",
        )
    with session_scope(engine) as session:
        purge(session=session, retention=Retention(), now=later)
        assert enquiry_id is not None
        kept = answers_of(session=session, enquiry_ids=[enquiry_id])[enquiry_id]
        assert [a.text for a in kept] == [PURGED, PURGED] and [a.number for a in kept] == [1, 2]


async def test_a_one_person_association_is_never_published_by_name(
    engine: Engine, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        enquiry = _answered_twice(session, association="Anna Andersson")
        other = routed_enquiry(session, now=NOW, association="Storåsa IF")
        association = session.get(Association, enquiry.association_id)
        assert association is not None
        assert set_private_person(
            session=session, association=association, private_person=True, actor="desk:1"
        )
        assert not set_private_person(
            session=session, association=association, private_person=True, actor="desk:1"
        )
        [audit] = session.exec(select(AuditEntry).where(AuditEntry.entity == "association")).all()
        assert (audit.actor, audit.before, audit.after) == (
            "desk:1",
            {"private_person": False},
            {"private_person": True},
        )
        references = (str(enquiry.reference), str(other.reference))
        entry = entry_by_reference(session=session, reference=references[0])
        assert entry is not None and entry.private_person and entry.sender == "Anna Andersson"
        shown = public_entry(entry)
        assert shown.private_person and shown.sender is None
        assert "Anna" not in repr(shown)
        body = errand_body(session=session, enquiry=enquiry, title="t", status="NEW")
        assert body["stakeholders"] == [
            {
                "role": "CONTACT",
                "externalIdType": "PRIVATE",
                "firstName": "Anna",
                "lastName": "Andersson",
            }
        ]
        document = erms.export(session=session, start=NOW.date(), end=NOW.date())
    tree = _validate(document, tmp_path)
    cases = {
        c.findtext("e:objectId", namespaces=NS): c
        for c in tree.findall(".//e:aggregation[@aggregationType='caseFile']", NS)
    }
    person = cases[references[0]]
    counterpart = person.find("e:agents/e:agent[@agentType='counterpart']", NS)
    assert counterpart is not None
    assert counterpart.findtext("e:role", namespaces=NS) == erms.NATURAL_PERSON
    [rule] = [r for r in person.findall("e:restriction", NS) if r.find("e:agent", NS) is not None]
    assert rule.get("restrictionType") == "gdpr"
    assert rule.findtext("e:agent/e:name", namespaces=NS) == "Anna Andersson"
    organisation = cases[references[1]]
    assert (
        organisation.findtext("e:agents/e:agent[@agentType='counterpart']/e:role", namespaces=NS)
        == erms.ASSOCIATION_ROLE
    )

    async with desk_client(engine, Clock(NOW + timedelta(days=1))) as client:
        page = await (await client.get("/diarium?lang=sv")).text()
    assert "Privatperson" in page and "Anna Andersson" not in page and "Storåsa IF" in page


async def test_staff_set_the_flag_in_the_desk(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = routed_enquiry(session, now=NOW, association="Bertil Berg")
        reference = str(enquiry.reference)
        association_id = enquiry.association_id
    add_staff(engine)  # a clerk of Kultur och fritid
    async with desk_client(engine, Clock(NOW)) as client:
        await sign_in(client, engine, STAFF_ID, NOW)
        page = await (await client.get(f"/desk/enquiries/{reference}")).text()
        assert 'name="private_person"' in page
        csrf = csrf_of(page)
        refused = await client.post(
            f"/desk/enquiries/{reference}/private-person", data={"private_person": "1"}
        )
        assert refused.status in (400, 403)  # no CSRF token: nothing changes
        with session_scope(engine) as session:
            found = session.get(Association, association_id)
            assert found is not None and not found.private_person
        done = await client.post(
            f"/desk/enquiries/{reference}/private-person",
            data={"csrf": csrf, "private_person": "1"},
        )
        assert done.status == 200 and "Uppgiften om avsändaren är sparad" in await done.text()
        missing = await client.post(
            "/desk/enquiries/LOT-2026-99999/private-person",
            data={"csrf": csrf, "private_person": "1"},
        )
        assert missing.status == 404
    with session_scope(engine) as session:
        found = session.get(Association, association_id)
        assert found is not None and found.private_person
        [audit] = session.exec(select(AuditEntry).where(AuditEntry.entity == "association")).all()
        assert audit.actor == f"web:staff:{person(engine, STAFF_ID)}" and audit.after == {
            "private_person": True
        }


def test_the_cli_sets_the_flag_by_name_or_number(sqlite_url: str) -> None:
    engine = migrate_and_seed(sqlite_url)
    with session_scope(engine) as session:
        routed_enquiry(session, now=NOW, association="Cecilia Carlsson")
        session.add(Association(name="Dubbel"))
        session.add(Association(name="dubbel"))
    runner = CliRunner()
    env = {"DATABASE_URL": sqlite_url}
    done = runner.invoke(
        bot.cli.app, ["register", "private-person", "cecilia carlsson", "--actor", "t"], env=env
    )
    assert done.exit_code == 0, done.output
    unknown = runner.invoke(bot.cli.app, ["register", "private-person", "Ingen"], env=env)
    assert unknown.exit_code == 1
    twice = runner.invoke(bot.cli.app, ["register", "private-person", "Dubbel"], env=env)
    assert twice.exit_code == 1 and "#" in twice.output
    with session_scope(engine) as session:
        found = find_association(session=session, name_or_id="Cecilia Carlsson")
        assert found.private_person
        number = f"#{found.id}"
    off = runner.invoke(bot.cli.app, ["register", "private-person", number, "--off"], env=env)
    assert off.exit_code == 0, off.output
    with session_scope(engine) as session:
        assert not find_association(session=session, name_or_id=number).private_person
        assert (
            len(session.exec(select(AuditEntry).where(AuditEntry.entity == "association")).all())
            == 2
        )
    engine.dispose()


def test_the_migration_carries_answers_and_feedback_over_both_ways(database_url: str) -> None:
    upgrade(database_url, "0120")
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO association (name, created_at) VALUES ('Storåsa IF',"
                " '2026-03-16 08:00:00')"
            )
        )
        for number, (answer, helpful) in enumerate(
            (("Svaret.", True), (None, None), ("Ett svar.", None)), start=1
        ):
            connection.execute(
                text(
                    "INSERT INTO enquiry (reference, text, language, guesses, status, created_at,"
                    " updated_at, answer_text, answered_by, answered_at, helpful) VALUES"
                    " (:ref, 'Hej', 'sv', '[]', 'answered', '2026-03-16 08:00:00',"
                    " '2026-03-16 10:00:00', :answer, 'dept', '2026-03-16 09:00:00', :helpful)"
                ),
                {"ref": f"LOT-2026-0000{number}", "answer": answer, "helpful": helpful},
            )
        first = connection.execute(
            text("SELECT id FROM enquiry WHERE reference = 'LOT-2026-00001'")
        ).scalar_one()
        for kind, detail, at in (
            ("answered", {"by": "kultur_fritid"}, "2026-03-16 09:00:00"),
            ("feedback", {"helpful": True}, "2026-03-16 09:30:00"),
        ):
            connection.execute(
                text(
                    "INSERT INTO enquiry_event (enquiry_id, at, kind, actor, detail)"
                    " VALUES (:id, :at, :kind, 'x', :detail)"
                ),
                {"id": first, "at": at, "kind": kind, "detail": json.dumps(detail)},
            )
    upgrade(database_url, "0140")
    with engine.connect() as connection:
        answers = connection.execute(
            text(
                "SELECT e.reference, a.number, a.text, a.by FROM answer_record a"
                " JOIN enquiry e ON e.id = a.enquiry_id ORDER BY e.reference"
            )
        ).all()
        assert [tuple(row) for row in answers] == [
            ("LOT-2026-00001", 1, "Svaret.", "kultur_fritid"),
            ("LOT-2026-00003", 1, "Ett svar.", "coordinator"),
        ]
        given = connection.execute(
            text("SELECT enquiry_id, helpful, channel, given_at FROM feedback")
        ).all()
        assert [(row[0], bool(row[1]), row[2]) for row in given] == [(first, True, "telegram")]
        assert "09:30" in str(given[0][3])
        private = connection.execute(text("SELECT private_person FROM association")).scalar_one()
        assert not private
    downgrade(database_url, "0120")
    tables = set(inspect(engine).get_table_names())
    assert "answer_record" not in tables and "feedback" not in tables
    with engine.connect() as connection:
        kept = connection.execute(
            text("SELECT answer_text FROM enquiry WHERE reference = 'LOT-2026-00001'")
        ).scalar_one()
        assert kept == "Svaret."
    upgrade(database_url)
    engine.dispose()
