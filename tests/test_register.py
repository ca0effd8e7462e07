"""The register: facts from the lifecycle, the public view's limits, disposal only by decision,
the ERMS archive export (valid against the schema), and the migration with data."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.i18n import translate
from db.enquiries import lifecycle, workflow
from db.models import AuditEntry, DisposalDecision, DisposalLog, Enquiry, RegisterMark
from db.people import departments
from db.plumbing.migrate import downgrade, upgrade
from db.plumbing.phrases import DomainError
from db.plumbing.session import make_engine, session_scope
from db.privacy.disposal import KINDS, coverage, parse_covers, record_decision
from db.privacy.retention import purge
from db.records import erms
from db.records.register import entry_by_reference, mark, public_entry
from harness.database import migrate_and_seed
from harness.workflow import escalated_enquiry, local, new_enquiry, routed_enquiry

NOW = local(2026, 3, 16, 9)
NS = {"e": erms.NAMESPACE}
SCHEMA = etree.XMLSchema(etree.parse(str(erms.SCHEMA)))


class Retention:
    """Retention periods for the purge."""

    retention_enquiry_text_days = 1
    retention_tracker_days = 1
    retention_audit_days = 1
    retention_inbox_days = 1
    retention_feedback_comment_days = 1
    retention_inbound_mail_days = 1
    retention_web_chat_days = 1


def _answered(session: Session, **kwargs: object) -> Enquiry:
    """An enquiry routed to Kultur och fritid, forwarded, and answered."""
    enquiry = routed_enquiry(session, now=NOW, **kwargs)  # type: ignore[arg-type]
    department = departments.department_by_key(session=session, key="kultur_fritid")
    assert department is not None
    lifecycle.forwarded(session=session, enquiry=enquiry, department=department, now=NOW)
    workflow.answer_enquiry(
        session=session,
        enquiry=enquiry,
        text="Ansök i e-tjänsten senast 15 april.",
        actor="dept",
        now=NOW + timedelta(hours=3),
    )
    return enquiry


def test_the_register_holds_every_enquirys_facts_from_the_lifecycle(engine: Engine) -> None:
    with session_scope(engine) as session:
        answered = _answered(session)
        waiting, _ = escalated_enquiry(session, now=NOW, association=None)
        references = (answered.reference, waiting.reference)
    with session_scope(engine) as session:
        entry = entry_by_reference(session=session, reference=str(references[0]))
        assert entry is not None
        assert entry.received_at == NOW and entry.reference == references[0]
        assert entry.sender == "Storåsa IF"
        assert entry.description == "Föreningsbidrag"  # the routing table's words, not the text
        assert entry.department_key == "kultur_fritid" and entry.outcome == "answered"
        assert entry.outcome_at == NOW + timedelta(hours=3)
        kinds = [(r.kind, r.direction) for r in entry.records]
        assert kinds == [
            ("question", "incoming"),
            ("forward", "internal"),
            ("answer", "outgoing"),
        ]
        assert entry.records[2].receiver == "Storåsa IF"
        assert entry.records[1].receiver == entry.department_name

        other = entry_by_reference(session=session, reference=str(references[1]).lower())
        assert other is not None and other.sender is None and other.description is None
        assert [r.kind for r in other.records] == ["question", "escalation"]
        assert other.records[1].receiver == "coordinator" and other.outcome == "open"


def test_personal_data_and_secrecy_are_marked_and_held_back(engine: Engine) -> None:
    with session_scope(engine) as session:
        plain = new_enquiry(session, now=NOW)
        personal = new_enquiry(
            session, now=NOW, text="Min son 120315-1237 vill gå med, ring 070-123 45 67."
        )
        secret = routed_enquiry(session, now=NOW)
        mark(session=session, enquiry=secret, personal_data=False, secret=True, actor="desk:1")
        refs = [str(e.reference) for e in (plain, personal, secret)]
    with session_scope(engine) as session:
        entries = [entry_by_reference(session=session, reference=r) for r in refs]
        assert [e.personal_data for e in entries if e] == [False, True, False]
        shown = [public_entry(e) for e in entries if e]
        assert shown[2].secret and shown[2].description is None and shown[2].sender is None
        assert shown[2].department_name == "Kultur- och fritidsförvaltningen"
        assert shown[0].sender == "Storåsa IF"
        # The public facts never carry the text.
        for item in shown:
            assert "120315" not in repr(item) and "aktivitetsstöd" not in repr(item)
        # A second mark replaces the first.
        enquiry = session.get(Enquiry, entries[2].enquiry_id if entries[2] else 0)
        assert enquiry is not None
        mark(session=session, enquiry=enquiry, personal_data=True, secret=False, actor="desk:2")
        assert len(session.exec(select(RegisterMark)).all()) == 1


def _validate(document: bytes, tmp_path: Path) -> etree._Element:
    tree = etree.fromstring(document)
    assert SCHEMA.validate(tree), SCHEMA.error_log
    xmllint = shutil.which("xmllint")
    if xmllint is None:  # pragma: no cover - CI installs libxml2-utils
        pytest.fail("xmllint is not installed (apt-get install libxml2-utils)")
    path = tmp_path / "export.xml"
    path.write_bytes(document)
    checked = subprocess.run(
        [xmllint, "--noout", "--schema", str(erms.SCHEMA), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    return tree


def test_the_erms_export_is_valid_and_holds_every_case_file(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        answered = _answered(session)
        escalated, _ = escalated_enquiry(session, now=NOW + timedelta(days=1))
        mark(session=session, enquiry=escalated, personal_data=True, secret=True, actor="t")
        new_enquiry(session, now=NOW + timedelta(days=30))  # outside the period
        day = NOW.date()
        document = erms.export(session=session, start=day, end=day + timedelta(days=2))
        expected = {
            str(answered.reference): answered.created_at,
            str(escalated.reference): escalated.created_at,
        }
    tree = _validate(document, tmp_path)
    cases = tree.findall(".//e:aggregation[@aggregationType='caseFile']", NS)
    assert {c.findtext("e:objectId", namespaces=NS) for c in cases} == set(expected)
    by_reference = {c.findtext("e:objectId", namespaces=NS): c for c in cases}
    first = by_reference[str(answered.reference)]
    opened = first.find("e:dates/e:date[@dateType='opened']", NS)
    assert opened is not None and opened.text == expected[str(answered.reference)].isoformat()
    responsible = first.find("e:agents/e:agent[@agentType='responsible_person']/e:name", NS)
    assert responsible is not None and responsible.text == "Kultur- och fritidsförvaltningen"
    records = first.findall("e:record", NS)
    directions = [r.find("e:direction", NS).get("directionDefinition") for r in records]  # type: ignore[union-attr]
    assert directions == ["incoming", "internal_memo_without_follow-up", "outgoing"]
    assert records[0].findtext("e:description", namespaces=NS) == answered.text
    assert records[2].findtext("e:description", namespaces=NS) == (
        "Ansök i e-tjänsten senast 15 april."
    )
    second = by_reference[str(escalated.reference)]
    kinds = {r.get("restrictionType") for r in second.findall("e:restriction", NS)}
    assert kinds == {"confidential", "gdpr"}


def test_an_export_without_enquiries_or_backwards_is_refused(engine: Engine) -> None:
    with session_scope(engine) as session:
        with pytest.raises(DomainError, match="Inga ärenden"):
            erms.export(session=session, start=date(2020, 1, 1), end=date(2020, 1, 31))
        with pytest.raises(DomainError, match="före startdatumet"):
            erms.export(session=session, start=date(2020, 2, 1), end=date(2020, 1, 31))


def test_the_cli_exports_the_erms_file(sqlite_url: str, tmp_path: Path) -> None:
    import bot.cli

    engine = migrate_and_seed(sqlite_url)
    with session_scope(engine) as session:
        reference = str(_answered(session).reference)
    out = tmp_path / "arkiv.xml"
    env = {"DATABASE_URL": sqlite_url}
    runner = CliRunner()
    day = NOW.date().isoformat()
    args = ["register", "export", "--from", day, "--to", day, "--format", "erms", "--out"]
    result = runner.invoke(bot.cli.app, [*args, str(out)], env=env)
    assert result.exit_code == 0, result.output
    tree = _validate(out.read_bytes(), tmp_path)
    assert tree.find(".//e:aggregation/e:objectId", NS).text == reference  # type: ignore[union-attr]
    wrong = runner.invoke(bot.cli.app, [*args[:-3], "--format", "pdf", "--out", "x"], env=env)
    assert wrong.exit_code == 1 and "pdf" in wrong.output
    bad = runner.invoke(
        bot.cli.app, ["register", "export", "--from", "igår", "--to", day, "--out", "x"], env=env
    )
    assert bad.exit_code == 1 and "--from" in bad.output and not Path("x").exists()
    engine.dispose()


def _old_closed(session: Session) -> Enquiry:
    enquiry = new_enquiry(session, now=NOW - timedelta(days=10))
    enquiry.status = "closed"
    enquiry.closed_at = NOW - timedelta(days=5)
    return enquiry


def test_purge_without_a_decision_disposes_of_nothing_and_says_why(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = _old_closed(session)
        session.add(
            AuditEntry(
                at=NOW - timedelta(days=9), actor="x", entity="e", entity_key="k", action="a"
            )
        )
    with session_scope(engine) as session:
        report = purge(session=session, retention=Retention(), now=NOW)
        assert report.total == 0 and report.refused == list(KINDS)
        said = [translate("en", line) for line in report.lines()]
        assert any("no disposal decision" in line.lower() for line in said), said
        assert session.get(Enquiry, enquiry.id).text != "[gallrad]"  # type: ignore[union-attr]
        assert session.exec(select(DisposalLog)).all() == []


def test_purge_disposes_only_what_a_decision_covers_and_logs_it(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = _old_closed(session)
        enquiry_id = enquiry.id
        session.add(
            AuditEntry(
                at=NOW - timedelta(days=9), actor="x", entity="e", entity_key="k", action="a"
            )
        )
        decision = record_decision(
            session=session,
            reference="KS 2026/123 § 45",
            decided_on=date(2026, 2, 1),
            covers={"enquiry_texts": 3},
            actor="cli:test",
        )
        # A decision decided after today does not count yet.
        record_decision(
            session=session,
            reference="KS 2026/200 § 1",
            decided_on=date(2026, 12, 1),
            covers={"audit": 1},
            actor="cli:test",
        )
        assert set(coverage(session=session, on=NOW.date())) == {"enquiry_texts"}
        decision_id = decision.id
    with session_scope(engine) as session:
        report = purge(session=session, retention=Retention(), now=NOW)
        assert report.enquiries_anonymised == 1 and report.audit_entries_deleted == 0
        assert report.decisions == {"enquiry_texts": "KS 2026/123 § 45"}
        assert "audit" in report.refused
        said = " ".join(translate("en", line) for line in report.lines())
        assert "KS 2026/123 § 45" in said
    with session_scope(engine) as session:
        assert session.get(Enquiry, enquiry_id).text == "[gallrad]"  # type: ignore[union-attr]
        logged = session.exec(select(DisposalLog)).all()
        assert [(e.kind, e.count, e.decision_id) for e in logged] == [
            ("enquiry_texts", 1, decision_id)
        ]
        # A second purge finds nothing and logs nothing more.
        purge(session=session, retention=Retention(), now=NOW)
        assert len(session.exec(select(DisposalLog)).all()) == 1


def test_a_decision_keeps_data_at_least_its_own_period(engine: Engine) -> None:
    with session_scope(engine) as session:
        _old_closed(session)  # closed five days ago
        record_decision(
            session=session,
            reference="KS 2026/9",
            decided_on=date(2026, 1, 1),
            covers={"enquiry_texts": 30},
            actor="t",
        )
    with session_scope(engine) as session:
        assert purge(session=session, retention=Retention(), now=NOW).enquiries_anonymised == 0


def test_bad_decisions_are_refused_politely(engine: Engine) -> None:
    assert parse_covers("enquiry_texts=730, audit=3650") == {"enquiry_texts": 730, "audit": 3650}
    for wrong, match in (("mail=3", "Okänt"), ("audit=0", "minst 1"), ("", "minst ett")):
        with pytest.raises(DomainError, match=match):
            parse_covers(wrong)
    with session_scope(engine) as session:

        def decide(reference: str) -> None:
            record_decision(
                session=session,
                reference=reference,
                decided_on=NOW.date(),
                covers={"audit": 5},
                actor="t",
            )

        decide("KS 1")
        with pytest.raises(DomainError, match="finns redan"):
            decide(" KS  1 ")
        with pytest.raises(DomainError, match="1–64"):
            decide(" ")
        with pytest.raises(DomainError, match="1–64"):
            decide("K" * 65)
    with session_scope(engine) as session:
        assert [d.reference for d in session.exec(select(DisposalDecision))] == ["KS 1"]


def test_decisions_from_the_cli(sqlite_url: str) -> None:
    import bot.cli

    engine = migrate_and_seed(sqlite_url)
    env = {"DATABASE_URL": sqlite_url, "LANG": "en_GB.UTF-8"}
    runner = CliRunner()
    empty = runner.invoke(bot.cli.app, ["register", "decision", "list"], env=env)
    assert empty.exit_code == 0 and "purges nothing" in empty.output.lower(), empty.output
    purged = runner.invoke(bot.cli.app, ["purge"], env=env)
    assert purged.exit_code == 0 and "no disposal decision" in purged.output.lower()
    add = [
        "register",
        "decision",
        "add",
        "--reference",
        "KS 2026/123 § 45",
        "--date",
        "2026-02-01",
        "--covers",
        "enquiry_texts=730,audit=3650",
        "--note",
        "Lotsen",
    ]
    assert runner.invoke(bot.cli.app, add, env=env).exit_code == 0
    again = runner.invoke(bot.cli.app, add, env=env)
    assert again.exit_code == 1 and "already" in again.output
    listed = runner.invoke(bot.cli.app, ["register", "decision", "list"], env=env)
    assert "KS 2026/123 § 45" in listed.output and "730" in listed.output
    bad = runner.invoke(
        bot.cli.app,
        [*add[:3], "--reference", "X", "--date", "2026-02-01", "--covers", "mail=3"],
        env=env,
    )
    assert bad.exit_code == 1 and "mail" in bad.output
    engine.dispose()


def test_the_register_migration_keeps_data_both_ways(database_url: str) -> None:
    upgrade(database_url, "0020")
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO enquiry (reference, text, language, guesses, status, created_at,"
                " updated_at) VALUES ('LOT-2026-00001', 'Hej', 'sv', '[]', 'received',"
                " '2026-03-16 08:00:00', '2026-03-16 08:00:00')"
            )
        )
    upgrade(database_url, "0040")
    tables = set(inspect(engine).get_table_names())
    assert {"register_mark", "disposal_decision", "disposal_log", "errand_filing"} <= tables
    with engine.begin() as connection:
        enquiry_id = connection.execute(text("SELECT id FROM enquiry")).scalar_one()
        connection.execute(
            text(
                "INSERT INTO register_mark (enquiry_id, personal_data, secret, marked_by,"
                " marked_at) VALUES (:id, true, false, 't', '2026-03-16 09:00:00')"
            ),
            {"id": enquiry_id},
        )
        connection.execute(
            text(
                "INSERT INTO errand_filing (enquiry_id, errand_id, filed_at)"
                " VALUES (:id, 'abc', '2026-03-16 09:00:00')"
            ),
            {"id": enquiry_id},
        )
    downgrade(database_url, "0020")
    assert "register_mark" not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT reference FROM enquiry")).scalar_one() == (
            "LOT-2026-00001"
        )
    upgrade(database_url)
    engine.dispose()
