"""Choose the decision thresholds from cross-validation and the dev sets, never one line.

`python -m bench.thresholds collect-cv` parses every held-out training example of a
stratified 5-fold cross-validation with Rasa itself (five real trainings of the shipped
pipeline); `collect-dev` parses the lines of the development sets with the shipped model.
Both keep the parse results in var/tuning/. `python -m bench.thresholds sweep` then replays
`decide()` on them for a grid of thresholds (milliseconds, no Rasa) and prints, per setting,
the figures of the cross-validation and of each dev set and language group. How the shipped
values were chosen from that table: nlu/EVALUATION.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.data import (
    Example,
    load_routes,
    nlu_examples,
    stratified_folds,
    training_examples,
)
from bench.pipelines import DEV_SETS
from bench.rasa_models import parse_with, temp_dir, train_nlu, write_nlu
from bot.settings import PROJECT_ROOT, Settings, load_settings
from bot.understanding import rasa_env
from bot.understanding.evaluation import (
    Metrics,
    Outcome,
    outcomes_by_group,
    predicted_label,
    score_outcomes,
)
from bot.understanding.routing import (
    AUTHORITY_PREFIX,
    Thresholds,
    authority_mapping,
    decide,
    load_thresholds,
)

TUNING = PROJECT_ROOT / "var" / "tuning"
FOLDS = 5
KNOBS = (
    "department",
    "out_of_scope_override",
    "out_of_scope_ratio",
    "confirm_below",
    "confirm_margin",
)


@dataclass(frozen=True)
class Parsed:
    """One labelled line with its parse result."""

    source: str
    text: str
    expected: str
    language: str
    authority: str | None
    parse: dict[str, Any]


def _dump(path: Path, rows: Iterable[Parsed]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row.__dict__, ensure_ascii=False) + "\n")


def load(path: Path) -> list[Parsed]:
    """Return the parsed lines kept in a tuning file."""
    return [
        Parsed(**json.loads(line))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def _language(text: str) -> str:
    from bot.understanding.language import scores

    ranked = scores(text)
    return ranked[0][0] if ranked else "–"


def dev_lines() -> list[tuple[str, dict[str, Any]]]:
    """Return (dev set name, labelled line) for every line of the dev sets that exist."""
    lines: list[tuple[str, dict[str, Any]]] = []
    for name, path in DEV_SETS.items():
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    lines.append((name, json.loads(line)))
    return lines


def collect_dev(settings: Settings, model: Path) -> list[Parsed]:
    """Parse the lines of the dev sets with `model`."""
    lines = dev_lines()
    sources = [name for name, _ in lines]
    rows = [row for _, row in lines]
    parses = parse_with(settings, model, [r["text"] for r in rows])
    return [
        Parsed(
            source,
            r["text"],
            r["expected"],
            str(r.get("lang") or "–"),
            r.get("authority"),
            parse,
        )
        for source, r, parse in zip(sources, rows, parses, strict=True)
    ]


@dataclass(frozen=True)
class Fold:
    """One fold of the cross-validation: what is trained on and what is held out."""

    name: str
    train: list[tuple[str, str]]
    """(intent, text): the other folds, and the conversation and status examples always."""
    test: list[Example]


def cross_validation(routes: dict[str, str]) -> list[Fold]:
    """Return the stratified folds of the routable training examples of `nlu/`."""
    examples = training_examples(PROJECT_ROOT / "nlu", routes)
    folds = stratified_folds(examples, FOLDS)
    held = {(e.intent, e.text) for e in examples}
    always = [(i, t) for i, t in nlu_examples(PROJECT_ROOT / "nlu") if (i, t) not in held]
    return [
        Fold(
            f"cv{fold}",
            always
            + [(e.intent, e.text) for e, f in zip(examples, folds, strict=True) if f != fold],
            [e for e, f in zip(examples, folds, strict=True) if f == fold],
        )
        for fold in range(FOLDS)
    ]


def authority_of(example: Example) -> str | None:
    """Return the authority a held-out `authority_<key>` example belongs to, else None."""
    if example.intent.startswith(AUTHORITY_PREFIX):
        return example.intent.removeprefix(AUTHORITY_PREFIX)
    return None


def collect_cv(settings: Settings, out_path: Path, report: Any = print) -> None:
    """Train the shipped pipeline once per fold; keep each fold's held-out parses.

    Each fold is appended to `out_path` as soon as it is done (a slow machine may stop the
    run early: the folds done so far can still be swept).
    """
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("", encoding="utf-8")
    for number, fold in enumerate(cross_validation(load_routes(settings.routes_file)), 1):
        out: list[Parsed] = []
        report(f"cross-validation: fold {number}/{FOLDS}")
        with temp_dir() as tmp:
            folder = Path(tmp)
            write_nlu(fold.train, folder / "train.yml")
            model = train_nlu(settings, PROJECT_ROOT / "config.yml", folder / "train.yml", folder)
            parses = parse_with(settings, model.path, [e.text for e in fold.test])
        for example, parse in zip(fold.test, parses, strict=True):
            out.append(
                Parsed(
                    fold.name,
                    example.text,
                    example.label,
                    _language(example.text),
                    authority_of(example),
                    parse,
                )
            )
        with out_path.open("a", encoding="utf-8") as handle:
            for row in out:
                handle.write(json.dumps(row.__dict__, ensure_ascii=False) + "\n")


def routing_for(rows: Iterable[Parsed]) -> tuple[dict[str, str], dict[str, str]]:
    """Return the routing table and the authorities of the intents the parses rank."""
    routes = load_routes(load_settings().routes_file)
    intents = {item["name"] for row in rows for item in row.parse.get("intent_ranking", [])}
    return routes, authority_mapping(intents)


def outcomes(
    rows: Sequence[Parsed],
    routes: dict[str, str],
    thresholds: Thresholds,
    authorities: dict[str, str],
) -> list[Outcome]:
    """Replay the live decision on kept parses."""
    out = []
    for row in rows:
        d = decide(row.parse, routes, thresholds, authorities=authorities)
        out.append(
            Outcome(
                expected=row.expected,
                predicted=predicted_label(d.department, d.escalate, d.refer),
                language=row.language,
                authority=row.authority,
                referred=d.refer,
                confirm=d.confirm is not None,
            )
        )
    return out


def _cells(m: Metrics) -> str:
    return (
        f"{m.accuracy:6.1%} {m.escalation_recall:6.1%} {m.false_escalation_rate:5.1%} "
        f"{m.confirmation_rate:5.1%} {m.referral_accuracy:6.1%} {m.answered_smalltalk:2d}"
    )


def sweep(grid: Mapping[str, Sequence[float]], base: Thresholds, tuning: Path = TUNING) -> None:
    """Print the figures of every threshold setting of the grid.

    Per setting: the cross-validation (all held-out examples), then all dev sets pooled per
    language group (the targets are per group, over every unseen question).
    """
    dev = load(tuning / "dev.jsonl")
    cv = load(tuning / "cv.jsonl") if (tuning / "cv.jsonl").exists() else []
    routes, authorities = routing_for([*dev, *cv])
    names = list(grid)
    print("cells: in-scope acc, caught, false esc, confirm, referral acc, small talk")
    for values in itertools.product(*(grid[n] for n in names)):
        limits = replace(base, **dict(zip(names, values, strict=True)))
        parts = [" ".join(f"{n}={v:g}" for n, v in zip(names, values, strict=True))]
        if cv:
            parts.append("CV " + _cells(score_outcomes(outcomes(cv, routes, limits, authorities))))
        pooled = outcomes_by_group(outcomes(dev, routes, limits, authorities))
        parts += [f"{group} {_cells(m)}" for group, m in pooled.items()]
        print(" | ".join(parts))


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def main(argv: list[str] | None = None) -> None:
    """Collect parses or sweep thresholds (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bench.thresholds", description=__doc__)
    parser.add_argument("command", choices=("collect-dev", "collect-cv", "sweep"))
    for name in KNOBS:
        parser.add_argument(f"--{name.replace('_', '-')}", default="", help="values, a,b,c")
    parser.add_argument(
        "--tuning",
        type=Path,
        default=TUNING,
        help="folder of the kept parses (sweep; bench.experiments --keep writes others)",
    )
    args = parser.parse_args(argv)
    settings = load_settings()
    if args.command == "collect-dev":
        _dump(TUNING / "dev.jsonl", collect_dev(settings, rasa_env.model_path(settings)))
        return
    if args.command == "collect-cv":
        collect_cv(settings, TUNING / "cv.jsonl")
        return
    base = load_thresholds(PROJECT_ROOT / "config.yml")
    grid = {name: _floats(getattr(args, name)) for name in KNOBS if getattr(args, name)}
    sweep(grid or {"department": [base.department]}, base, args.tuning)


if __name__ == "__main__":
    main()
