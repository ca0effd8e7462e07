"""The benchmark's smoke mode against the real stack: structure and sanity of its figures."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bench.baselines import KeywordRouter, department_keywords, tokens
from bench.data import DEFAULT_EVAL, load_eval
from bench.latency import percentiles
from bench.report import render
from bench.run import SMOKE_PLAN, Options, run_all
from bench.soak import FAULT_NAMES, SMOKE_SOAK, run_soak
from bot.settings import Settings
from db.plumbing.session import make_engine
from harness.telegram import reset_transport_tables

METRICS = ("accuracy", "escalation_recall", "false_escalation_rate", "macro_f1")


def _share(value: Any) -> bool:
    return isinstance(value, float | int) and 0.0 <= value <= 1.0


def _latencies_ok(phase: dict[str, Any]) -> None:
    assert phase["answered"] == phase["questions"] > 0
    assert 0 < phase["p50_ms"] <= phase["p95_ms"] <= phase["p99_ms"] <= phase["max_ms"]
    assert phase["throughput_per_s"] > 0
    assert phase["wall_s"] > 0


def test_smoke_run_reports_every_figure(rasa_stack: Settings) -> None:
    if not DEFAULT_EVAL.exists():
        pytest.skip(f"{DEFAULT_EVAL} not available (the bench measures on the dev set)")
    engine = make_engine(rasa_stack.database_url)
    reset_transport_tables(engine)  # the bench's fake Telegram numbers its updates from 1 again
    engine.dispose()
    results = run_all(Options(smoke=True), running=rasa_stack, report=lambda _line: None)
    results = json.loads(json.dumps(results))  # what var/bench.json holds

    assert results["mode"] == "smoke"
    quality = results["quality"]
    assert quality["eval_lines"] == len(load_eval(DEFAULT_EVAL))
    assert quality["train_lines"] > 100
    for approach in ("keyword", "tfidf", "rasa"):
        figures = quality[approach]["eval"]
        assert figures["lines"] == quality["eval_lines"]
        assert figures["in_scope"] + figures["out_of_scope"] == figures["lines"]
        assert all(_share(figures[m]) for m in METRICS), (approach, figures)
    for approach in ("keyword", "tfidf"):
        cv = quality[approach]["cv"]
        assert cv["folds"] == 5 and cv["lines"] == quality["train_lines"]
        assert all(_share(cv[m]) and _share(cv[f"{m}_std"]) for m in METRICS)
    assert 0.0 < quality["tfidf"]["threshold"] < 1.0
    # A learned model beats keyword overlap on the department question.
    assert quality["tfidf"]["eval"]["accuracy"] > quality["keyword"]["eval"]["accuracy"]
    assert "skipped" in quality["rasa_alt"] and "skipped" in quality["rasa_cv"]
    assert isinstance(quality["rasa"]["model_current"], bool)

    sqlite = results["backends"]["sqlite"]
    assert [level["users"] for level in sqlite["levels"]] == list(SMOKE_PLAN.levels)
    for level in sqlite["levels"]:
        e2e, rasa = level["end_to_end"], level["rasa_alone"]
        _latencies_ok(e2e)
        _latencies_ok(rasa)
        # Every question answered, and exactly one enquiry recorded per question.
        assert e2e["enquiries_recorded"] == e2e["questions"] and e2e["zero_loss"]
        assert rasa["enquiries_recorded"] == rasa["questions"] and rasa["zero_loss"]
        assert e2e["questions"] == level["users"] * SMOKE_PLAN.levels[level["users"]]
        assert isinstance(level["overhead_p50"], float) and level["overhead_p50"] > -1.0
    assert sqlite["sustained_rate_per_s"] > 0
    assert sqlite["cold_start"]["bot_start_to_first_answer_s"] > 0
    footprint = sqlite["footprint"]
    for process in ("rasa_server", "action_server", "bot_process"):
        assert 20 < footprint[process] < 8000, (process, footprint)
    assert results["backends"]["postgresql"] == {"skipped": "using a running stack"}
    assert "skipped" in results["soak"]  # it starts its own `lotsen run`: see the soak test

    # The seven of the pipeline and the load, and issue 24's per language group (sv/en, the
    # trained other languages, the languages without training examples) and for the dev sets.
    names = [row["target"] for row in results["targets"]]
    assert len(names) == 20 and len(set(names)) == 20
    for group in ("sv/en:", "trained other:", "untrained:"):
        assert any(name.startswith(group) for name in names), (group, names)
    assert all(row["ok"] in (True, False, None) for row in results["targets"])
    table = render(results)
    assert "Targets" in table and "TF-IDF" in table and "Rasa alone" in table


def test_keyword_baseline_folds_swedish_letters() -> None:
    assert tokens("Föreningsbidrag för LÄXHJÄLP och så") == ["foreningsbidrag", "laxhjalp"]
    router = KeywordRouter(department_keywords(Settings(_env_file=None).municipality_file))
    assert router.predict("Hur söker vi aktivitetsstöd?") == "kultur_fritid"
    assert router.predict("Kan ni rekommendera en bra pizzeria?") == "escalate"


def test_percentiles_interpolate_in_milliseconds() -> None:
    figures = percentiles([0.010, 0.020, 0.030, 0.040, 0.050])
    assert figures["p50_ms"] == 30.0
    assert figures["p95_ms"] == 48.0
    assert figures["max_ms"] == 50.0
    assert percentiles([])["p95_ms"] is None


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_a_short_soak_reports_every_figure_and_loses_nothing() -> None:
    plan = SMOKE_SOAK
    results = json.loads(json.dumps(asyncio.run(run_soak(plan, report=lambda _line: None))))
    assert results["messages"] == plan.messages and results["settled"]
    assert sorted(f["fault"] for f in results["faults"]) == sorted(
        FAULT_NAMES[name] for name in plan.faults
    )
    for fault in results["faults"]:
        assert "skipped" in fault or fault["back_after_s"] is not None, fault
    assert results["answered"] == results["enquiries"] == plan.messages
    assert results["lost"] == results["duplicated"] == results["enquiries_doubled"] == 0
    assert results["dead_letters"] == 0
    assert 0 < results["latency"]["p50_ms"] <= results["latency"]["max_ms"]
    assert "Soak [" in render({"soak": results})
