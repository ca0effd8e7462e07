"""The staff-maintained routing table: import/export, validation, absences, audit, CLI."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from bot.i18n import translate
from bot.settings import PROJECT_ROOT
from db.enquiries.crud import routes_map
from db.models import AuditEntry, Contact, Department, Route
from db.people.departments import active_contact, department_by_key
from db.plumbing.audit import AppendOnlyError, history
from db.plumbing.session import session_scope
from db.plumbing.validation import ValidationProblem
from db.routing.absences import clear_absence, set_absence
from db.routing.checks import check_table
from db.routing.dates import day_start
from db.routing.edits import mark_verified, set_route, update_contact
from db.routing.export import dump_table, export_table
from db.routing.importing import import_table
from db.routing.review import overdue_routes
from db.routing.routing_file import load_domain_intents, validate_table
from harness.database import migrate_and_seed, set_group_chat

SEED_INTENTS = [
    r["intent"]
    for r in yaml.safe_load((PROJECT_ROOT / "db" / "seed_routes.yml").read_text())["routes"]
]
INTENTS = ["greet", "ask_human", "out_of_scope", *SEED_INTENTS]
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def write_domain(path: Path, intents: list[str]) -> Path:
    """Write a minimal Rasa domain file listing these intents."""
    path.write_text(yaml.safe_dump({"version": "3.1", "intents": intents}), encoding="utf-8")
    return path


def audit_count(session: Session) -> int:
    """Return how many audit rows exist."""
    return session.exec(select(func.count()).select_from(AuditEntry)).one()


def exported_text(engine: Engine) -> str:
    """Return the current table as YAML."""
    with session_scope(engine) as session:
        return dump_table(export_table(session=session))


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """Return the 1-based line of the n-th line containing needle."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


def test_round_trip_is_a_no_op(engine: Engine) -> None:
    with session_scope(engine) as session:
        set_absence(
            session=session,
            department_key="teknik",
            absent_from=date(2026, 7, 1),
            absent_until=date(2026, 7, 31),
            actor="t",
        )
        mark_verified(session=session, intent="topic_parker", actor="t", owner="Anna", now=NOW)
    text = exported_text(engine)
    assert "absent_until: 2026-07-31" in text
    with session_scope(engine) as session:
        before = audit_count(session)
        result = import_table(session=session, text=text, actor="t", domain_intents=INTENTS)
        assert result.ok and result.changes == []
        assert audit_count(session) == before
    assert exported_text(engine) == text


def test_valid_import_applies_every_change_with_audit(engine: Engine) -> None:
    data = yaml.safe_load(exported_text(engine))
    teknik = next(d for d in data["departments"] if d["key"] == "teknik")
    teknik["contact"]["email"] = "gata@storasa.example"
    teknik["deputy"] = None
    teknik["sla_hours"] = 24
    data["departments"].append(
        {
            "key": "ny_enhet",
            "name": "Nya enheten",
            "contact": {"role": "Kundtjänst", "phone": "+46 000 1"},
        }
    )
    for route in data["routes"]:
        if route["intent"] == "topic_parker":
            route["department"] = "ny_enhet"
            route["owner"] = "Bo"
    data["routes"] = [r for r in data["routes"] if r["intent"] != "topic_felanmalan"]
    with session_scope(engine) as session:
        before = audit_count(session)
        result = import_table(
            session=session, text=yaml.safe_dump(data), actor="admin:eva", domain_intents=INTENTS
        )
        assert result.ok, result.problems
    with session_scope(engine) as session:
        table = routes_map(session=session)
        assert table["topic_parker"] == "ny_enhet"
        assert "topic_felanmalan" not in table
        department = department_by_key(session=session, key="teknik")
        assert department is not None and department.sla_hours == 24
        contacts = session.exec(select(Contact).where(Contact.department_id == department.id))
        assert {c.kind: c.email for c in contacts} == {"contact": "gata@storasa.example"}
        rows = history(session=session, limit=100)
        new_rows = [r for r in rows if r.actor == "admin:eva"]
        assert audit_count(session) - before == len(new_rows) == len(result.changes)
        seen = {(r.entity, r.entity_key, r.action) for r in new_rows}
        assert ("route", "topic_felanmalan", "delete") in seen
        assert ("route", "topic_parker", "update") in seen
        assert ("contact", "teknik/deputy", "delete") in seen
        assert ("contact", "teknik/contact", "update") in seen
        assert ("department", "ny_enhet", "create") in seen
        assert ("department", "teknik", "update") in seen
        parker = next(r for r in new_rows if r.entity_key == "topic_parker")
        assert parker.before is not None and parker.before["department"] == "teknik"
        assert parker.after is not None and parker.after["owner"] == "Bo"


