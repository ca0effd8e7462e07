"""The shipped pipeline beside the previous one, in one run: quality and cost.

For each pipeline: training from scratch (`rasa train --force`, NLU and rules, into a
temporary folder; wall and CPU time), in-process parse latency of every line of both dev
sets (one parse at a time, after a warm-up, in the Rasa environment; wall and CPU time),
the Rasa process's resident memory before and after loading and parsing, `lotsen route`'s
batch parser in lines per second (start-up included), and the routing figures of both dev
sets through the live `decide()`.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.data import Example, load_eval, load_routes, nlu_examples
from bench.latency import percentiles
from bench.rasa_models import parse_with, temp_dir, threshold_for
from bot.settings import PROJECT_ROOT, Settings
from bot.understanding import rasa_env
from bot.understanding.evaluation import (
    Metrics,
    Outcome,
    outcomes_by_group,
    predicted_label,
    score_outcomes,
)
from bot.understanding.routing import Thresholds, decide, load_authorities

SHIPPED = PROJECT_ROOT / "config.yml"
PREVIOUS = PROJECT_ROOT / "bench" / "config-sparse-lr.yml"
REFERENCE = PROJECT_ROOT.parent / "shared" / "reference"
DEV_SETS = {
    "dev": REFERENCE / "eval-dev.jsonl",
    "multilingual": REFERENCE / "eval-dev-multilingual.jsonl",
    "out_of_scope": PROJECT_ROOT / "eval" / "out-of-scope-dev.jsonl",
    "untrained": PROJECT_ROOT / "eval" / "untrained-languages-dev.jsonl",
}
ROUTE_LINES = 500


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _train(settings: Settings, config: Path, out: Path) -> tuple[float, float]:
    """Train NLU and rules from scratch with `config`; return wall and CPU seconds."""
    command = [
        str(rasa_env.rasa_bin(settings)),
        "train",
        "--force",
        "--config",
        str(config),
        "--domain",
        "domain.yml",
        "--data",
        "nlu",
        "stories",
        "--out",
        str(out),
        "--fixed-model-name",
        rasa_env.MODEL_NAME,
    ]
    started, cpu_started = time.perf_counter(), _children_cpu_seconds()
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, env=rasa_env.rasa_env(), capture_output=True, check=False
    )
    if done.returncode != 0:
        tail = done.stdout.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"rasa train failed: {tail[0]}")
    return time.perf_counter() - started, _children_cpu_seconds() - cpu_started


def _timed_parses(settings: Settings, model: Path, texts: Sequence[str]) -> dict[str, Any]:
    """Run lotsen_rasa.parse_timing on the texts and return its JSON."""
    done = subprocess.run(
        [str(rasa_env.rasa_python(settings)), "-m", "lotsen_rasa.parse_timing", str(model)],
        input="".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts),
        capture_output=True,
        text=True,
        env=rasa_env.rasa_env(),
        cwd=PROJECT_ROOT,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"the parse timing failed: {tail[0]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _quality(
    routes: dict[str, str],
    threshold: Thresholds,
    rows: Sequence[Example],
    path: Path,
    parses: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """Return the routing figures of one dev set, per language group too."""
    authorities = load_authorities(PROJECT_ROOT / "domain.yml")
    raw = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    outcomes = []
    for row, line, parse in zip(rows, raw, parses, strict=True):
        decision = decide(parse, routes, threshold, authorities=authorities)
        outcomes.append(
            Outcome(
                expected=row.label,
                predicted=predicted_label(decision.department, decision.escalate, decision.refer),
                language=str(line.get("lang") or "–"),
                authority=line.get("authority"),
                referred=decision.refer,
                confirm=decision.confirm is not None,
            )
        )
    metrics = score_outcomes(outcomes)
    return {
        **figures(metrics),
        "macro_f1": round(metrics.macro_f1, 4),
        "groups": {group: figures(m) for group, m in outcomes_by_group(outcomes).items()},
    }


def figures(metrics: Metrics) -> dict[str, Any]:
    """Return one scoring's headline figures as plain JSON values."""
    return {
        "lines": metrics.total,
        "in_scope": metrics.in_scope,
        "out_of_scope": metrics.out_of_scope,
        "accuracy": round(metrics.accuracy, 4),
        "escalation_recall": round(metrics.escalation_recall, 4),
        "false_escalation_rate": round(metrics.false_escalation_rate, 4),
        "referral_accuracy": round(metrics.referral_accuracy, 4),
        "expected_referrals": metrics.expected_referrals,
        "referred": metrics.referred,
        "confirmation_rate": round(metrics.confirmation_rate, 4),
        "answered_smalltalk": metrics.answered_smalltalk,
    }


def _route_lines(dev_texts: Sequence[str]) -> list[str]:
    """Return distinct texts for the route benchmark: the dev lines, then training examples."""
    texts = list(dict.fromkeys(dev_texts))
    for _, text in nlu_examples(PROJECT_ROOT / "nlu"):
        if len(texts) >= ROUTE_LINES:
            break
        if text not in texts:
            texts.append(text)
    return texts


