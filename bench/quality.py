"""Routing quality of every approach on the same labelled lines, plus cross-validation."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.baselines import KeywordRouter, department_keywords, tfidf_baseline
from bench.data import (
    Example,
    load_eval,
    load_routes,
    nlu_examples,
    stratified_folds,
    training_examples,
)
from bench.pipelines import DEV_SETS, compare, figures
from bench.rasa_models import (
    alternative_config,
    decisions,
    parse_with,
    temp_dir,
    threshold_for,
    train_nlu,
    write_nlu,
)
from bot.cli.nlu import decide_all
from bot.settings import PROJECT_ROOT, Settings
from bot.understanding import rasa_env
from bot.understanding.evaluation import (
    Metrics,
    Outcome,
    outcomes_by_group,
    predicted_label,
    score,
    score_outcomes,
)

FOLDS = 5
METRICS = ("accuracy", "escalation_recall", "false_escalation_rate", "macro_f1")


def metrics_dict(metrics: Metrics) -> dict[str, Any]:
    """Return the figures of one scoring as plain JSON values."""
    return {
        "lines": metrics.total,
        "in_scope": metrics.in_scope,
        "out_of_scope": metrics.out_of_scope,
        **{name: round(float(getattr(metrics, name)), 4) for name in METRICS},
    }


def cv_summary(
    examples: Sequence[Example], folds: Sequence[int], predictions: Sequence[str]
) -> dict[str, Any]:
    """Return mean and standard deviation of each metric over the folds."""
    per_fold = []
    for fold in sorted(set(folds)):
        pairs = [
            (e.label, p) for e, f, p in zip(examples, folds, predictions, strict=True) if f == fold
        ]
        per_fold.append(score(pairs))
    summary: dict[str, Any] = {"folds": len(per_fold), "lines": len(examples)}
    for name in METRICS:
        values = [float(getattr(m, name)) for m in per_fold]
        summary[name] = round(statistics.fmean(values), 4)
        summary[f"{name}_std"] = round(statistics.pstdev(values), 4)
    return summary


def _labels(decided: Sequence[tuple[str | None, bool, str | None]]) -> list[str]:
    return [predicted_label(department, escalate, refer) for department, escalate, refer in decided]


def _rasa_cv(
    settings: Settings,
    examples: Sequence[Example],
    folds: Sequence[int],
    routes: dict[str, str],
    report: Callable[[str], None],
) -> dict[str, Any]:
    """Train the shipped pipeline once per fold and route the held-out examples."""
    held = {(e.intent, e.text) for e in examples}
    always = [(i, t) for i, t in nlu_examples(PROJECT_ROOT / "nlu") if (i, t) not in held]
    threshold = threshold_for(PROJECT_ROOT / "config.yml")
    predictions = [""] * len(examples)
    seconds = []
    for fold in range(FOLDS):
        report(f"rasa cross-validation: fold {fold + 1}/{FOLDS}")
        train = always + [
            (e.intent, e.text) for e, f in zip(examples, folds, strict=True) if f != fold
        ]
        test = [i for i, f in enumerate(folds) if f == fold]
        with temp_dir() as tmp:
            folder = Path(tmp)
            write_nlu(train, folder / "train.yml")
            model = train_nlu(settings, PROJECT_ROOT / "config.yml", folder / "train.yml", folder)
            seconds.append(model.seconds)
            parses = parse_with(settings, model.path, [examples[i].text for i in test])
        for i, label in zip(test, _labels(decisions(parses, routes, threshold)), strict=True):
            predictions[i] = label
    summary = cv_summary(examples, folds, predictions)
    summary["train_seconds_mean"] = round(statistics.fmean(seconds), 1)
    return summary


def baseline_quality(
    settings: Settings,
    *,
    eval_path: Path,
    smoke: bool,
    rasa_cv: bool,
    report: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Score the baselines, and (full mode) the alternative pipeline and both pipelines' costs."""
    routes = load_routes(settings.routes_file)
    train = training_examples(PROJECT_ROOT / "nlu", routes)
    evaluation = load_eval(eval_path)
    seen = {e.text.strip().lower() for e in train}
    folds = stratified_folds(train, FOLDS)
    expected = [e.label for e in evaluation]
    texts = [e.text for e in evaluation]
    results: dict[str, Any] = {
        "eval_file": str(eval_path),
        "eval_lines": len(evaluation),
        "train_lines": len(train),
        "eval_lines_also_in_training": sum(e.text.strip().lower() in seen for e in evaluation),
    }

    report("quality: keyword baseline")
    router = KeywordRouter(department_keywords(settings.municipality_file))
    results["keyword"] = {
        "eval": metrics_dict(score(list(zip(expected, map(router.predict, texts), strict=True)))),
        "cv": cv_summary(train, folds, [router.predict(e.text) for e in train]),
    }

    report("quality: TF-IDF + logistic regression")
    tfidf = tfidf_baseline(settings, [(e.text, e.label) for e in train], folds, texts)
    results["tfidf"] = {
        "eval": metrics_dict(score(list(zip(expected, tfidf.eval_predictions, strict=True)))),
        "cv": cv_summary(train, folds, tfidf.cv_predictions),
        "threshold": tfidf.threshold,
        "fit_seconds": round(tfidf.fit_seconds, 3),
    }

    if rasa_cv and not smoke:
        results["rasa_cv"] = _rasa_cv(settings, train, folds, routes, report)
    else:
        results["rasa_cv"] = {"skipped": "expensive (5 trainings); run with --rasa-cv"}

    if smoke:
        results["pipelines"] = {"skipped": "smoke mode"}
    else:
        results["pipelines"] = compare(settings, report)

    alternative = alternative_config()
    if smoke:
        results["rasa_alt"] = {"skipped": "smoke mode"}
    elif alternative is None:
        results["rasa_alt"] = {"skipped": "nlu/EVALUATION.md names no alternative config file"}
    else:
        report(f"quality: alternative pipeline {alternative.name} (training)")
        with temp_dir() as tmp:
            model = train_nlu(settings, alternative, PROJECT_ROOT / "nlu", Path(tmp))
            parses = parse_with(settings, model.path, texts)
        alt = _labels(decisions(parses, routes, threshold_for(alternative)))
        results["rasa_alt"] = {
            "config": str(alternative.relative_to(PROJECT_ROOT)),
            "eval": metrics_dict(score(list(zip(expected, alt, strict=True)))),
            "train_seconds": round(model.seconds, 1),
        }
    return results


