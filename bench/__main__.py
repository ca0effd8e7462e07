"""`python -m bench`: run the benchmarks, print a table, write JSON (never fails on targets)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from bench.baseline import BASELINE
from bench.data import DEFAULT_EVAL
from bench.report import render
from bench.run import Options, run_all
from bench.soak import SoakPlan
from bot.settings import PROJECT_ROOT


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="A short run (1 and 5 users).")
    parser.add_argument("--eval", type=Path, default=DEFAULT_EVAL, help="Labelled JSONL.")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("LOTSEN_TEST_POSTGRES_URL"),
        help="PostgreSQL server URL; a fresh database is created (LOTSEN_TEST_POSTGRES_URL).",
    )
    parser.add_argument("--train", action="store_true", help="Also time `lotsen train --force`.")
    parser.add_argument(
        "--rasa-cv", action="store_true", help="Also 5-fold CV of the Rasa pipeline (slow)."
    )
    parser.add_argument(
        "--replicas",
        default="1,2",
        help="Rasa replica counts to compare on PostgreSQL with Redis (1,2,4 on a big machine).",
    )
    parser.add_argument(
        "--scale-only",
        action="store_true",
        help="Only the scale-out comparison and CPU per message.",
    )
    parser.add_argument(
        "--soak-messages",
        type=int,
        default=SoakPlan.messages,
        help="Questions in the soak (lotsen run killed on the way); 0 leaves it out.",
    )
    parser.add_argument(
        "--baseline",
        default=BASELINE,
        help="With --smoke: the commit measured first, printed side by side (default %(default)s).",
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="With --smoke: measure this tree only."
    )
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "var" / "bench.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run, print and save; return the exit code."""
    args = parse_args(argv)
    if not args.scale_only and not args.eval.is_file():
        print(f"No evaluation file at {args.eval}", file=sys.stderr)
        return 2
    options = Options(
        smoke=args.smoke,
        eval_path=args.eval,
        postgres_url=args.postgres,
        train=args.train,
        rasa_cv=args.rasa_cv,
        replicas=tuple(int(n) for n in args.replicas.split(",") if n.strip()),
        scale_only=args.scale_only,
        soak=SoakPlan(messages=args.soak_messages) if args.soak_messages > 0 else None,
        baseline=None if args.no_baseline else args.baseline,
    )
    results = run_all(options, report=lambda line: print(f"[bench] {line}", file=sys.stderr))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(render(results))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
