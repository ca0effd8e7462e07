"""Consistency of the NLU training data, the domain and the default routing table."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.understanding.routing import (
    CONVERSATION_INTENTS,
    NON_TOPIC_INTENTS,
    SMALLTALK_SCRIPTS,
    STATUS_INTENT,
    is_out_of_scope_intent,
    scripts,
)

ROOT = Path(__file__).resolve().parent.parent
NLU_DIR = ROOT / "nlu"
EVAL_DEV = ROOT.parent / "shared" / "reference" / "eval-dev.jsonl"
EVAL_DEV_MULTILINGUAL = ROOT.parent / "shared" / "reference" / "eval-dev-multilingual.jsonl"
OUT_OF_SCOPE_DEV = ROOT / "eval" / "out-of-scope-dev.jsonl"
"""Lotsen's own out-of-scope development set: in the repository, never trained on."""
UNTRAINED_DEV = ROOT / "eval" / "untrained-languages-dev.jsonl"
"""In-scope questions in languages without training examples (never trained on)."""
NEAR_DUPLICATE = 0.5
"""Share of character 4-grams two texts may have in common (Jaccard) before they count as
near-duplicates: a paraphrase of a dev line reuses most of its 4-grams, a question written
fresh about the same topic only a few."""
REQUIRED_INTENTS = CONVERSATION_INTENTS | {"ask_human", "ask_status", "out_of_scope"}
REQUIRED_ACTIONS = {"action_handle_enquiry", "action_enquiry_status", "action_smalltalk"}
_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}")


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _plain(example: str) -> str:
    """Remove entity annotations: '[LOT-2026-00042](reference)' -> 'LOT-2026-00042'."""
    return _ANNOTATION.sub(lambda m: m.group(1) or m.group(2), example)


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split())


@cache
def training_examples() -> dict[str, tuple[str, ...]]:
    """Return {intent: examples} over every file in nlu/."""
    out: dict[str, list[str]] = {}
    for path in sorted(NLU_DIR.glob("*.yml")):
        for block in _load(path).get("nlu") or []:
            if "intent" not in block:
                continue
            lines = [
                _plain(line.strip()[2:].strip())
                for line in str(block["examples"]).splitlines()
                if line.strip().startswith("- ")
            ]
            out.setdefault(block["intent"], []).extend(lines)
    return {intent: tuple(lines) for intent, lines in out.items()}


@cache
def domain_intents() -> frozenset[str]:
    return frozenset(_load(ROOT / "domain.yml")["intents"])


@cache
def seed_routes() -> tuple[dict[str, str], ...]:
    return tuple(_load(ROOT / "db" / "seed_routes.yml")["routes"])


@cache
def department_keys() -> frozenset[str]:
    municipality = ROOT / "db" / "municipality.yml"
    if not municipality.exists():
        municipality = ROOT.parent / "shared" / "reference" / "municipality.yml"
    return frozenset(d["key"] for d in _load(municipality)["departments"])


def topic_intents() -> set[str]:
    return {
        i for i in domain_intents() if i not in NON_TOPIC_INTENTS and not is_out_of_scope_intent(i)
    }


AUTHORITY_KEYS = {
    "skatteverket",
    "forsakringskassan",
    "migrationsverket",
    "region_halsa",
    "polisen",
    "trafikverket",
    "arbetsformedlingen",
    "bolagsverket",
}


def test_every_other_authority_has_its_intent_and_none_is_routed() -> None:
    authorities = {i for i in domain_intents() if i.startswith("authority_")}
    assert authorities == {f"authority_{key}" for key in AUTHORITY_KEYS}
    assert not authorities & {r["intent"] for r in seed_routes()}


def test_domain_and_training_data_have_the_same_intents() -> None:
    assert set(training_examples()) == set(domain_intents())


def test_required_intents_exist() -> None:
    assert domain_intents() >= REQUIRED_INTENTS


def test_topic_intents_are_named_consistently() -> None:
    for intent in topic_intents():
        assert re.fullmatch(r"topic_[a-z0-9_]+", intent), intent


@pytest.mark.parametrize("intent", sorted(_load(ROOT / "domain.yml")["intents"]))
def test_every_intent_has_enough_examples(intent: str) -> None:
    examples = training_examples()[intent]
    minimum = 10 if intent in REQUIRED_INTENTS else 15
    assert len(examples) >= minimum, f"{intent}: only {len(examples)} examples"
    assert all(example for example in examples)


def test_no_example_is_duplicated_or_shared_between_intents() -> None:
    seen: dict[str, str] = {}
    for intent, examples in training_examples().items():
        for example in examples:
            key = _normalise(example)
            assert key not in seen, f"{example!r} in {intent} and {seen[key]}"
            seen[key] = intent


def test_domain_declares_actions_slots_and_entity() -> None:
    domain = _load(ROOT / "domain.yml")
    assert set(domain["actions"]) == REQUIRED_ACTIONS
    assert "reference" in domain["entities"]
    assert set(domain["slots"]) >= {"reference", "language"}
    assert domain["slots"]["reference"]["influence_conversation"] is False
    assert domain["slots"]["language"]["mappings"] == [{"type": "custom"}]
    assert "responses" not in domain


def test_every_topic_intent_has_exactly_one_route_to_a_known_department() -> None:
    routes = seed_routes()
    intents = [r["intent"] for r in routes]
    assert len(intents) == len(set(intents)), "duplicate route"
    assert set(intents) == topic_intents()
    for route in routes:
        assert route["department"] in department_keys(), route
        assert str(route.get("description") or "").strip(), route