@dataclass
class LiveQuality:
    """The shipped pipeline's figures, and the eval texts it turns into enquiries."""

    results: dict[str, Any] = field(default_factory=dict)
    enquiry_texts: list[str] = field(default_factory=list)


OTHER_DEV_SETS = {name: path for name, path in DEV_SETS.items() if name != "dev"}
"""Scored beside the eval file (issue 24); Lotsen's own sets (eval/) are in the repository."""


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def live_quality(settings: Settings, *, eval_path: Path) -> LiveQuality:
    """Score the shipped Rasa pipeline exactly as the bot decides (`decide_all`).

    The eval file and the other dev sets are parsed in one batch; each set is reported with
    its figures per language group (issue 24's targets).
    """
    sets = {"eval": _rows(eval_path)}
    sets.update({name: _rows(path) for name, path in OTHER_DEV_SETS.items() if path.is_file()})
    rows = [row for set_rows in sets.values() for row in set_rows]
    decided = decide_all(settings, [str(row["text"]) for row in rows])
    outcomes = [
        Outcome(
            expected=str(row["expected"]),
            predicted=predicted_label(d["department"], d["escalate"], d.get("refer")),
            language=str(row.get("lang") or "–"),
            authority=row.get("authority"),
            referred=d.get("refer"),
            confirm="confirm" in d,
        )
        for row, d in zip(rows, decided, strict=True)
    ]
    dev_sets: dict[str, Any] = {}
    start = 0
    for name, set_rows in sets.items():
        part = outcomes[start : start + len(set_rows)]
        start += len(set_rows)
        dev_sets[name] = {
            **figures(score_outcomes(part)),
            "groups": {group: figures(m) for group, m in outcomes_by_group(part).items()},
        }
    eval_part = outcomes[: len(sets["eval"])]
    return LiveQuality(
        {
            "eval": metrics_dict(score_outcomes(eval_part)),
            "dev_sets": dev_sets,
            "model_current": rasa_env.model_is_current(settings),
        },
        [d["text"] for d in decided[: len(sets["eval"])] if d["escalate"] or d["department"]],
    )
