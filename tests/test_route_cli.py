"""`lotsen route` and `lotsen eval` use exactly the live bot's decision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import Session, select

from bot.conversation import Conversation
from bot.services import create_services
from bot.settings import PROJECT_ROOT, Settings
from db.models import Department, Enquiry
from db.plumbing.session import make_engine
from harness.people import telegram_writer

LINES = [
    "Hur söker vår förening aktivitetsstöd för barn och unga?",
    "Behöver vi bygglov för ett förråd vid klubbstugan?",
    "Vi vill ha loppis på torget, vem ger tillstånd?",
    "Tell me a joke about cats",
    "Jag vill prata med en människa",
]


def _cli(settings: Settings, *args: str, server: bool) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DATABASE_URL=settings.database_url)
    env["RASA_URL"] = settings.rasa_url if server else "http://127.0.0.1:9"
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


async def test_route_matches_the_live_bot(rasa_stack: Settings, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in LINES))
    via_server = _cli(rasa_stack, "route", "--jsonl", str(source), server=True)
    via_model = _cli(rasa_stack, "route", "--jsonl", str(source), server=False)
    assert via_server.returncode == 0, via_server.stderr
    assert via_model.returncode == 0, via_model.stderr
    served = [json.loads(line) for line in via_server.stdout.splitlines()]
    batch = [json.loads(line) for line in via_model.stdout.splitlines()]
    assert [r["text"] for r in served] == LINES
    assert [(r["department"], r["escalate"], r["intent"]) for r in served] == [
        (r["department"], r["escalate"], r["intent"]) for r in batch
    ]
    for row in served:
        # "refer" and "confirm" only on lines that are referred or to be confirmed.
        assert set(row) - {"refer", "confirm"} == {
            "text",
            "intent",
            "confidence",
            "department",
            "escalate",
        }
        assert (row["department"] is None) == (row["escalate"] or "refer" in row)
    assert served[0]["department"] == "kultur_fritid"
    assert served[3]["escalate"] and served[4]["escalate"]

    services = create_services(rasa_stack)
    try:
        conversation = Conversation(services)
        for n, text in enumerate(LINES):
            await conversation.handle_text(
                writer=telegram_writer(8_800_000 + n, 8_800_000 + n),
                text=text,
                message_key=f"route-{n}",
            )
    finally:
        await services.aclose()
    engine = make_engine(rasa_stack.database_url)
    with Session(engine) as session:
        for n, row in enumerate(served):
            enquiry = session.exec(select(Enquiry).where(Enquiry.message_key == f"route-{n}")).one()
            department = (
                session.get(Department, enquiry.department_id) if enquiry.department_id else None
            )
            assert (department.key if department else None) == row["department"]
            assert (enquiry.status == "escalated") == row["escalate"]
    engine.dispose()


def test_eval_prints_the_figures(rasa_stack: Settings, tmp_path: Path) -> None:
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text(
        json.dumps({"text": LINES[0], "expected": "kultur_fritid"}, ensure_ascii=False)
        + "\n"
        + json.dumps({"text": LINES[3], "expected": "escalate"}, ensure_ascii=False)
        + "\n"
    )
    out = tmp_path / "figures.json"
    result = _cli(rasa_stack, "eval", "--jsonl", str(labelled), "--json", str(out), server=True)
    assert result.returncode == 0, result.stderr
    assert "in-scope department accuracy: 100.0%" in result.stdout
    assert "out-of-scope escalation recall: 100.0%" in result.stdout
    assert "confusion" in result.stdout
    figures = json.loads(out.read_text())
    assert figures["accuracy"] == 1.0 and figures["false_escalation_rate"] == 0.0


def test_route_refuses_malformed_input(rasa_stack: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\nnot json\n')
    result = _cli(rasa_stack, "route", "--jsonl", str(bad), server=True)
    assert result.returncode == 1
    assert f"{bad}:2: not valid JSON" in result.stderr
    assert result.stdout == ""
