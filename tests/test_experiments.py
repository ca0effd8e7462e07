"""The model-search harness (bench/experiments.py) on a tiny slice of the real training data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.data import nlu_examples
from bench.experiments import Scores, configs, run_replica, score, table
from bench.thresholds import Parsed
from bot.settings import PROJECT_ROOT, load_settings
from bot.understanding.routing import load_thresholds

pytestmark = pytest.mark.slow  # runs the replica in Rasa's environment

INTENTS = ("topic_bidrag", "topic_bygglov", "topic_praktik", "out_of_scope")


def _slice() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Return (train, test): per intent ten Swedish-first examples and the next two held out."""
    by_intent: dict[str, list[str]] = {}
    for intent, text in nlu_examples(PROJECT_ROOT / "nlu"):
        if intent in INTENTS:
            by_intent.setdefault(intent, []).append(text)
    train = [(i, t) for i in INTENTS for t in by_intent[i][:10]]
    test = [(i, t) for i in INTENTS for t in by_intent[i][10:12]]
    return train, test


def test_the_replica_trains_parses_and_the_figures_have_their_structure(tmp_path: Path) -> None:
    train, test = _slice()
    assert len(train) == 40 and len(test) == 8
    variants = {"shipped": configs()["shipped"], "blend": configs()["shipped+blend0.35C10"]}
    jobs = [{"name": "cv0", "train": train, "test": [t for _, t in test]}]
    result = run_replica(jobs, variants, cache=tmp_path)

    shipped = result["cv0"][variants["shipped"].key]
    blended = result["cv0"][variants["blend"].key]
    assert len(shipped) == len(blended) == len(test)
    for parse, (_, text) in zip(shipped, test, strict=True):
        assert parse["text"] == text
        ranking = parse["intent_ranking"]
        names = [r["name"] for r in ranking if r["name"] != "nlu_fallback"]
        assert sorted(names) == sorted(INTENTS)
        assert sum(r["confidence"] for r in ranking if r["name"] != "nlu_fallback") == (
            pytest.approx(1.0, abs=1e-6)
        )
        assert parse["intent"]["name"] == ranking[0]["name"]
    # Trained on ten examples per intent, held-out questions mostly find their own intent.
    right = sum(p["intent"]["name"] == i for p, (i, _) in zip(shipped, test, strict=True))
    assert right >= 6
    # The blend is another model: same intents, other probabilities.
    assert any(
        abs(a["intent_ranking"][0]["confidence"] - b["intent_ranking"][0]["confidence"]) > 1e-6
        for a, b in zip(shipped, blended, strict=True)
    )

    # Tokens and embeddings are cached once per distinct text.
    meta = json.loads((tmp_path / "features.json").read_text(encoding="utf-8"))
    assert len(meta) == len({t for _, t in train + test})

    # Scored by decide() per language group, in one table row per configuration.
    routes_file = load_settings().routes_file
    assert routes_file.is_file()
    rows = [
        Parsed("cv0", text, "escalate" if intent == "out_of_scope" else "x", "sv", None, parse)
        for (intent, text), parse in zip(test, shipped, strict=True)
    ]
    scores = score(rows, [], load_thresholds(PROJECT_ROOT / "config.yml"))
    assert isinstance(scores, Scores)
    assert scores.cv["all"].total == len(test)
    assert scores.cv["all"].out_of_scope == 2
    assert scores.cv["sv/en"].total == len(test)
    lines = table({"shipped": scores}).splitlines()
    assert lines[0].startswith("| config | CV sv/en")
    assert lines[2].startswith("| shipped | ")
    assert len(lines) == 3