def test_broken_import_changes_nothing_and_reports_every_line(engine: Engine) -> None:
    good = exported_text(engine)
    broken = (
        good.replace("foreningsservice@storasa.example", "foreningsservice-at-storasa")
        .replace('"+46 000 100 00 30"', "'+46 abc'")
        .replace("phone: +46 000 100 00 30", "phone: +46 abc")
        .replace("intent: topic_dialog", "intent: topic_finns_inte")
        .replace("department: samverkan", "department: ingenstans", 1)
        .replace("intent: topic_iop", "intent: topic_bidrag")
    )
    # remove the contact of one department entirely
    lines = broken.splitlines()
    start = next(n for n, line in enumerate(lines) if line == "- key: utbildning")
    contact_at = next(n for n in range(start, len(lines)) if lines[n] == "  contact:")
    del lines[contact_at : contact_at + 7]
    broken = "\n".join(lines) + "\n"
    with session_scope(engine) as session:
        before = audit_count(session)
        result = import_table(session=session, text=broken, actor="t", domain_intents=INTENTS)
        assert not result.ok
        assert audit_count(session) == before
    messages = {(p.line, translate("en", p.message)) for p in result.problems}
    expected_lines = [
        (line_of(broken, "foreningsservice-at-storasa"), "e-mail"),
        (line_of(broken, "phone: +46 abc"), "phone"),
        (line_of(broken, "intent: topic_finns_inte"), "unknown intent"),
        (line_of(broken, "department: ingenstans") - 1, "unknown department 'ingenstans'"),
        (line_of(broken, "intent: topic_bidrag", 2), "duplicate route 'topic_bidrag'"),
        (line_of(broken, "- key: utbildning"), "contact is missing"),
    ]
    for line, fragment in expected_lines:
        assert any(n == line and fragment in m for n, m in messages), (line, fragment, messages)
    assert len(result.problems) == len(expected_lines)
    assert exported_text(engine) == good


def test_yaml_syntax_error_and_unknown_field_have_lines() -> None:
    problems = validate_table(
        "departments: []\nroutes:\n  - intent: [unclosed\n", domain_intents=[]
    )
    assert (
        len(problems) == 1
        and problems[0].line >= 3
        and "YAML" in translate("en", problems[0].message)
    )
    text = (
        "departments:\n"
        "  - key: a\n"
        "    name: A\n"
        "    contact: {role: R, emial: x@y.se}\n"
        "routes:\n"
        "  - intent: topic_x\n"
        "    department: a\n"
        "    review_interval_days: -3\n"
    )
    problems = validate_table(text, domain_intents=["topic_x"])
    english = [(p.line, translate("en", p.message)) for p in problems]
    assert [(line, "emial" in text or "review" in text) for line, text in english] == [
        (4, True),
        (8, True),
    ]


