"""`python -m bench.speed`: the Rasa processes with and without their speed-ups, in one run.

The speed-ups (`rasa/lotsen_rasa/speedups.py`) change no parse; this measures what they
save, the two ways alternating round after round on the same model and the same lines, so
that both see the same machine (on a shared machine the load moves by the minute):

- the whole `lotsen route --jsonl` command on one line (its start-up) and on 500 distinct
  lines (the dev lines, then training examples: `bench.pipelines`' route lines);
- the in-process parse of every dev line, one at a time after a warm-up, as the Rasa server
  parses (`lotsen_rasa.parse_timing`).

Each figure comes with the CPU seconds of the process tree (user + system) beside the wall
clock, and the load average when it started. `LOTSEN_RASA_SPEEDUPS=0` gives "before".
Uses the model in `models/` (what `lotsen train` left there); writes var/bench-speed.json.
Option: `--rounds N` (default 2).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.data import load_eval
from bench.latency import percentiles
from bench.pipelines import DEV_SETS, _route_lines
from bot.settings import PROJECT_ROOT, load_settings
from bot.understanding import rasa_env

WAYS = {"before": "0", "after": "1"}
"""The two ways, by the value of LOTSEN_RASA_SPEEDUPS."""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _env(way: str) -> dict[str, str]:
    env = dict(os.environ)
    env["LOTSEN_RASA_SPEEDUPS"] = WAYS[way]
    # No Rasa server (the discard port refuses at once): `lotsen route` uses its batch parser.
    env["RASA_URL"] = "http://127.0.0.1:9"
    env.pop("RASA_URLS", None)
    return env


def _stdin(texts: Sequence[str]) -> str:
    return "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)


def route(way: str, lines: Sequence[str]) -> dict[str, Any]:
    """Time `lotsen route --jsonl -` on the lines: wall, CPU of the whole tree, lines/s."""
    lotsen = Path(sys.executable).with_name("lotsen")
    load = os.getloadavg()[0]
    cpu, started = _children_cpu(), time.perf_counter()
    done = subprocess.run(
        [str(lotsen), "route", "--jsonl", "-"],
        input=_stdin(lines),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=_env(way),
        check=False,
    )
    wall, cpu = time.perf_counter() - started, _children_cpu() - cpu
    decided = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or len(decided) != len(lines):
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"lotsen route failed ({len(decided)} of {len(lines)}): {tail[0]}")
    return {
        "load": round(load, 1),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "lines_per_s": round(len(lines) / wall, 1),
        "decisions": decided,
    }


def in_process(way: str, model: Path, texts: Sequence[str]) -> dict[str, Any]:
    """Time the in-process parse of every text (lotsen_rasa.parse_timing)."""
    settings = load_settings()
    env = rasa_env.rasa_env()
    env["LOTSEN_RASA_SPEEDUPS"] = WAYS[way]
    load = os.getloadavg()[0]
    done = subprocess.run(
        [str(rasa_env.rasa_python(settings)), "-m", "lotsen_rasa.parse_timing", str(model)],
        input=_stdin(texts),
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"the parse timing failed: {tail[0]}")
    timed = json.loads(lines[-1])
    return {
        "load": round(load, 1),
        "wall": percentiles(timed["parse_s"]),
        "cpu": percentiles(timed["parse_cpu_s"]),
        "model_load_s": round(timed["load_s"], 1),
        "parses": timed["parses"],
    }


def _median(rows: Sequence[dict[str, Any]], *keys: str) -> float:
    values = []
    for row in rows:
        value: Any = row
        for key in keys:
            value = value[key]
        values.append(float(value))
    return round(statistics.median(values), 1)


def measure(model: Path, rounds: int, say: Any = print) -> dict[str, Any]:
    """Alternate the two ways `rounds` times; return every run and the medians."""
    sets = [load_eval(path) for path in DEV_SETS.values() if path.is_file()]
    dev = [row.text for rows in sets for row in rows]
    lines = _route_lines(dev)
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        way: {"start": [], "route": [], "parse": []} for way in WAYS
    }
    for number in range(1, rounds + 1):
        for way in WAYS:
            say(f"speed: round {number}, {way}: lotsen route on 1 line, on {len(lines)} lines")
            runs[way]["start"].append(route(way, lines[:1]))
            runs[way]["route"].append(route(way, lines))
            say(f"speed: round {number}, {way}: in-process parse of {len(dev)} dev lines")
            runs[way]["parse"].append(in_process(way, model, dev))
    same_routes = all(
        run["decisions"] == runs["before"]["route"][0]["decisions"]
        for way in WAYS
        for run in runs[way]["route"]
    )
    same_parses = all(
        run["parses"] == runs["before"]["parse"][0]["parses"]
        for way in WAYS
        for run in runs[way]["parse"]
    )
    out: dict[str, Any] = {
        "rounds": rounds,
        "lines": len(lines),
        "dev_lines": len(dev),
        "cores": os.cpu_count(),
        "same_decisions": same_routes,
        "same_parses": same_parses,
    }
    for way in WAYS:
        start, routed, parsed = runs[way]["start"], runs[way]["route"], runs[way]["parse"]
        for run in routed:
            run.pop("decisions")
        for run in parsed:
            run.pop("parses")
        out[way] = {
            "runs": {"start": start, "route": routed, "parse": parsed},
            "median": {
                "start_wall_s": _median(start, "wall_s"),
                "start_cpu_s": _median(start, "cpu_s"),
                "route_lines_per_s": _median(routed, "lines_per_s"),
                "route_wall_s": _median(routed, "wall_s"),
                "route_cpu_s": _median(routed, "cpu_s"),
                "parse_p50_ms": _median(parsed, "wall", "p50_ms"),
                "parse_p95_ms": _median(parsed, "wall", "p95_ms"),
                "parse_cpu_p50_ms": _median(parsed, "cpu", "p50_ms"),
                "parse_cpu_p95_ms": _median(parsed, "cpu", "p95_ms"),
                "load": _median([*start, *routed, *parsed], "load"),
            },
        }
    return out


def render(out: dict[str, Any]) -> str:
    """Return the medians of both ways as a small table."""
    rows = [
        ("lotsen route, 1 line: wall / CPU s", "start_wall_s", "start_cpu_s"),
        (f"lotsen route, {out['lines']} lines: lines/s", "route_lines_per_s", None),
        (f"lotsen route, {out['lines']} lines: wall / CPU s", "route_wall_s", "route_cpu_s"),
        ("in-process parse p50: wall / CPU ms", "parse_p50_ms", "parse_cpu_p50_ms"),
        ("in-process parse p95: wall / CPU ms", "parse_p95_ms", "parse_cpu_p95_ms"),
        ("load average (1 min, median)", "load", None),
    ]
    lines = [f"{'':44} {'before':>15} {'after':>15}"]
    for label, key, cpu_key in rows:
        cells = []
        for way in WAYS:
            median = out[way]["median"]
            cell = f"{median[key]}" + (f" / {median[cpu_key]}" if cpu_key else "")
            cells.append(f"{cell:>15}")
        lines.append(f"{label:44} {' '.join(cells)}")
    lines.append(
        f"same decisions: {out['same_decisions']}, same parses: {out['same_parses']} "
        f"({out['rounds']} rounds, {out['cores']} cores)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Measure both ways, print the table and write var/bench-speed.json."""
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    model = rasa_env.model_path(load_settings())
    out = measure(model, args.rounds)
    path = PROJECT_ROOT / "var" / "bench-speed.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(render(out))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
