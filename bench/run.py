"""Run every benchmark in order and collect the results in one dictionary."""

from __future__ import annotations

import asyncio
import os
import platform
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.baseline import BASELINE, run_baseline
from bench.data import DEFAULT_EVAL
from bench.footprint import training_seconds
from bench.latency import LoadPlan, run_load
from bench.quality import baseline_quality, live_quality
from bench.report import targets
from bench.scale import SMOKE_SCALE_LEVELS, run_scale
from bench.soak import FULL_SOAK, SoakPlan, run_soak
from bench.stack import Stack, fresh_postgres, own_stack
from bot.settings import Settings

FULL_PLAN = LoadPlan(
    levels={1: 30, 10: 10, 50: 4, 200: 2},
    scaling_users=10,
    scaling_per_user=5,
    history_factors=(1, 10, 100),
)
SMOKE_PLAN = LoadPlan(
    levels={1: 3, 5: 4}, scaling_users=2, scaling_per_user=2, history_factors=(1, 10)
)
"""Twenty questions at 5 users: the p50 that bench/baseline.py compares."""


@dataclass(frozen=True)
class Options:
    """What to run."""

    smoke: bool = False
    eval_path: Path = DEFAULT_EVAL
    postgres_url: str | None = None
    train: bool = False
    rasa_cv: bool = False
    replicas: tuple[int, ...] = (1, 2)
    scale_only: bool = False
    soak: SoakPlan | None = FULL_SOAK
    """The soak (its own `lotsen run`, killed on the way); None leaves it out."""
    baseline: str | None = BASELINE
    """Smoke mode: the commit measured first as "before" (bench/baseline.py); None: not."""


def _machine() -> str:
    return f"{os.cpu_count()} CPUs, Python {platform.python_version()}"


def _backend(
    stack: Stack,
    questions: Callable[[], list[str]],
    plan: LoadPlan,
    *,
    history: bool,
    report: Callable[[str], None],
) -> dict[str, Any]:
    load = asyncio.run(run_load(stack.settings, questions, plan, history=history, report=report))
    cold = load.setdefault("cold_start", {})
    cold["stack_ready_s"] = stack.ready_seconds
    first = cold.get("bot_start_to_first_answer_s")
    cold["total_s"] = (
        round(stack.ready_seconds + first, 1)
        if stack.ready_seconds is not None and first is not None
        else None
    )
    return load


def run_all(
    options: Options,
    *,
    running: Settings | None = None,
    report: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the benchmarks; with `running`, use that stack (no cold start, no history seeding)."""
    plan = SMOKE_PLAN if options.smoke else FULL_PLAN
    results: dict[str, Any] = {
        "mode": "smoke" if options.smoke else "full",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "plan": {"levels": plan.levels, "history_factors": list(plan.history_factors)},
        "backends": {},
    }
    started = time.perf_counter()
    if options.smoke and options.baseline and running is None and not options.scale_only:
        report(f"baseline: commit {options.baseline} in a worktree of its own, same load")
        results["baseline"] = run_baseline(
            commit=options.baseline,
            postgres_url=options.postgres_url,
            eval_path=options.eval_path,
            plan=SMOKE_PLAN,
            scale_levels=SMOKE_SCALE_LEVELS,
            report=report,
        )
    elif options.smoke:
        results["baseline"] = {"skipped": "--no-baseline, --scale-only or a running stack"}
    if options.scale_only:
        results["scale"] = _scale(options, running=running, report=report)
        results["seconds"] = round(time.perf_counter() - started, 1)
        results["targets"] = targets(results)
        return results
    base_settings = running or Settings(_env_file=None)
    quality = baseline_quality(
        base_settings,
        eval_path=options.eval_path,
        smoke=options.smoke,
        rasa_cv=options.rasa_cv,
        report=report,
    )
    if options.train and not options.smoke:
        report("training: lotsen train --force (into a temporary folder)")
        results["training"] = {"seconds": training_seconds(base_settings)}
    else:
        results["training"] = {"skipped": "full mode with --train only"}

    with ExitStack() as stacks:
        folder = Path(stacks.enter_context(tempfile.TemporaryDirectory(prefix="lotsen-bench-")))
        if running is not None:
            stack = Stack(running, "sqlite", None)
        else:
            report("starting the action server and Rasa on SQLite …")
            stack = stacks.enter_context(own_stack(folder / "sqlite"))
        texts: list[str] = []

        def questions() -> list[str]:
            """Score the shipped pipeline (after the cold start); its enquiries are the load."""
            report("quality: shipped Rasa pipeline (live decision)")
            live = live_quality(stack.settings, eval_path=options.eval_path)
            quality["rasa"] = live.results
            texts.extend(live.enquiry_texts)
            return texts

        report("load: cold start (first answer)")
        results["backends"][stack.backend] = _backend(
            stack, questions, plan, history=running is None, report=report
        )
        results["quality"] = quality

    if options.postgres_url and running is None:
        with ExitStack() as stacks:
            folder = Path(stacks.enter_context(tempfile.TemporaryDirectory(prefix="lotsen-bench-")))
            url = stacks.enter_context(fresh_postgres(options.postgres_url))
            report("starting the action server and Rasa on PostgreSQL …")
            stack = stacks.enter_context(own_stack(folder / "pg", database_url=url))
            results["backends"]["postgresql"] = _backend(
                stack, lambda: texts, plan, history=True, report=report
            )
    else:
        results["backends"]["postgresql"] = {
            "skipped": "no --postgres URL" if running is None else "using a running stack"
        }
    results["scale"] = _scale(options, running=running, report=report)
    if options.soak is not None and not options.smoke and running is None:
        report("soak: lotsen run under load while its parts are killed")
        results["soak"] = asyncio.run(run_soak(options.soak, report=report))
    else:
        results["soak"] = {"skipped": "smoke mode, a running stack, or --no-soak"}
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["targets"] = targets(results)
    return results


def _scale(
    options: Options, *, running: Settings | None, report: Callable[[str], None]
) -> dict[str, Any]:
    """Run the scale-out comparison on stacks of its own (not on a running stack)."""
    if running is not None:
        return {"skipped": "using a running stack"}
    with tempfile.TemporaryDirectory(prefix="lotsen-bench-") as folder:
        topologies = run_scale(
            Path(folder),
            postgres_url=options.postgres_url,
            replicas=options.replicas,
            smoke=options.smoke,
            report=report,
        )
    return {"topologies": topologies}
