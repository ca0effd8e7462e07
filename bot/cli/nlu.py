"""`lotsen route` and `lotsen eval`: the live routing decision over JSON lines."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from bot.cli.common import cli_language, fail, settings_or_exit
from bot.i18n import t
from bot.settings import PROJECT_ROOT, Settings
from bot.understanding.evaluation import Metrics


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    language = cli_language()
    rows: list[dict[str, Any]] = []
    try:
        handle = sys.stdin if str(path) == "-" else path.open(encoding="utf-8")
    except OSError as exc:
        # Translators: {problem} is the operating system's own (English) explanation.
        message = t(language, "Kan inte läsa {path}: {problem}", path=path, problem=exc.strerror)
        raise fail(message) from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                message = t(language, "{path}:{line}: inte giltig JSON", path=path, line=number)
                raise fail(message) from None
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                # Translators: "text" is the JSON key and stays as it is.
                message = t(
                    language,
                    '{path}:{line}: väntade ett objekt med en sträng under "text"',
                    path=path,
                    line=number,
                )
                raise fail(message) from None
            rows.append(row)
    return rows


def decide_all(settings: Settings, texts: list[str]) -> list[dict[str, Any]]:
    """Route texts exactly as the live bot does: same model, threshold and routing table."""
    from bot.understanding import rasa_env
    from bot.understanding.batch import parse_texts
    from bot.understanding.routing import decide, load_thresholds
    from db.enquiries import crud
    from db.plumbing.session import make_engine, session_scope
    from db.routing.authorities import intent_map

    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            routes = crud.routes_map(session=session)
            # The authorities table: which intents refer to which other authority.
            authorities = intent_map(session=session)
    except Exception as exc:
        # Translators: {kind} is the technical name of the failure, e.g. OperationalError.
        message = t(
            cli_language(),
            "Kan inte läsa vägtabellen ({kind}); kör `make setup`.",
            kind=type(exc).__name__,
        )
        raise fail(message) from None
    finally:
        engine.dispose()
    thresholds = load_thresholds(PROJECT_ROOT / "config.yml")
    try:
        parses = parse_texts(settings, texts)
    except (rasa_env.RasaUnavailable, RuntimeError) as exc:
        raise fail(str(exc)) from None
    out = []
    for text, parse in zip(texts, parses, strict=True):
        decision = decide(parse, routes, thresholds, authorities=authorities)
        result: dict[str, Any] = {
            "text": text,
            "intent": decision.intent,
            "confidence": round(decision.confidence, 4),
            "department": None if decision.escalate else decision.department,
            "escalate": decision.escalate,
        }
        if decision.refer is not None:
            result["refer"] = decision.refer
        if decision.confirm is not None:
            result["confirm"] = list(decision.confirm)
        out.append(result)
    return out


def route(
    jsonl: Path = typer.Option(
        ..., "--jsonl", help='Input: one {"text": ...} per line (- for stdin).'
    ),
) -> None:
    """Route JSON lines and write one decision per line to stdout."""
    settings = settings_or_exit()
    rows = _read_jsonl(jsonl)
    for result in decide_all(settings, [r["text"] for r in rows]):
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")


def evaluate(
    jsonl: Path = typer.Option(..., "--jsonl", help='Labelled lines: {"text", "expected"}.'),
    errors: bool = typer.Option(False, "--errors", help="Also list the misrouted lines."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the figures as JSON here."),
) -> None:
    """Measure routing quality on labelled JSON lines (per language too, given `lang`)."""
    from bot.understanding.evaluation import (
        by_language,
        language_report,
        predicted_label,
        report,
        score,
    )

    settings = settings_or_exit()
    rows = _read_jsonl(jsonl)
    if any(not isinstance(r.get("expected"), str) for r in rows):
        # Translators: "expected" and "escalate" are JSON values and stay as they are.
        message = t(
            cli_language(),
            'varje rad behöver ett "expected" (en förvaltningsnyckel eller "escalate")',
        )
        raise fail(message)
    results = decide_all(settings, [r["text"] for r in rows])
    pairs = [
        (r["expected"], predicted_label(res["department"], res["escalate"], res.get("refer")))
        for r, res in zip(rows, results, strict=True)
    ]
    metrics = score(pairs)
    typer.echo(report(metrics))
    languages = by_language(pairs, [str(r.get("lang") or "–") for r in rows])
    if any("lang" in r for r in rows):
        typer.echo("\nper language\n" + language_report(languages))
    if errors:
        typer.echo()
        # Translators: heading of the lines `lotsen eval --errors` sent to the wrong place.
        typer.echo(t(cli_language(), "fel vägval:"))
        for (expected, predicted), res in zip(pairs, results, strict=True):
            if expected != predicted:
                typer.echo(
                    f"  {expected:>15} → {predicted:<15} {res['intent']} "
                    f"{res['confidence']:.2f}  {res['text'][:90]}"
                )
    if json_out is not None:
        json_out.write_text(
            json.dumps(
                {
                    **_figures(metrics),
                    "languages": {key: _figures(m) for key, m in languages.items()},
                },
                indent=2,
            )
        )


def _figures(metrics: Metrics) -> dict[str, float | int]:
    return {
        "lines": metrics.total,
        "accuracy": metrics.accuracy,
        "escalation_recall": metrics.escalation_recall,
        "false_escalation_rate": metrics.false_escalation_rate,
        "answered_smalltalk": metrics.answered_smalltalk,
        "macro_f1": metrics.macro_f1,
    }


def register(app: typer.Typer) -> None:
    """Add the routing commands."""
    app.command()(route)
    app.command("eval")(evaluate)