def measure(settings: Settings, config: Path, report: Callable[[str], None]) -> dict[str, Any]:
    """Train one pipeline and measure its quality and cost."""
    with temp_dir() as tmp:
        report(f"pipelines: training {config.relative_to(PROJECT_ROOT)} from scratch")
        wall, cpu = _train(settings, config, Path(tmp))
        model = Path(tmp) / f"{rasa_env.MODEL_NAME}.tar.gz"
        out = measure_model(settings, model, config, report)
    return {**out, "train_seconds": round(wall, 1), "train_cpu_seconds": round(cpu, 1)}


def measure_model(
    settings: Settings, model: Path, config: Path, report: Callable[[str], None]
) -> dict[str, Any]:
    """Measure a trained model's quality and cost (everything `measure` does but training)."""
    sets = {name: load_eval(path) for name, path in DEV_SETS.items() if path.is_file()}
    texts = [row.text for rows in sets.values() for row in rows]
    routes, threshold = load_routes(settings.routes_file), threshold_for(config)
    out: dict[str, Any] = {
        "config": str(config.relative_to(PROJECT_ROOT)),
        "threshold": threshold.department,
        "thresholds": threshold.__dict__,
    }
    report(f"pipelines: in-process parses with {out['config']}")
    timed = _timed_parses(settings, model, texts)
    out["parse"] = percentiles(timed["parse_s"])
    out["parse_cpu"] = percentiles(timed["parse_cpu_s"])
    out["rss_mb"] = {
        "before_load": timed["rss_before_mb"],
        "loaded": timed["rss_loaded_mb"],
        "after_parsing": timed["rss_after_mb"],
    }
    out["load_seconds"] = round(timed["load_s"], 1)
    start = 0
    for name, rows in sets.items():
        parses = timed["parses"][start : start + len(rows)]
        start += len(rows)
        out[name] = _quality(routes, threshold, rows, DEV_SETS[name], parses)
    lines = _route_lines(texts)
    report(f"pipelines: lotsen route's batch parser on {len(lines)} lines")
    started = time.perf_counter()
    parse_with(settings, model, lines)
    out["route_lines_per_s"] = round(len(lines) / (time.perf_counter() - started), 1)
    return out


def compare(settings: Settings, report: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure the shipped and the previous pipeline one after the other."""
    results = {"shipped": measure(settings, SHIPPED, report)}
    results["previous"] = measure(settings, PREVIOUS, report)
    growth = (
        results["shipped"]["rss_mb"]["after_parsing"]
        - (results["previous"]["rss_mb"]["after_parsing"])
    )
    results["rss_growth_mb"] = round(growth, 1)
    return results


def cli_route_lines_per_s(lines: Sequence[str]) -> float:
    """Time `lotsen route --jsonl` itself on the lines: the whole command, start-up included."""
    lotsen = Path(sys.executable).with_name("lotsen")
    stdin = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in lines)
    started = time.perf_counter()
    done = subprocess.run(
        [str(lotsen), "route", "--jsonl", "-"],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )
    seconds = time.perf_counter() - started
    decided = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or len(decided) != len(lines):
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"lotsen route failed ({len(decided)} of {len(lines)}): {tail[0]}")
    return round(len(lines) / seconds, 1)


def main() -> None:
    """`python -m bench.pipelines`: the cost and quality of the trained model, no training.

    In-process parse latency of every dev line, the Rasa process's memory, the batch parser
    and the whole `lotsen route` command on 500 distinct lines (start-up included), and the
    dev sets' figures, for the model in `models/` (what `lotsen train` left there). Writes
    var/bench-model.json. `make bench` measures the same after training both pipelines.
    """
    from bot.settings import load_settings

    settings = load_settings()
    out = measure_model(settings, rasa_env.model_path(settings), SHIPPED, print)
    sets = {name: load_eval(path) for name, path in DEV_SETS.items() if path.is_file()}
    lines = _route_lines([row.text for rows in sets.values() for row in rows])
    print(f"pipelines: the whole `lotsen route` command on {len(lines)} lines")
    out["cli_route_lines_per_s"] = cli_route_lines_per_s(lines)
    path = PROJECT_ROOT / "var" / "bench-model.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    parse, cpu = out["parse"], out["parse_cpu"]
    print(
        f"parse p50/p95 {parse['p50_ms']}/{parse['p95_ms']} ms "
        f"(CPU {cpu['p50_ms']}/{cpu['p95_ms']} ms), model load "
        f"{out['load_seconds']} s, batch parser {out['route_lines_per_s']} lines/s, "
        f"lotsen route {out['cli_route_lines_per_s']} lines/s; written to {path}"
    )


if __name__ == "__main__":
    main()