def test_absence_switches_to_deputy_and_back(engine: Engine) -> None:
    with session_scope(engine) as session:
        set_absence(
            session=session,
            department_key="kultur_fritid",
            absent_from=date(2026, 7, 1),
            absent_until=date(2026, 7, 3),
            actor="t",
        )
    with session_scope(engine) as session:
        department = department_by_key(session=session, key="kultur_fritid")
        assert department is not None

        def who(at: datetime) -> str | None:
            contact = active_contact(session=session, department=department, now=at)
            return contact.kind if contact else None

        assert who(datetime(2026, 6, 30, 21, 59, tzinfo=UTC)) == "contact"  # 23:59 in Sweden
        assert who(datetime(2026, 6, 30, 22, 0, tzinfo=UTC)) == "deputy"  # 1 July 00:00
        assert who(datetime(2026, 7, 3, 21, 59, tzinfo=UTC)) == "deputy"  # last day, 23:59
        assert who(datetime(2026, 7, 3, 22, 0, tzinfo=UTC)) == "contact"  # back on 4 July
    with session_scope(engine) as session:
        clear_absence(session=session, department_key="kultur_fritid", actor="t")
        contact = session.exec(select(Contact).where(Contact.kind == "contact")).first()
        assert contact is not None and contact.absent_from is None
        with pytest.raises(ValidationProblem) as bad:
            set_absence(
                session=session,
                department_key="kultur_fritid",
                absent_from=date(2026, 7, 3),
                absent_until=date(2026, 7, 1),
                actor="t",
            )
        assert bad.value.field == "absent_until"


def test_audit_row_is_written_with_the_change_and_rolled_back_with_it(engine: Engine) -> None:
    with session_scope(engine) as session:
        before = audit_count(session)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        update_contact(
            session=session,
            department_key="teknik",
            kind="contact",
            changes={"email": "ny@storasa.example"},
            actor="t",
        )
        session.flush()
        assert audit_count(session) == before + 1
        raise RuntimeError("something later in the same transaction fails")
    with session_scope(engine) as session:
        assert audit_count(session) == before
        department = department_by_key(session=session, key="teknik")
        assert department is not None
        contact = session.exec(
            select(Contact).where(Contact.department_id == department.id, Contact.kind == "contact")
        ).one()
        assert contact.email == "gatapark@storasa.example"
        update_contact(
            session=session,
            department_key="teknik",
            kind="contact",
            changes={"email": "ny@storasa.example", "hours": "mån–fre 8–15"},
            actor="admin:eva",
        )
    with session_scope(engine) as session:
        assert audit_count(session) == before + 1
        row = history(session=session, limit=1)[0]
        assert (row.actor, row.entity, row.entity_key, row.action) == (
            "admin:eva",
            "contact",
            "teknik/contact",
            "update",
        )
        assert row.before is not None and row.before["email"] == "gatapark@storasa.example"
        assert row.after is not None and row.after["email"] == "ny@storasa.example"


def test_audit_rows_cannot_be_changed_or_deleted(engine: Engine) -> None:
    with session_scope(engine) as session:
        mark_verified(session=session, intent="topic_bidrag", actor="t")
    with pytest.raises(AppendOnlyError), session_scope(engine) as session:
        row = session.exec(select(AuditEntry)).one()
        row.actor = "someone else"
        session.add(row)
        session.flush()
    with pytest.raises(AppendOnlyError), session_scope(engine) as session:
        session.delete(session.exec(select(AuditEntry)).one())
        session.flush()
    with pytest.raises(AppendOnlyError), session_scope(engine) as session:
        session.execute(update(AuditEntry).values(actor="x"))
    with session_scope(engine) as session:
        row = session.exec(select(AuditEntry)).one()
        assert row.actor == "t" and row.action == "verify"


