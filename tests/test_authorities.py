"""The table of other authorities: seeded, edited, audited, exported, imported (both backends)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from bot.i18n import LANGUAGES
from db.models import AuditEntry, Authority
from db.plumbing.migrate import downgrade, upgrade
from db.plumbing.session import make_engine, session_scope
from db.plumbing.validation import ValidationProblem
from db.routing import authorities as table
from harness.database import migrate_and_seed

KEYS = {
    "skatteverket",
    "forsakringskassan",
    "migrationsverket",
    "region_halsa",
    "polisen",
    "trafikverket",
    "arbetsformedlingen",
    "bolagsverket",
}
DOMAIN_INTENTS = ["greet", "out_of_scope", "topic_bidrag", *(f"authority_{k}" for k in KEYS)]


def _audit(session: Session) -> list[AuditEntry]:
    return list(
        session.exec(
            select(AuditEntry).where(AuditEntry.entity == "authority").order_by(col(AuditEntry.id))
        ).all()
    )


def test_the_demo_list_names_eight_authorities_in_every_reply_language(engine: Engine) -> None:
    with Session(engine) as session:
        rows = table.list_authorities(session=session)
        mapping = table.intent_map(session=session)
    assert {a.key for a in rows} == KEYS
    assert mapping == {f"authority_{k}": k for k in KEYS}
    for authority in rows:
        assert set(authority.names) == set(LANGUAGES), authority.key
        assert authority.website and authority.website.startswith("https://")
        assert authority.phone and authority.handles
    region = next(a for a in rows if a.key == "region_halsa")
    assert region.names["sv"] == "Region Storåsa – 1177"
    assert (region.website, region.phone) == ("https://www.1177.se", "1177")
    skatt = next(a for a in rows if a.key == "skatteverket")
    assert (skatt.website, skatt.phone) == ("https://www.skatteverket.se", "0771-567 567")
    assert table.name_in(skatt, "fi") == "Skatteverket (Ruotsin verovirasto)"
    assert table.name_in(skatt, "de") == skatt.names["en"]  # no German name: English


def test_changes_are_audited_and_bad_values_change_nothing(engine: Engine) -> None:
    with session_scope(engine) as session:
        table.set_authority(
            session=session,
            key="skatteverket",
            changes={"phone": "0771-567 568", "names": {"de": "Steuerbehörde", "uk": ""}},
            actor="test",
        )
        table.set_authority(
            session=session,
            key="kronofogden",
            changes={"names": {"sv": "Kronofogden"}, "website": "https://www.kronofogden.se"},
            actor="test",
            domain_intents=[*DOMAIN_INTENTS, "authority_kronofogden"],
        )
    with Session(engine) as session:
        skatt = table.authority_by_key(session=session, key="skatteverket")
        assert skatt is not None and skatt.phone == "0771-567 568"
        assert skatt.names["de"] == "Steuerbehörde" and "uk" not in skatt.names
        assert skatt.changed_by == "test"
        new = table.authority_by_key(session=session, key="kronofogden")
        assert new is not None and new.intents == ["authority_kronofogden"]
        rows = [(e.action, e.entity_key) for e in _audit(session)]
        assert rows[-2:] == [("update", "skatteverket"), ("create", "kronofogden")]
        before = _audit(session)[-2].before or {}
        assert before["phone"] == "0771-567 567"

    bad: list[tuple[str, dict[str, object], str]] = [
        ("skatteverket", {"phone": "ring oss"}, "phone"),
        ("skatteverket", {"website": "skatteverket"}, "website"),
        ("polisen", {"intents": ["authority_skatteverket"]}, "intents"),  # someone else's
        ("Nytt Verk", {"names": {"sv": "Nytt"}}, "key"),
        ("nytt_verk", {"names": {"en": "New"}}, "names"),  # no Swedish name
        ("skatteverket", {"color": "blue"}, "color"),
    ]
    for key, changes, field in bad:
        with pytest.raises(ValidationProblem) as problem, session_scope(engine) as session:
            table.set_authority(session=session, key=key, changes=changes, actor="test")
        assert problem.value.field == field
    with Session(engine) as session:
        assert len(_audit(session)) == 2  # the two changes (seeding is not audited)
        assert table.intent_map(session=session)["authority_skatteverket"] == "skatteverket"

    with session_scope(engine) as session:
        table.remove_authority(session=session, key="kronofogden", actor="test")
    with Session(engine) as session:
        assert table.authority_by_key(session=session, key="kronofogden") is None
        last = _audit(session)[-1]
        assert (last.action, last.after, (last.before or {}).get("key")) == (
            "delete",
            None,
            "kronofogden",
        )


def test_export_then_import_changes_nothing_and_an_edit_is_applied(engine: Engine) -> None:
    with Session(engine) as session:
        exported = table.dump_authorities(table.export_authorities(session=session))
    with session_scope(engine) as session:
        same = table.import_authorities(
            session=session, text=exported, actor="test", domain_intents=DOMAIN_INTENTS
        )
    assert same.ok and same.changes == []

    data = yaml.safe_load(exported)
    data["authorities"] = [a for a in data["authorities"] if a["key"] != "bolagsverket"]
    for item in data["authorities"]:
        if item["key"] == "polisen":
            item["phone"] = "114 15"
    with session_scope(engine) as session:
        result = table.import_authorities(
            session=session,
            text=yaml.safe_dump(data, allow_unicode=True),
            actor="test",
            domain_intents=DOMAIN_INTENTS,
        )
    assert result.ok
    assert sorted(str(c) for c in result.changes) == [
        "myndighet bolagsverket: borttagen",
        "myndighet polisen: ändrad",
    ]
    with Session(engine) as session:
        polisen = table.authority_by_key(session=session, key="polisen")
        assert polisen is not None and polisen.phone == "114 15"
        assert table.authority_by_key(session=session, key="bolagsverket") is None
        assert [e.action for e in _audit(session)][-2:] == ["delete", "update"]


def test_a_bad_file_names_every_problem_with_its_line_and_changes_nothing(engine: Engine) -> None:
    text_ = (
        "authorities:\n"  # 1
        "  - key: skatteverket\n"  # 2
        "    names: {sv: Skatteverket}\n"  # 3
        "    phone: ring oss\n"  # 4
        "    intents: [authority_skatteverket]\n"  # 5
        "  - key: polisen\n"  # 6
        "    names: {en: Police}\n"  # 7
        "    intents: [authority_skatteverket]\n"  # 8
        "  - key: skatteverket\n"  # 9
        "    names: {sv: Igen}\n"  # 10
        "    intents: [authority_okand]\n"  # 11
    )
    with session_scope(engine) as session:
        before = table.export_authorities(session=session)
        result = table.import_authorities(
            session=session, text=text_, actor="test", domain_intents=DOMAIN_INTENTS
        )
    assert not result.ok
    lines = sorted({problem.line for problem in result.problems})
    assert lines == [4, 6, 7, 9, 11]
    messages = " | ".join(str(p.message) for p in result.problems)
    assert "authority_okand" in messages and "först på rad 2" in messages
    assert "hör till två myndigheter: skatteverket och polisen" in messages
    with Session(engine) as session:
        assert table.export_authorities(session=session) == before

    for broken in ("", "authorities: [\n", "routes: []\n", "authorities:\n  - just a line\n"):
        with session_scope(engine) as session:
            found = table.import_authorities(session=session, text=broken, actor="test")
        assert not found.ok and found.problems[0].line >= 1, broken
    with Session(engine) as session:
        assert table.export_authorities(session=session) == before


def test_cli_lists_sets_exports_imports_and_shows_history(tmp_path: Path) -> None:
    import bot.cli

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate_and_seed(url).dispose()
    domain = tmp_path / "domain.yml"
    domain.write_text(yaml.safe_dump({"version": "3.1", "intents": DOMAIN_INTENTS}))
    env = {"DATABASE_URL": url, "LC_ALL": "", "LC_MESSAGES": "", "LANG": "sv_SE.UTF-8"}
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(bot.cli.app, ["authorities", *args], env=env)

    listed = run("list")
    assert listed.exit_code == 0, listed.output
    assert len(listed.stdout.splitlines()) == len(KEYS)
    assert "https://www.forsakringskassan.se tel 0771-524 524" in listed.stdout

    changed = run("set", "trafikverket", "--phone", "0771-921 922", "--domain", str(domain))
    assert changed.exit_code == 0, changed.output
    assert changed.stdout == "Myndigheten trafikverket är sparad.\n"
    refused = run("set", "trafikverket", "--phone", "x", "--domain", str(domain))
    assert refused.exit_code == 1 and "phone" in refused.output
    odd = run("set", "trafikverket", "--name", "Trafikverket", "--domain", str(domain))
    assert odd.exit_code == 2 and "--name sv=Skatteverket" in odd.output

    exported = tmp_path / "authorities.yml"
    assert run("export", str(exported)).exit_code == 0
    data = yaml.safe_load(exported.read_text(encoding="utf-8"))
    assert {a["key"]: a["phone"] for a in data["authorities"]}["trafikverket"] == "0771-921 922"
    data["authorities"][0]["handles"] = "nytt ansvar"
    exported.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    dry = run("import", str(exported), "--dry-run", "--domain", str(domain))
    assert dry.exit_code == 0 and "Skulle ändra 1 post." in dry.stdout
    done = run("import", str(exported), "--domain", str(domain))
    assert done.exit_code == 0 and "Ändrade 1 post." in done.stdout
    again = run("import", str(exported), "--domain", str(domain))
    assert again.stdout.strip().endswith("Inga ändringar.")

    history = run("history", "--limit", "2")
    assert history.exit_code == 0
    assert "update authority arbetsformedlingen" in history.stdout
    assert "update authority trafikverket" in history.stdout
    assert "route" not in history.stdout


def test_migration_0020_keeps_enquiries_and_downgrades_referred_ones(database_url: str) -> None:
    upgrade(database_url, "0005")
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO enquiry (text, language, guesses, status, created_at, updated_at) "
                "VALUES ('En fråga om skatt', 'sv', '[]', 'received', :now, :now)"
            ),
            {"now": "2026-12-01 10:00:00+00:00"},
        )
    upgrade(database_url, "0020")
    assert "authority" in inspect(engine).get_table_names()
    with engine.begin() as connection:
        row = connection.execute(text("SELECT status, referred_to FROM enquiry")).one()
        assert tuple(row) == ("received", None)
        connection.execute(
            text("UPDATE enquiry SET status = 'referred', referred_to = 'skatteverket'")
        )
    downgrade(database_url, "0005")
    assert "authority" not in inspect(engine).get_table_names()
    with engine.begin() as connection:
        assert connection.execute(text("SELECT status, text FROM enquiry")).one() == (
            "escalated",
            "En fråga om skatt",
        )
    upgrade(database_url)
    with Session(engine) as session:
        assert session.exec(select(Authority)).all() == []  # seeding is `lotsen db seed`'s
    engine.dispose()
