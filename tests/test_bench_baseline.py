"""The bench's before/after: the baseline's worktree comes and goes, the table reads both runs."""

from __future__ import annotations

import subprocess
from typing import Any

from bench.baseline import BASELINE, baseline_tree, headline, side_by_side
from bot.settings import PROJECT_ROOT


def _results(e2e: float, rasa: float, cpu: dict[str, float]) -> dict[str, Any]:
    """Return results shaped as `run_all` writes them (one level of each kind, two topologies)."""
    level = {"users": 5, "end_to_end": {"p50_ms": e2e}, "rasa_alone": {"p50_ms": rasa}}
    one = {"users": 1, "end_to_end": {"p50_ms": e2e * 2}, "rasa_alone": {"p50_ms": rasa * 2}}
    return {
        "plan": {"levels": {"1": 3, "5": 4}},
        "backends": {"sqlite": {"levels": [one, level]}},
        "scale": {
            "topologies": [
                {"backend": "postgresql", "replicas": 1, "levels": [{"users": 1}]},
                {
                    "backend": "sqlite",
                    "replicas": 1,
                    "levels": [
                        {
                            "users": 1,
                            "questions": 15,
                            "cpu_ms_per_message": cpu,
                            "wall_s": 3.3,
                            "machine_busy": 0.9,
                        },
                        {"users": 5, "cpu_ms_per_message": {"total": 1.0}},
                    ],
                },
            ]
        },
    }


def test_headline_takes_five_users_and_the_cpu_of_one_user_on_sqlite() -> None:
    cpu = {"bot": 13.0, "rasa": 20.0, "actions": 7.0, "total": 40.0}
    figures = headline(_results(129.0, 88.0, cpu))
    assert figures == {
        "load": {"levels": {"1": 3, "5": 4}, "cpu_questions": 15},
        "p50_ms": 129.0,
        "rasa_alone_p50_ms": 88.0,
        "ratio": round(129.0 / 88.0, 2),
        "cpu_ms_per_message": cpu,
        "cpu_phase_s": 3.3,
        "machine_busy": 0.9,
    }
    assert headline({})["ratio"] is None


def test_side_by_side_prints_before_and_after_on_one_line_each() -> None:
    before = {**_results(129.0, 88.0, {"bot": 13.0, "total": 40.0}), "commit": "abc1234"}
    after = _results(100.0, 90.0, {"bot": 9.5, "total": 31.0})
    after["plan"] = {"levels": {1: 3, 5: 4}}  # as run_all has it; the baseline's JSON has "1"
    results = {**after, "baseline": before}
    lines = side_by_side(results)
    assert "abc1234" in lines[0]
    assert lines[-1].startswith("load: the same")
    by_label = {line[:44].strip(): line[44:].split() for line in lines[2:-1]}
    assert by_label["p50 end to end, 5 users"] == ["129.0", "ms", "100.0", "ms"]
    assert by_label["our layer ÷ Rasa alone (p50)"] == ["1.47×", "1.11×"]
    assert by_label["CPU ms per answered message, 1 user: bot"] == ["13.0", "9.5"]
    assert by_label["CPU ms per answered message, 1 user: rasa"] == ["–", "–"]
    smaller = {**before, "plan": {"levels": {"1": 3, "5": 2}}}
    assert side_by_side({**results, "baseline": smaller})[-1].startswith("load: NOT the same")
    assert side_by_side({"baseline": {"skipped": "a running stack"}}) == [
        "Before/after: skipped (a running stack)"
    ]
    assert side_by_side({}) == []


def test_the_baseline_worktree_holds_the_commit_and_is_removed() -> None:
    with baseline_tree(BASELINE) as tree:
        head = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        assert head.startswith(BASELINE)
        assert (tree / "bench" / "__main__.py").is_file()
        assert (tree / ".venv-rasa").resolve() == (PROJECT_ROOT / ".venv-rasa").resolve()
        assert (tree / "models").is_symlink()
    assert not tree.exists()
    listed = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "worktree", "list"], capture_output=True, text=True
    ).stdout
    assert str(tree) not in listed
