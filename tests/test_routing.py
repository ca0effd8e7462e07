"""Unit tests of the routing decision (bot/routing.py) and language detection (bot/language.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.understanding.routing import (
    DEFAULT_THRESHOLD,
    Decision,
    Thresholds,
    authority_mapping,
    decide,
    department_scores,
    load_threshold,
    load_thresholds,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ROUTES = {
    "topic_bidrag": "kultur_fritid",
    "topic_lokalbokning": "kultur_fritid",
    "topic_markupplatelse": "teknik",
    "topic_parker": "teknik",
    "topic_iop": "upphandling",
    "topic_livsmedel": "samhallsbyggnad",
}
THRESHOLD = 0.5
AUTHORITIES = {
    "authority_skatteverket": "skatteverket",
    "authority_region_halsa": "region_halsa",
}


def parse(*ranking: tuple[str, float], text: str = "en fråga") -> dict[str, Any]:
    """Build a Rasa-style parse result; the first ranking entry is the top intent."""
    items = [{"name": name, "confidence": conf} for name, conf in ranking]
    return {"text": text, "intent": items[0], "intent_ranking": items, "entities": []}


def test_confident_topic_routes_to_its_department() -> None:
    d = decide(parse(("topic_iop", 0.93), ("topic_bidrag", 0.04)), ROUTES, THRESHOLD)
    assert d == Decision(
        intent="topic_iop",
        confidence=0.93,
        department="upphandling",
        escalate=False,
        reason=None,
        department_scores=(("upphandling", 0.93), ("kultur_fritid", 0.04)),
    )


def test_siblings_of_one_department_are_summed() -> None:
    # No single intent reaches the threshold, but kultur_fritid does (0.35 + 0.30).
    p = parse(("topic_bidrag", 0.35), ("topic_lokalbokning", 0.30), ("topic_parker", 0.20))
    d = decide(p, ROUTES, THRESHOLD)
    assert d.department == "kultur_fritid"
    assert not d.escalate
    assert [key for key, _ in d.department_scores] == ["kultur_fritid", "teknik"]
    assert [score for _, score in d.department_scores] == pytest.approx([0.65, 0.20])


def test_aggregation_can_beat_the_top_intent() -> None:
    # The top intent belongs to kultur_fritid but teknik's siblings together are stronger.
    p = parse(("topic_bidrag", 0.40), ("topic_markupplatelse", 0.30), ("topic_parker", 0.28))
    d = decide(p, ROUTES, THRESHOLD)
    assert d.intent == "topic_bidrag"
    assert d.department == "teknik"


def test_low_department_score_escalates_as_unsure() -> None:
    p = parse(("topic_bidrag", 0.30), ("topic_iop", 0.25), ("topic_livsmedel", 0.20))
    d = decide(p, ROUTES, THRESHOLD)
    assert d.escalate
    assert d.reason == "unsure"
    assert d.department is None
    assert [key for key, _ in d.department_scores] == [
        "kultur_fritid",
        "upphandling",
        "samhallsbyggnad",
    ]


def test_department_scores_hold_at_most_three_guesses() -> None:
    p = parse(
        ("topic_bidrag", 0.3),
        ("topic_iop", 0.25),
        ("topic_livsmedel", 0.2),
        ("topic_parker", 0.15),
    )
    assert len(decide(p, ROUTES, THRESHOLD).department_scores) == 3


def test_unknown_intent_without_route_escalates_as_unsure() -> None:
    d = decide(parse(("topic_unknown", 0.97), ("topic_bidrag", 0.02)), ROUTES, THRESHOLD)
    assert d.escalate
    assert d.reason == "unsure"
    assert d.intent == "topic_unknown"


def test_ask_human_escalates_even_when_a_department_is_likely() -> None:
    p = parse(("ask_human", 0.55), ("topic_bidrag", 0.44))
    d = decide(p, ROUTES, THRESHOLD)
    assert d.escalate
    assert d.reason == "human"
    assert d.department is None


def test_out_of_scope_escalates() -> None:
    d = decide(parse(("out_of_scope", 0.88), ("topic_bidrag", 0.05)), ROUTES, THRESHOLD)
    assert d.escalate
    assert d.reason == "out_of_scope"


def test_out_of_scope_is_outweighed_only_by_a_stronger_department() -> None:
    p = parse(("out_of_scope", 0.34), ("topic_markupplatelse", 0.33), ("topic_parker", 0.30))
    assert decide(p, ROUTES, THRESHOLD).department == "teknik"
    p = parse(("out_of_scope", 0.45), ("topic_markupplatelse", 0.30), ("topic_bidrag", 0.20))
    assert decide(p, ROUTES, THRESHOLD).reason == "out_of_scope"


def test_nlu_fallback_routes_when_department_is_strong() -> None:
    p = parse(
        ("nlu_fallback", 0.3),
        ("topic_markupplatelse", 0.28),
        ("topic_parker", 0.27),
        ("topic_bidrag", 0.2),
    )
    d = decide(p, ROUTES, THRESHOLD)
    assert d.intent == "nlu_fallback"
    assert d.department == "teknik"
    assert not d.escalate


def test_nlu_fallback_with_weak_departments_escalates_as_unsure() -> None:
    p = parse(("nlu_fallback", 0.3), ("topic_markupplatelse", 0.28), ("topic_bidrag", 0.25))
    d = decide(p, ROUTES, THRESHOLD)
    assert d.escalate
    assert d.reason == "unsure"
    # nlu_fallback itself never counts towards a department.
    assert dict(d.department_scores)["teknik"] == pytest.approx(0.28)


def test_short_small_talk_is_not_an_enquiry() -> None:
    d = decide(parse(("greet", 0.98), ("topic_bidrag", 0.01), text="hej!"), ROUTES, THRESHOLD)
    assert d.department is None
    assert not d.escalate
    assert d.reason is None
    assert d.intent == "greet"


def test_long_greeting_with_a_strong_department_is_routed() -> None:
    text = "Hej! Vi undrar hur vi söker bidrag till vår förening i år"
    p = parse(("greet", 0.40), ("topic_bidrag", 0.38), ("topic_lokalbokning", 0.2), text=text)
    d = decide(p, ROUTES, THRESHOLD)
    assert d.department == "kultur_fritid"
    assert d.intent == "greet"


def test_long_greeting_without_a_strong_department_is_escalated_not_swallowed() -> None:
    text = "Hej hej och god morgon till er alla på kommunen idag"
    p = parse(("greet", 0.80), ("topic_bidrag", 0.1), text=text)
    d = decide(p, ROUTES, THRESHOLD)
    assert d.escalate
    assert d.reason == "unsure"
    assert d.is_enquiry


def test_status_question_is_not_an_enquiry() -> None:
    text = "Vad händer med mitt ärende LOT-2026-00042 om bidrag till föreningen?"
    p = parse(("ask_status", 0.5), ("topic_bidrag", 0.49), text=text)
    d = decide(p, ROUTES, THRESHOLD)
    assert d.department is None
    assert not d.escalate
    assert not d.is_enquiry


def test_long_status_question_naming_a_reference_stays_a_status_question() -> None:
    text = "Hej, vi skrev för två veckor sedan och undrar nu hur det går med LOT-2026-00042"
    p = parse(("ask_status", 0.7), ("topic_bidrag", 0.2), text=text)
    p["entities"] = [{"entity": "reference", "value": "LOT-2026-00042"}]
    assert not decide(p, ROUTES, THRESHOLD).is_enquiry


def test_long_status_guess_without_a_reference_is_an_enquiry() -> None:
    text = "Hur länge dröjer det innan vi får besked om vaccination för våra äldre medlemmar?"
    p = parse(("ask_status", 0.7), ("topic_bidrag", 0.2), text=text)
    d = decide(p, ROUTES, THRESHOLD)
    assert d.escalate and d.reason == "unsure"


@pytest.mark.parametrize("intent", ["greet", "thanks", "goodbye", "affirm", "deny", "ask_status"])
def test_weak_small_talk_or_status_is_an_enquiry(intent: str) -> None:
    d = decide(parse((intent, 0.45), ("topic_bidrag", 0.3), text="kan vi"), ROUTES, THRESHOLD)
    assert d.escalate
    assert d.reason == "unsure"


def test_weak_small_talk_with_a_strong_department_is_routed() -> None:
    p = parse(("affirm", 0.46), ("topic_iop", 0.44), ("topic_bidrag", 0.1), text="IOP ja")
    assert decide(p, ROUTES, 0.4).department == "upphandling"


@pytest.mark.parametrize(
    ("text", "covered"),
    [
        ("hej!", True),
        ("مرحبا", True),
        ("Дякую!", True),
        ("👍", True),
        ("你好", False),
        ("नमस्ते", False),
        ("Γεια σας", False),
    ],
)
def test_small_talk_in_a_script_the_examples_do_not_cover_is_an_enquiry(
    text: str, covered: bool
) -> None:
    d = decide(parse(("greet", 0.9), ("topic_bidrag", 0.05), text=text), ROUTES, THRESHOLD)
    assert d.is_enquiry is not covered
    assert d.escalate is not covered


def test_threshold_is_inclusive() -> None:
    assert decide(parse(("topic_iop", 0.5)), ROUTES, 0.5).department == "upphandling"
    assert decide(parse(("topic_iop", 0.49)), ROUTES, 0.5).escalate


def test_malformed_parse_escalates_as_unsure() -> None:
    d = decide({"text": "x"}, ROUTES, THRESHOLD)
    assert d.escalate
    assert d.reason == "unsure"
    assert d.intent == "nlu_fallback"
    assert d.department_scores == ()


def test_parse_without_ranking_uses_the_top_intent() -> None:
    p = {"text": "iop", "intent": {"name": "topic_iop", "confidence": 0.9}}
    assert decide(p, ROUTES, THRESHOLD).department == "upphandling"


def test_department_scores_ignore_non_topic_intents_even_if_routed() -> None:
    routes = {**ROUTES, "greet": "kultur_fritid", "nlu_fallback": "teknik"}
    p = parse(("nlu_fallback", 0.3), ("greet", 0.3), ("topic_iop", 0.2))
    assert department_scores(p, routes) == [("upphandling", 0.2)]


def test_load_threshold_reads_the_project_config() -> None:
    threshold = load_threshold(PROJECT_ROOT / "config.yml")
    assert 0.0 < threshold <= 1.0


def test_load_threshold_variants(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yml"
    cfg.write_text("recipe: default.v1\nlotsen:\n  department_threshold: 0.42\n")
    assert load_threshold(cfg) == pytest.approx(0.42)
    cfg.write_text("recipe: default.v1\n")
    assert load_threshold(cfg) == DEFAULT_THRESHOLD
    cfg.write_text("lotsen:\n  department_threshold: 1.5\n")
    with pytest.raises(ValueError):
        load_threshold(cfg)
    cfg.write_text("lotsen:\n  department_threshold: hög\n")
    with pytest.raises(ValueError):
        load_threshold(cfg)
    with pytest.raises(ValueError):
        load_threshold(tmp_path / "missing.yml")


def test_weak_departments_summed_do_not_outvote_a_confident_out_of_scope() -> None:
    # The Christmas-party restaurant tip: out_of_scope on top at 0.31, departments summed
    # 0.36 pass the department threshold but hold no majority: escalated, not forwarded.
    p = parse(
        ("out_of_scope", 0.31),
        ("topic_livsmedel", 0.20),
        ("topic_bidrag", 0.12),
        ("topic_iop", 0.10),
        ("topic_markupplatelse", 0.09),
        ("topic_parker", 0.07),
        ("topic_lokalbokning", 0.04),
    )
    d = decide(p, ROUTES, Thresholds(department=0.25, out_of_scope_override=0.5))
    assert d.escalate
    assert d.reason == "out_of_scope"
    assert d.department is None
    assert d.refer is None


def test_authority_intents_count_as_out_of_scope_mass() -> None:
    # out_of_scope + authority intents (0.30 + 0.25) outweigh kultur_fritid (0.45).
    p = parse(
        ("out_of_scope", 0.30),
        ("topic_bidrag", 0.25),
        ("authority_skatteverket", 0.25),
        ("topic_lokalbokning", 0.20),
    )
    d = decide(p, ROUTES, Thresholds(department=0.25, out_of_scope_override=0.4))
    assert d.escalate and d.reason == "out_of_scope"
    assert "authority_skatteverket" not in dict(d.department_scores)


def test_authority_top_intent_refers_and_escalates_nothing() -> None:
    p = parse(("authority_region_halsa", 0.62), ("out_of_scope", 0.2), ("topic_bidrag", 0.1))
    d = decide(p, ROUTES, THRESHOLD, authorities=AUTHORITIES)
    assert d.refer == "region_halsa"
    assert not d.escalate
    assert d.department is None
    assert d.confirm is None
    assert d.is_enquiry


def test_authority_sum_refers_when_out_of_scope_is_on_top() -> None:
    p = parse(
        ("out_of_scope", 0.35),
        ("authority_skatteverket", 0.25),
        ("authority_region_halsa", 0.2),
        ("topic_bidrag", 0.1),
    )
    assert decide(p, ROUTES, THRESHOLD, authorities=AUTHORITIES).escalate
    # Two intents that the table gives one authority are summed: 0.25 + 0.2 > 0.35.
    shared = {**AUTHORITIES, "authority_region_halsa": "skatteverket"}
    assert decide(p, ROUTES, THRESHOLD, authorities=shared).refer == "skatteverket"


def test_authority_without_mapping_escalates_as_out_of_scope() -> None:
    p = parse(("authority_polisen", 0.8), ("topic_bidrag", 0.1))
    d = decide(p, ROUTES, THRESHOLD, authorities=AUTHORITIES)
    assert d.escalate and d.reason == "out_of_scope" and d.refer is None
    assert decide(p, ROUTES, THRESHOLD).reason == "out_of_scope"


def test_strong_department_outweighs_an_authority_on_top() -> None:
    p = parse(("authority_skatteverket", 0.3), ("topic_iop", 0.6), ("topic_bidrag", 0.1))
    d = decide(p, ROUTES, THRESHOLD, authorities=AUTHORITIES)
    assert d.department == "upphandling"
    assert d.refer is None


def test_close_departments_ask_to_confirm() -> None:
    limits = Thresholds(department=0.25, confirm_below=0.4, confirm_margin=0.15)
    p = parse(("topic_bidrag", 0.45), ("topic_markupplatelse", 0.35), ("topic_iop", 0.2))
    d = decide(p, ROUTES, limits)
    assert d.department == "kultur_fritid"
    assert d.confirm == ("kultur_fritid", "teknik")
    assert not d.escalate


def test_best_just_over_the_threshold_asks_to_confirm() -> None:
    limits = Thresholds(department=0.25, confirm_below=0.4, confirm_margin=0.15)
    p = parse(("nlu_fallback", 0.4), ("topic_bidrag", 0.3), ("topic_iop", 0.1))
    d = decide(p, ROUTES, limits)
    assert d.department == "kultur_fritid"
    assert d.confirm == ("kultur_fritid", "upphandling")


def test_clear_department_routes_without_asking() -> None:
    limits = Thresholds(department=0.25, confirm_below=0.4, confirm_margin=0.15)
    d = decide(parse(("topic_iop", 0.8), ("topic_bidrag", 0.1)), ROUTES, limits)
    assert d.department == "upphandling"
    assert d.confirm is None
    # A bare float threshold never asks.
    p = parse(("topic_bidrag", 0.51), ("topic_iop", 0.49))
    assert decide(p, ROUTES, THRESHOLD).confirm is None


def test_authority_mapping_default() -> None:
    intents = ["greet", "authority_skatteverket", "authority_", "topic_iop", "authority_polisen"]
    assert authority_mapping(intents) == {
        "authority_skatteverket": "skatteverket",
        "authority_polisen": "polisen",
    }


def test_load_thresholds(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yml"
    cfg.write_text(
        "lotsen:\n  department_threshold: 0.3\n  out_of_scope_override: 0.55\n"
        "  confirm_below: 0.35\n  confirm_margin: 0.1\n"
    )
    assert load_thresholds(cfg) == Thresholds(0.3, 0.55, 0.35, 0.1)
    cfg.write_text("recipe: default.v1\n")
    assert load_thresholds(cfg).department == DEFAULT_THRESHOLD
    cfg.write_text("lotsen:\n  confirm_margin: -0.1\n")
    with pytest.raises(ValueError):
        load_thresholds(cfg)
    project = load_thresholds(PROJECT_ROOT / "config.yml")
    assert project.department == load_threshold(PROJECT_ROOT / "config.yml")
