"""The single routing decision: route an enquiry to a department, or escalate it.

Pure (no database, no I/O except `load_threshold`), shared by the live action server
(`action_handle_enquiry`), `lotsen route` and `lotsen eval`, so that what is measured is
exactly what runs.

How a Rasa parse result becomes a decision:

1. The top intent `ask_human` escalates (reason "human"); `out_of_scope` escalates
   (reason "out_of_scope") unless a department clearly outweighs it (see step 3).
2. The confidences in `intent_ranking` of the intents that have a route (topic intents;
   never `nlu_fallback`, small talk, `ask_human`, `ask_status` or `out_of_scope`) are
   summed per department. Sibling intents of one department ("bidrag" vs "lokalbokning")
   therefore do not compete: only the department matters for routing.
3. If the best department's score reaches the threshold the enquiry is routed there,
   otherwise it is escalated with reason "unsure". This also holds when the
   FallbackClassifier has put `nlu_fallback` on top: its threshold is only a safety net and
   the department sum decides (measured: see nlu/EVALUATION.md).
4. A confident small-talk intent (greet, thanks, …) is not an enquiry: the decision has no
   department and does not escalate; callers answer it as small talk. A long message
   (more than `SMALLTALK_MAX_WORDS` words) whose top intent is small talk but whose best
   department reaches the threshold is routed ("Hej! Vi undrar om bidrag …").
5. `ask_status` is not an enquiry either (it has its own action); it is treated like small
   talk here (no department, no escalation).

The threshold lives in config.yml under the top-level key `lotsen: department_threshold`
(Rasa ignores unknown top-level keys); `load_threshold` reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CONVERSATION_INTENTS = frozenset({"greet", "goodbye", "thanks", "affirm", "deny"})
ESCALATE_INTENTS = frozenset({"out_of_scope", "ask_human", "nlu_fallback"})
STATUS_INTENT = "ask_status"
FALLBACK_INTENT = "nlu_fallback"
NON_TOPIC_INTENTS = CONVERSATION_INTENTS | ESCALATE_INTENTS | {STATUS_INTENT}

REASON_UNSURE = "unsure"
REASON_OUT_OF_SCOPE = "out_of_scope"
REASON_HUMAN = "human"

DEFAULT_THRESHOLD = 0.5
"""Used when config.yml has no `lotsen: department_threshold`."""

SMALLTALK_MAX_WORDS = 6
"""A message with more words than this is never treated as mere small talk."""

TOP_DEPARTMENTS = 3
"""How many department guesses a decision carries (for the coordinator)."""


@dataclass(frozen=True)
class Decision:
    """The outcome for one message.

    `department` is set when the message is routed (`escalate` is then False). When
    `escalate` is True, `reason` says why ("unsure", "out_of_scope" or "human").
    `department is None and not escalate` means "not an enquiry" (small talk or a status
    question). `department_scores` holds the model's best department guesses, best first.
    """

    intent: str
    confidence: float
    department: str | None
    escalate: bool
    reason: str | None
    department_scores: tuple[tuple[str, float], ...] = ()


def load_threshold(config_path: Path) -> float:
    """Return the department threshold stored in config.yml (`lotsen: department_threshold`).

    Falls back to `DEFAULT_THRESHOLD` when the key is absent; raises ValueError when the
    file cannot be read as YAML or the value is not a number in (0, 1].
    """
    try:
        data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read {config_path}: {exc}") from exc
    section = data.get("lotsen") if isinstance(data, dict) else None
    if not isinstance(section, dict) or "department_threshold" not in section:
        return DEFAULT_THRESHOLD
    value = section["department_threshold"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{config_path}: lotsen.department_threshold must be a number")
    threshold = float(value)
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"{config_path}: lotsen.department_threshold must be in (0, 1]")
    return threshold


def _confidence(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return min(max(float(value), 0.0), 1.0)


def _ranking(parse: Mapping[str, Any]) -> list[tuple[str, float]]:
    """Return (intent, confidence) pairs from the parse's intent_ranking (or its top intent)."""
    raw = parse.get("intent_ranking")
    items: list[Any] = list(raw) if isinstance(raw, list | tuple) else []
    if not items and isinstance(parse.get("intent"), Mapping):
        items = [parse["intent"]]
    pairs: list[tuple[str, float]] = []
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            pairs.append((item["name"], _confidence(item.get("confidence"))))
    return pairs


def department_scores(
    parse: Mapping[str, Any], routes: Mapping[str, str]
) -> list[tuple[str, float]]:
    """Return every department's summed confidence over its routed intents, best first."""
    totals: dict[str, float] = {}
    for name, confidence in _ranking(parse):
        if name in NON_TOPIC_INTENTS:
            continue
        department = routes.get(name)
        if department:
            totals[department] = totals.get(department, 0.0) + confidence
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


def _word_count(text: Any) -> int:
    return len(text.split()) if isinstance(text, str) else 0


def decide(parse: Mapping[str, Any], routes: Mapping[str, str], threshold: float) -> Decision:
    """Route or escalate one parsed message (see the module docstring for the rules)."""
    top = parse.get("intent")
    intent = top.get("name") if isinstance(top, Mapping) else None
    intent = intent if isinstance(intent, str) and intent else FALLBACK_INTENT
    confidence = _confidence(top.get("confidence")) if isinstance(top, Mapping) else 0.0

    scores = department_scores(parse, routes)
    guesses = tuple((key, min(score, 1.0)) for key, score in scores[:TOP_DEPARTMENTS])
    best_key, best_score = scores[0] if scores else (None, 0.0)
    confident = best_key is not None and best_score >= threshold

    def route() -> Decision:
        return Decision(intent, confidence, best_key, False, None, guesses)

    def escalate(reason: str) -> Decision:
        return Decision(intent, confidence, None, True, reason, guesses)

    if intent == "ask_human":
        return escalate(REASON_HUMAN)
    if intent == "out_of_scope":
        # The department sum may outweigh out_of_scope when the model spreads a real
        # question over sibling intents; only then is it routed.
        return route() if confident and best_score > confidence else escalate(REASON_OUT_OF_SCOPE)
    if intent in CONVERSATION_INTENTS or intent == STATUS_INTENT:
        long_message = _word_count(parse.get("text")) > SMALLTALK_MAX_WORDS
        if long_message and confident and intent != STATUS_INTENT:
            return route()
        return Decision(intent, confidence, None, False, None, guesses)
    # A topic intent, nlu_fallback, or an intent the routing table does not know.
    return route() if confident else escalate(REASON_UNSURE)
