"""Before and after in one run: the baseline commit's benchmark next to this tree's.

`python -m bench --smoke` checks the baseline commit (`BASELINE`, the main of issue 21's
measurement) out into a temporary git worktree, trains its model once (kept in
`var/bench-baseline/`, reused while its training data is unchanged) and runs that commit's own
`python -m bench --smoke` there, on its own databases and ports, with this tree's smoke plan
and labelled questions (the same load); then this tree is measured as usual. `side_by_side`
prints the headline figures of both: the p50 at 5 users end to end and Rasa alone (the
layer's ratio), and the CPU milliseconds per answered message at 1 user, split bot / Rasa /
actions (CPU time is less sensitive to the machine's load than wall time).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.latency import LoadPlan
from bot.settings import PROJECT_ROOT

BASELINE = "f414f76"
"""The commit measured as "before" (issue 21: 129 vs 88 ms at 5 users, 40 ms CPU at 1 user)."""
MODEL_CACHE = PROJECT_ROOT / "var" / "bench-baseline"
HEADLINE_USERS = 5
CPU_USERS = 1


def _git(*args: str) -> None:
    subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@contextmanager
def baseline_tree(commit: str) -> Iterator[Path]:
    """Check the commit out into a temporary worktree sharing the Rasa environment and models.

    The worktree gets this tree's `.venv-rasa` and a model folder of its own under
    `var/bench-baseline/`; it is removed afterwards (its databases and logs with it).
    """
    folder = Path(tempfile.mkdtemp(prefix="lotsen-baseline-"))
    tree = folder / "tree"
    _git("worktree", "add", "--detach", str(tree), commit)
    try:
        (tree / ".venv-rasa").symlink_to((PROJECT_ROOT / ".venv-rasa").resolve())
        models = MODEL_CACHE / f"models-{commit}"
        models.mkdir(parents=True, exist_ok=True)
        (tree / "models").symlink_to(models)
        yield tree
    finally:
        _git("worktree", "remove", "--force", str(tree))
        shutil.rmtree(folder, ignore_errors=True)


SAME_LOAD = """
import json, sys
import bench.run, bench.scale
from bench.latency import LoadPlan
plan, scale = json.loads(sys.argv[1])
bench.run.SMOKE_PLAN = LoadPlan(
    levels={int(users): n for users, n in plan["levels"].items()},
    scaling_users=plan["scaling_users"],
    scaling_per_user=plan["scaling_per_user"],
    history_factors=tuple(plan["history_factors"]),
)
bench.scale.SMOKE_SCALE_LEVELS = {int(users): n for users, n in scale.items()}
from bench.__main__ import main
sys.exit(main(sys.argv[2:]))
"""
"""Runs the baseline's `python -m bench` with this tree's smoke plan (the same load)."""


def _run(tree: Path, command: list[str], report: Callable[[str], None]) -> None:
    """Run a command of the baseline's code (its packages first on the path), reporting it."""
    # The baseline's Rasa components too (rasa/lotsen_rasa): its `rasa_env` does not put them
    # first, and the shared `.venv-rasa` has another checkout's copy installed.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(tree / "rasa")])}
    process = subprocess.Popen(
        command,
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    tail: list[str] = []
    for line in process.stderr:
        tail = [*tail[-20:], line.rstrip()]
        if line.startswith("[bench]"):
            report(f"baseline {line.removeprefix('[bench]').strip()}")
    if process.wait() != 0:
        raise RuntimeError(f"the baseline's {command[-4:]} failed:\n" + "\n".join(tail))


def run_baseline(
    *,
    commit: str = BASELINE,
    postgres_url: str | None,
    eval_path: Path,
    plan: LoadPlan,
    scale_levels: dict[int, int],
    report: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the baseline commit's own smoke benchmark with this tree's load and questions."""
    with baseline_tree(commit) as tree:
        report(f"baseline {commit}: its model (trained once, then reused)")
        _run(tree, [sys.executable, "-m", "bot.cli", "train"], report)
        out = tree / "var" / "bench.json"
        load = json.dumps([asdict(plan), scale_levels])
        command = [sys.executable, "-c", SAME_LOAD, load, "--smoke", "--out", str(out)]
        command += ["--eval", str(eval_path.resolve())]
        if postgres_url:
            command += ["--postgres", postgres_url]
        report(f"baseline {commit}: python -m bench --smoke")
        _run(tree, command, report)
        results: dict[str, Any] = json.loads(out.read_text())
    results["commit"] = commit
    return results


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """Return the figures compared: p50 at 5 users (and Rasa alone), CPU per message at 1."""
    load = (results.get("backends") or {}).get("sqlite") or {}
    level = next((lv for lv in load.get("levels", []) if lv["users"] == HEADLINE_USERS), None)
    e2e = level["end_to_end"]["p50_ms"] if level else None
    rasa = level["rasa_alone"]["p50_ms"] if level else None
    topologies = (results.get("scale") or {}).get("topologies") or []
    default = next((t for t in topologies if t["backend"] == "sqlite" and t["replicas"] == 1), None)
    cpu_level = next(
        (lv for lv in (default or {}).get("levels", []) if lv["users"] == CPU_USERS), None
    )
    return {
        "load": {
            "levels": {
                str(k): v for k, v in ((results.get("plan") or {}).get("levels") or {}).items()
            },
            "cpu_questions": (cpu_level or {}).get("questions"),
        },
        "p50_ms": e2e,
        "rasa_alone_p50_ms": rasa,
        "ratio": round(e2e / rasa, 2) if e2e and rasa else None,
        "cpu_ms_per_message": (cpu_level or {}).get("cpu_ms_per_message") or {},
        "cpu_phase_s": (cpu_level or {}).get("wall_s"),
        "machine_busy": (cpu_level or {}).get("machine_busy"),
    }


def _cell(value: object, unit: str = "") -> str:
    return "–" if value is None else f"{value}{unit}"


def side_by_side(results: dict[str, Any]) -> list[str]:
    """Return the before/after table (nothing when the baseline was not run)."""
    baseline = results.get("baseline") or {}
    if not baseline:
        return []
    if "skipped" in baseline:
        return [f"Before/after: skipped ({baseline['skipped']})"]
    before, after = headline(baseline), headline(results)
    rows = [
        (f"p50 end to end, {HEADLINE_USERS} users", "p50_ms", " ms"),
        (f"p50 Rasa alone, {HEADLINE_USERS} users", "rasa_alone_p50_ms", " ms"),
        ("our layer ÷ Rasa alone (p50)", "ratio", "×"),
    ]
    lines = [
        f"Before/after: baseline {baseline.get('commit')} and this tree, same load, one run",
        f"{'':<44}{'before':>10}{'after':>10}",
    ]
    for label, key, unit in rows:
        lines.append(f"{label:<44}{_cell(before[key], unit):>10}{_cell(after[key], unit):>10}")
    for part in ("bot", "rasa", "actions", "total"):
        label = f"CPU ms per answered message, {CPU_USERS} user: {part}"
        then = before["cpu_ms_per_message"].get(part)
        now = after["cpu_ms_per_message"].get(part)
        lines.append(f"{label:<44}{_cell(then):>10}{_cell(now):>10}")
    for label, key in (
        (f"wall seconds of the {CPU_USERS}-user CPU phase", "cpu_phase_s"),
        ("the whole machine busy then (0–1)", "machine_busy"),
    ):
        lines.append(f"{label:<44}{_cell(before[key]):>10}{_cell(after[key]):>10}")
    same = before["load"] == after["load"]
    lines.append(
        f"load: {'the same' if same else 'NOT the same'} ({after['load']} / {before['load']})"
    )
    return lines
