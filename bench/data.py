"""The labelled data the benchmarks use: training examples, evaluation lines, folds."""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.settings import PROJECT_ROOT
from bot.understanding.evaluation import ESCALATE
from bot.understanding.routing import CONVERSATION_INTENTS, STATUS_INTENT, is_out_of_scope_intent

DEFAULT_EVAL = PROJECT_ROOT.parent / "shared" / "reference" / "eval-dev.jsonl"
ESCALATING_INTENTS = frozenset({"out_of_scope", "ask_human"})
"""Besides these, every authority_<key> intent is labelled "escalate" (caught when referred)."""
_ENTITY = re.compile(r"\[([^\]]+)\]\((?:[^)]+)\)|\[([^\]]+)\]\{[^}]*\}")


@dataclass(frozen=True)
class Example:
    """One labelled text: its intent (training data only) and routing label."""

    text: str
    label: str
    intent: str = ""


def load_routes(routes_file: Path) -> dict[str, str]:
    """Return {intent: department key} from a seed routes file."""
    data = yaml.safe_load(routes_file.read_text(encoding="utf-8"))
    return {str(r["intent"]): str(r["department"]) for r in data["routes"]}


def nlu_examples(nlu_dir: Path) -> list[tuple[str, str]]:
    """Return every (intent, text) example of the Rasa NLU files, entity markup removed."""
    pairs: list[tuple[str, str]] = []
    for path in sorted(nlu_dir.rglob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            if not isinstance(block, dict) or "intent" not in block:
                continue
            for line in str(block.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    text = _ENTITY.sub(lambda m: m.group(1) or m.group(2), line[2:]).strip()
                    if text:
                        pairs.append((str(block["intent"]), text))
    return pairs


def training_examples(nlu_dir: Path, routes: dict[str, str]) -> list[Example]:
    """Return the routable training examples: topic intents as departments, escalations."""
    examples: list[Example] = []
    for intent, text in nlu_examples(nlu_dir):
        if intent in ESCALATING_INTENTS or is_out_of_scope_intent(intent):
            examples.append(Example(text, ESCALATE, intent))
        elif intent in routes:
            examples.append(Example(text, routes[intent], intent))
        elif intent in CONVERSATION_INTENTS or intent == STATUS_INTENT:
            continue
    return examples


def load_eval(path: Path) -> list[Example]:
    """Return the labelled lines of a JSONL file ({"text", "expected"})."""
    rows: list[Example] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row.get("text"), str) or not isinstance(row.get("expected"), str):
            raise ValueError(f"{path}:{number}: expected an object with text and expected")
        rows.append(Example(row["text"], row["expected"]))
    return rows


def stratified_folds(examples: list[Example], k: int = 5, seed: int = 0) -> list[int]:
    """Return a fold number per example, stratified by intent, reproducible."""
    by_key: dict[str, list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        by_key[example.intent or example.label].append(index)
    folds = [0] * len(examples)
    rng = random.Random(seed)
    offset = 0
    for key in sorted(by_key):
        indices = by_key[key]
        rng.shuffle(indices)
        for position, index in enumerate(indices):
            folds[index] = (position + offset) % k
        offset += len(indices)
    return folds