def test_update_contact_rejects_bad_input_in_both_languages(engine: Engine) -> None:
    with session_scope(engine) as session:
        with pytest.raises(ValidationProblem) as bad:
            update_contact(
                session=session,
                department_key="teknik",
                kind="deputy",
                changes={"email": "inte en adress"},
                actor="t",
            )
        assert bad.value.field == "email"
        assert "e-postadress" in translate("sv", bad.value.phrase)
        assert "e-mail" in translate("en", bad.value.phrase)
        with pytest.raises(ValidationProblem) as bad:
            update_contact(
                session=session,
                department_key="teknik",
                kind="contact",
                changes={"phone": "ring mig"},
                actor="t",
            )
        assert bad.value.field == "phone"
        with pytest.raises(ValidationProblem) as bad:
            update_contact(
                session=session, department_key="nope", kind="contact", changes={}, actor="t"
            )
        assert bad.value.field == "department"
        assert audit_count(session) == 0


def test_set_route_is_live_for_the_next_lookup(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert routes_map(session=session)["topic_parker"] == "teknik"
        set_route(
            session=session,
            intent="topic_parker",
            department_key="kultur_fritid",
            actor="t",
            domain_intents=INTENTS,
        )
    with session_scope(engine) as session:
        assert routes_map(session=session)["topic_parker"] == "kultur_fritid"
        with pytest.raises(ValidationProblem):
            set_route(
                session=session,
                intent="topic_okand",
                department_key="teknik",
                actor="t",
                domain_intents=INTENTS,
            )


def test_overdue_routes_with_a_frozen_clock(engine: Engine) -> None:
    with session_scope(engine) as session:
        for route in session.exec(select(Route)).all():
            route.changed_at = NOW - timedelta(days=10)
            session.add(route)
    with session_scope(engine) as session:
        assert overdue_routes(session=session, now=NOW) == []
        mark_verified(session=session, intent="topic_bidrag", actor="t", now=NOW)
        later = NOW + timedelta(days=175)
        overdue = overdue_routes(session=session, now=later)
        assert len(overdue) == len(SEED_INTENTS) - 1
        assert all(o.never_verified for o in overdue)
        assert "topic_bidrag" not in {o.route.intent for o in overdue}
        much_later = NOW + timedelta(days=181)
        assert "topic_bidrag" in {
            o.route.intent for o in overdue_routes(session=session, now=much_later)
        }


def test_check_finds_missing_route_unknown_intent_and_contactless_department(
    engine: Engine, tmp_path: Path
) -> None:
    domain = write_domain(tmp_path / "domain.yml", [*INTENTS, "topic_ny"])
    intents = load_domain_intents(domain)
    with session_scope(engine) as session:
        assert check_table(session=session, domain_intents=INTENTS, now=NOW) == []
        session.add(Department(key="tom", name="Tom förvaltning"))
        session.add(Route(intent="topic_gammal", department_id=1))
    with session_scope(engine) as session:
        problems = [
            translate("en", p)
            for p in check_table(session=session, domain_intents=intents, now=NOW)
        ]
    assert len(problems) == 3
    assert any("'topic_ny' has no route" in p for p in problems)
    assert any("'topic_gammal'" in p and "no longer" in p for p in problems)
    assert any("'tom' has no contact" in p for p in problems)


# --- the command line ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_app():  # type: ignore[no-untyped-def]
    """Return the `lotsen` Typer app with every sub-command registered once."""
    import bot.cli

    return bot.cli.app


@pytest.fixture
def cli_db(tmp_path: Path) -> tuple[str, Engine]:
    """Return (URL, engine) of a migrated, seeded SQLite file."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    return url, migrate_and_seed(url)


def test_cli_routes_speak_swedish_to_a_swedish_locale(cli_app, cli_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, _engine = cli_db
    # E-mail on: the departments without a Telegram group get their forwards by e-mail.
    env = {
        "DATABASE_URL": url,
        "SMTP_HOST": "127.0.0.1",
        "LC_ALL": "",
        "LC_MESSAGES": "",
        "LANG": "sv_SE.UTF-8",
    }
    domain = write_domain(tmp_path / "domain.yml", INTENTS)
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli_app, ["routes", *args], env=env)

    result = run("check", "--domain", str(domain))
    assert result.exit_code == 0, result.output
    assert result.stdout == "Vägtabellen är komplett.\n"
    write_domain(domain, [*INTENTS, "topic_ny"])
    result = run("check", "--domain", str(domain))
    assert result.exit_code == 1
    assert "ämnet 'topic_ny' har ingen väg (frågorna går till samordnaren)" in result.stdout
    assert "1 problem i vägtabellen." in result.stderr

    out = tmp_path / "table.yml"
    assert run("export", str(out)).stdout == f"Vägtabellen är exporterad till {out}.\n"
    broken = out.read_text().replace("intent: topic_parker", "intent: topic_parkk")
    bad = tmp_path / "bad.yml"
    bad.write_text(broken)
    result = run("import", str(bad), "--domain", str(domain))
    assert result.exit_code == 1
    line = line_of(broken, "topic_parkk")
    assert f"{bad}:{line}: väg 'topic_parkk': okänt ämne (finns inte i domain.yml)" in result.stderr
    assert "Inget importerades: 1 problem." in result.stderr
    result = run("check", "--domain", str(tmp_path / "missing.yml"))
    assert result.exit_code == 2
    assert f"Fel: {tmp_path / 'missing.yml'}: domänfilen finns inte" in result.stderr


def test_cli_routes_commands(cli_app, cli_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, engine = cli_db
    env = {"DATABASE_URL": url, "SMTP_HOST": "127.0.0.1"}  # e-mail on: every department reached
    domain = write_domain(tmp_path / "domain.yml", INTENTS)
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli_app, ["routes", *args], env=env)

    out = tmp_path / "table.yml"
    assert run("export", str(out)).exit_code == 0
    result = run("import", str(out), "--actor", "admin:eva", "--domain", str(domain))
    assert result.exit_code == 0, result.output
    assert "No changes." in result.stdout

    broken = out.read_text().replace("intent: topic_parker", "intent: topic_parkk")
    broken = broken.replace("email: plan@storasa.example", "email: plan(at)storasa")
    bad = tmp_path / "bad.yml"
    bad.write_text(broken)
    result = run("import", str(bad), "--domain", str(domain))
    assert result.exit_code == 1
    assert f"{bad}:{line_of(broken, 'topic_parkk')}: route 'topic_parkk'" in result.stderr
    assert f"{bad}:{line_of(broken, 'plan(at)storasa')}:" in result.stderr
    assert "Nothing imported: 2 problem(s)." in result.stderr

    result = run("set", "topic_parker", "kultur_fritid", "--domain", str(domain), "--actor", "x")
    assert result.exit_code == 0, result.output
    assert run("set", "topic_parker", "nowhere", "--domain", str(domain)).exit_code == 1
    result = run("contact", "teknik", "--email", "fel", "--actor", "x")
    assert result.exit_code == 1 and "e-mail" in result.stderr
    result = run("contact", "teknik", "--deputy", "--phone", "+46 70 123 45 67", "--actor", "x")
    assert result.exit_code == 0, result.output
    result = run("absent", "teknik", "--from", "2026-07-01", "--until", "2026-07-02")
    assert result.exit_code == 0, result.output
    assert run("absent", "teknik", "--from", "1 juli", "--until", "2026-07-02").exit_code == 2
    assert run("verify", "topic_bidrag", "--owner", "Anna").exit_code == 0
    assert run("verify", "topic_nope").exit_code == 1
    assert run("check", "--domain", str(domain)).exit_code == 0
    write_domain(domain, [*INTENTS, "topic_ny"])
    result = run("check", "--domain", str(domain))
    assert result.exit_code == 1 and "topic_ny" in result.stdout
    listing = run("list")
    assert listing.exit_code == 0 and "topic_parker" in listing.stdout
    assert run("overdue").exit_code == 0
    result = run("history", "--limit", "3")
    assert result.exit_code == 0
    assert result.stdout.count("\n    before:") == 3
    assert "verify route topic_bidrag" in result.stdout

    with session_scope(engine) as session:
        assert routes_map(session=session)["topic_parker"] == "kultur_fritid"
        teknik = department_by_key(session=session, key="teknik")
        assert teknik is not None
        deputy = session.exec(
            select(Contact).where(Contact.department_id == teknik.id, Contact.kind == "deputy")
        ).one()
        assert deputy.phone == "+46 70 123 45 67"
        main = session.exec(
            select(Contact).where(Contact.department_id == teknik.id, Contact.kind == "contact")
        ).one()
        assert main.absent_from == day_start(date(2026, 7, 1))
        assert main.absent_until == day_start(date(2026, 7, 3))
        actors = {r.actor for r in history(session=session, limit=100)}
        assert "x" in actors
    engine.dispose()


# --- e-mail: channels and mailbox in the table, and who e-mail cannot reach ---------------


def _import(engine: Engine, text: str) -> list[str]:
    with session_scope(engine) as session:
        result = import_table(
            session=session, text=text, actor="admin:eva", domain_intents=INTENTS, now=NOW
        )
        return [translate("en", p.phrase) for p in result.problems] or [
            translate("en", c) for c in result.changes
        ]


def test_export_and_import_carry_the_channels_and_the_mailbox(engine: Engine) -> None:
    head, culture = exported_text(engine).split("key: kultur_fritid", 1)
    assert "channels: telegram\n  mailbox: null\n" in culture
    culture = culture.replace(
        "channels: telegram\n  mailbox: null", "channels: email\n  mailbox: kf@storasa.example", 1
    )
    edited = f"{head}key: kultur_fritid{culture}"
    assert _import(engine, edited) == ["department kultur_fritid: changed"]
    with Session(engine) as session:
        department = department_by_key(session=session, key="kultur_fritid")
        assert department is not None
        assert (department.channels, department.mailbox) == ("email", "kf@storasa.example")
        entry = session.exec(
            select(AuditEntry).where(
                AuditEntry.entity == "department", AuditEntry.actor == "admin:eva"
            )
        ).one()
    assert entry.after is not None and entry.after["channels"] == "email"
    assert _import(engine, exported_text(engine)) == []  # the round trip changes nothing

    bad = exported_text(engine).replace("channels: email", "channels: pigeon")
    bad = bad.replace("mailbox: kf@storasa.example", "mailbox: kf(at)storasa")
    problems = _import(engine, bad)
    assert any(
        f"line {line_of(bad, 'pigeon')}:" in p and "telegram, email or both" in p for p in problems
    )
    assert any(f"line {line_of(bad, 'kf(at)storasa')}:" in p for p in problems)
    with Session(engine) as session:
        department = department_by_key(session=session, key="kultur_fritid")
        assert department is not None and department.channels == "email"


def test_check_names_the_departments_email_cannot_reach(engine: Engine) -> None:
    with session_scope(engine) as session:
        culture = department_by_key(session=session, key="kultur_fritid")
        technical = department_by_key(session=session, key="teknik")
        assert culture is not None and technical is not None
        culture.channels = "email"
        technical.channels = "both"
        set_group_chat(technical, -100200)
        for other in session.exec(select(Department)).all():  # the others have a group
            if other.key not in ("kultur_fritid", "teknik"):
                set_group_chat(other, -100300 - (other.id or 0))

    def problems(*, email_enabled: bool) -> list[str]:
        with session_scope(engine) as session:
            found = check_table(
                session=session, domain_intents=INTENTS, now=NOW, email_enabled=email_enabled
            )
            return [translate("en", p) for p in found]

    assert problems(email_enabled=True) == []
    [off] = problems(email_enabled=False)
    assert "'kultur_fritid' cannot be reached" in off and "SMTP_HOST" in off
    with session_scope(engine) as session:
        culture = department_by_key(session=session, key="kultur_fritid")
        assert culture is not None
        for contact in session.exec(select(Contact).where(Contact.department_id == culture.id)):
            contact.email = None
    assert problems(email_enabled=True) == [
        "department 'kultur_fritid' takes questions by e-mail but has no e-mail address"
    ]


def test_cli_check_says_who_cannot_be_reached_while_email_is_off(  # type: ignore[no-untyped-def]
    cli_app, cli_db, tmp_path: Path
) -> None:
    url, engine = cli_db
    with session_scope(engine) as session:
        culture = department_by_key(session=session, key="kultur_fritid")
        assert culture is not None
        culture.channels = "email"
    domain = write_domain(tmp_path / "domain.yml", INTENTS)
    runner = CliRunner()
    off = runner.invoke(
        cli_app, ["routes", "check", "--domain", str(domain)], env={"DATABASE_URL": url}
    )
    assert off.exit_code == 1
    assert "department 'kultur_fritid' cannot be reached" in off.stdout
    on = runner.invoke(
        cli_app,
        ["routes", "check", "--domain", str(domain)],
        env={"DATABASE_URL": url, "SMTP_HOST": "127.0.0.1"},
    )
    assert on.exit_code == 0, on.output


def test_export_and_import_carry_what_a_department_handles(engine: Engine) -> None:
    data = yaml.safe_load(exported_text(engine))
    culture = next(d for d in data["departments"] if d["key"] == "kultur_fritid")
    original = list(culture["handles"])
    assert len(original) >= 3  # the demo municipality's list reaches the file
    culture["handles"] = [original[0], "lån av utrustning"]
    assert _import(engine, yaml.safe_dump(data, allow_unicode=True)) == [
        "department kultur_fritid: changed"
    ]
    with Session(engine) as session:
        department = department_by_key(session=session, key="kultur_fritid")
        assert department is not None and department.handles == [original[0], "lån av utrustning"]
        entry = session.exec(
            select(AuditEntry).where(
                AuditEntry.entity == "department", AuditEntry.actor == "admin:eva"
            )
        ).one()
    assert entry.before is not None and entry.before["handles"] == original
    assert entry.after is not None and entry.after["handles"] == [original[0], "lån av utrustning"]

    left_out = yaml.safe_load(exported_text(engine))
    for item in left_out["departments"]:
        del item["handles"]
    assert _import(engine, yaml.safe_dump(left_out, allow_unicode=True)) == []  # kept as it is

    text = exported_text(engine)
    bad = text.replace("- lån av utrustning", "- " + "x" * 301, 1)
    problems = _import(engine, bad)
    assert any(f"line {line_of(bad, 'x' * 301)}:" in p and "300" in p for p in problems)
    twice = text.replace("- lån av utrustning", f"- {original[0].upper()}", 1)
    assert any(
        f"line {line_of(twice, original[0].upper())}:" in p and "already in the list" in p
        for p in _import(engine, twice)
    )
    with Session(engine) as session:
        department = department_by_key(session=session, key="kultur_fritid")
        assert department is not None and department.handles == [original[0], "lån av utrustning"]


def test_handles_are_checked_like_the_routing_file(engine: Engine) -> None:
    from db.routing.edits import update_department

    with session_scope(engine) as session:
        for wrong in ("one text", [["nested"]], ["two\nlines"], ["a"] * 21, ["A", "a"]):
            with pytest.raises(ValidationProblem) as problem:
                update_department(
                    session=session,
                    department_key="teknik",
                    changes={"handles": wrong},
                    actor="t",
                )
            assert problem.value.field == "handles"
        update_department(
            session=session,
            department_key="teknik",
            changes={"handles": ["  parker  ", "", "snöröjning"]},
            actor="t",
        )
    with Session(engine) as session:
        department = department_by_key(session=session, key="teknik")
        assert department is not None and department.handles == ["parker", "snöröjning"]