def test_every_department_has_a_route() -> None:
    assert {r["department"] for r in seed_routes()} == department_keys()


def test_every_intent_has_a_rule() -> None:
    rules = _load(ROOT / "stories" / "rules.yml")["rules"]
    ruled = {step["intent"] for rule in rules for step in rule["steps"] if "intent" in step}
    assert ruled == set(domain_intents()) | {"nlu_fallback"}


def test_reference_regex_and_annotations_agree() -> None:
    regex_blocks = [
        block
        for path in NLU_DIR.glob("*.yml")
        for block in _load(path).get("nlu") or []
        if block.get("regex") == "reference"
    ]
    assert len(regex_blocks) == 1
    pattern = re.compile(str(regex_blocks[0]["examples"]).strip()[2:].strip())
    annotated = re.findall(
        r"\[([^\]]+)\]\(reference\)", (NLU_DIR / "status.yml").read_text(encoding="utf-8")
    )
    assert annotated, "ask_status examples should annotate references"
    for value in annotated:
        assert pattern.fullmatch(value), value
    assert not pattern.search("LOT-26-42")


def test_no_training_example_equals_a_dev_line() -> None:
    if not EVAL_DEV.exists():
        pytest.skip(f"{EVAL_DEV} not available")
    dev = {
        _normalise(json.loads(line)["text"])
        for line in EVAL_DEV.read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    leaked = [
        example
        for examples in training_examples().values()
        for example in examples
        if _normalise(example) in dev
    ]
    assert not leaked, leaked


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _out_of_scope_dev() -> list[dict[str, Any]]:
    return _rows(OUT_OF_SCOPE_DEV)


def test_untrained_languages_dev_set_has_no_training_language() -> None:
    from bot.understanding.evaluation import language_group

    rows = _rows(UNTRAINED_DEV)
    assert len(rows) >= 40
    assert all(language_group(row["lang"]) == "untrained" for row in rows)
    assert {row["expected"] for row in rows} <= department_keys()


def test_out_of_scope_dev_set_is_large_labelled_and_outside_the_training_data() -> None:
    rows = _out_of_scope_dev()
    assert len(rows) >= 150
    assert not OUT_OF_SCOPE_DEV.resolve().is_relative_to(NLU_DIR.resolve())
    for row in rows:
        assert row["expected"] == "escalate", row
        assert isinstance(row["lang"], str) and isinstance(row["text"], str), row
        assert row.get("authority", "skatteverket") in AUTHORITY_KEYS, row
    assert {row["authority"] for row in rows if "authority" in row} == AUTHORITY_KEYS
    # Banks, insurers and private services, too (escalated, not referred).
    assert sum("authority" not in row for row in rows) >= 30
    texts = [_normalise(row["text"]) for row in rows]
    assert len(set(texts)) == len(texts)
    training = {_normalise(e) for examples in training_examples().values() for e in examples}
    assert not training & set(texts)


def _dev_texts() -> list[str]:
    texts = [row["text"] for row in _out_of_scope_dev() + _rows(UNTRAINED_DEV)]
    for path in (EVAL_DEV, EVAL_DEV_MULTILINGUAL):
        if not path.exists():
            pytest.skip(f"{path} not available")
        texts += [
            json.loads(line)["text"]
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    return texts


def _shingles(text: str) -> frozenset[str]:
    words = "".join(c if c.isalnum() else " " for c in text.casefold()).split()
    joined = " ".join(words)
    return frozenset(joined[i : i + 4] for i in range(max(len(joined) - 3, 1)))


def test_no_training_example_is_a_near_duplicate_of_a_dev_line_in_any_language() -> None:
    dev = [_shingles(text) for text in _dev_texts()]
    close = []
    for examples in training_examples().values():
        for example in examples:
            mine = _shingles(example)
            if len(mine) < 12:  # too short to tell a paraphrase from a common phrase
                continue
            if any(len(mine & d) / len(mine | d) >= NEAR_DUPLICATE for d in dev):
                close.append(example)  # only the training line: the dev set stays unseen
    assert not close, close


def test_near_duplicate_measure_flags_a_paraphrase_but_not_a_fresh_question() -> None:
    original = _shingles("Hur ansöker vår förening om aktivitetsstöd för barn och unga?")
    paraphrase = _shingles("Hur ansöker vår förening om aktivitetsstöd för unga och barn")
    fresh = _shingles("Vilka regler gäller för lokalbidrag till vår klubbstuga?")
    assert len(original & paraphrase) / len(original | paraphrase) >= NEAR_DUPLICATE
    assert len(original & fresh) / len(original | fresh) < NEAR_DUPLICATE


def test_small_talk_examples_cover_exactly_the_scripts_routing_accepts() -> None:
    conversational = CONVERSATION_INTENTS | {STATUS_INTENT}
    seen = frozenset().union(
        *(scripts(e) for intent in conversational for e in training_examples()[intent])
    )
    assert seen == SMALLTALK_SCRIPTS


def test_small_talk_has_examples_in_other_languages() -> None:
    for intent in CONVERSATION_INTENTS:
        examples = training_examples()[intent]
        assert any("ARABIC" in scripts(e) for e in examples), intent
        assert any("CYRILLIC" in scripts(e) for e in examples), intent
