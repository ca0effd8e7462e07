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
4. A message whose top intent is small talk (greet, thanks, goodbye, yes, no) or a status
   question is answered as such only when it is plainly that (`is_plain_smalltalk`): the
   top intent is confident (at least `SMALLTALK_MIN_CONFIDENCE`), the message is short (at
   most `SMALLTALK_MAX_WORDS` words, or `STATUS_MAX_WORDS` for a status question; a status
   question naming a reference number may be longer), and it is written only in scripts the
   small-talk examples cover (`SMALLTALK_SCRIPTS`). Such a decision has no department and
   does not escalate; callers answer it as small talk or with the enquiry's status.
   Anything else whose top intent is small talk or status is an enquiry: routed when its
   best department reaches the threshold, otherwise escalated ("unsure"). A question is
   never swallowed by a small-talk guess.

The threshold lives in config.yml under the top-level key `lotsen: department_threshold`
(Rasa ignores unknown top-level keys); `load_threshold` reads it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from db.models import EscalationReason

CONVERSATION_INTENTS = frozenset({"greet", "goodbye", "thanks", "affirm", "deny"})
ESCALATE_INTENTS = frozenset({"out_of_scope", "ask_human", "nlu_fallback"})
STATUS_INTENT = "ask_status"
FALLBACK_INTENT = "nlu_fallback"
NON_TOPIC_INTENTS = CONVERSATION_INTENTS | ESCALATE_INTENTS | {STATUS_INTENT}

DEFAULT_THRESHOLD = 0.5
"""Used when config.yml has no `lotsen: department_threshold`."""

SMALLTALK_MAX_WORDS = 6
"""A message with more words than this is never treated as mere small talk."""

STATUS_MAX_WORDS = 10
"""A status question without a reference number has at most this many words."""

SMALLTALK_MIN_CONFIDENCE = 0.5
"""A small-talk or status intent weaker than this makes the message an enquiry."""

SMALLTALK_SCRIPTS = frozenset({"LATIN", "ARABIC", "CYRILLIC"})
"""The writing systems of the small-talk and status examples in nlu/ (checked by a test)."""

REFERENCE_ENTITY = "reference"

TOP_DEPARTMENTS = 3
"""How many department guesses a decision carries (for the coordinator)."""


@dataclass(frozen=True)
class Decision:
    """The outcome for one message.

    `department` is set when the message is routed (`escalate` is then False). When
    `escalate` is True, `reason` says why (`EscalationReason.UNSURE`, `OUT_OF_SCOPE` or
    `HUMAN`).
    `department is None and not escalate` means "not an enquiry" (small talk or a status
    question, see `is_enquiry`). `department_scores` holds the model's best department
    guesses, best first.
    """

    intent: str
    confidence: float
    department: str | None
    escalate: bool
    reason: EscalationReason | None
    department_scores: tuple[tuple[str, float], ...] = ()

    @property
    def is_enquiry(self) -> bool:
        """Tell whether the message is an enquiry (routed or escalated, always recorded)."""
        return self.escalate or self.department is not None


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


def scripts(text: str) -> frozenset[str]:
    """Return the writing systems of the letters in `text` ("LATIN", "ARABIC", …)."""
    return frozenset(
        unicodedata.name(char, "UNKNOWN").split()[0] for char in text if char.isalpha()
    )


def _names_reference(parse: Mapping[str, Any]) -> bool:
    entities = parse.get("entities")
    return isinstance(entities, list | tuple) and any(
        isinstance(e, Mapping) and e.get("entity") == REFERENCE_ENTITY for e in entities
    )


def is_plain_smalltalk(parse: Mapping[str, Any], intent: str, confidence: float) -> bool:
    """Tell whether a small-talk or status message is plainly that, not a hidden question."""
    text = parse.get("text")
    text = text if isinstance(text, str) else ""
    if confidence < SMALLTALK_MIN_CONFIDENCE or not scripts(text) <= SMALLTALK_SCRIPTS:
        return False
    if intent == STATUS_INTENT:
        return _names_reference(parse) or _word_count(text) <= STATUS_MAX_WORDS
    return _word_count(text) <= SMALLTALK_MAX_WORDS


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

    def escalate(reason: EscalationReason) -> Decision:
        return Decision(intent, confidence, None, True, reason, guesses)

    if intent == "ask_human":
        return escalate(EscalationReason.HUMAN)
    if intent == "out_of_scope":
        # The department sum may outweigh out_of_scope when the model spreads a real
        # question over sibling intents; only then is it routed.
        return (
            route()
            if confident and best_score > confidence
            else escalate(EscalationReason.OUT_OF_SCOPE)
        )
    if (intent in CONVERSATION_INTENTS or intent == STATUS_INTENT) and is_plain_smalltalk(
        parse, intent, confidence
    ):
        return Decision(intent, confidence, None, False, None, guesses)
    # A topic intent, nlu_fallback, an intent the routing table does not know, or small
    # talk / status that may hide a question.
    return route() if confident else escalate(EscalationReason.UNSURE)
