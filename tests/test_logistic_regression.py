"""Lotsen's logistic regression in the Rasa environment: Rasa's model at C 1, C as a setting."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from bot.settings import PROJECT_ROOT
from tests.probes import run_rasa_probe

PROBE = PROJECT_ROOT / "tests" / "rasa" / "classifier_probe.py"


@cache
def facts() -> dict[str, Any]:
    """Run the probe once in the Rasa environment and return what it printed."""
    return run_rasa_probe(PROBE)


def test_with_c_1_it_trains_exactly_rasas_model() -> None:
    f = facts()
    assert f["rasa_C"] == 1.0
    assert f["lotsen_c1_C"] == 1.0
    assert f["c1_equals_rasa"]
    assert f["lotsen_c1_norm"] == pytest.approx(f["rasa_norm"], rel=1e-12)


def test_c_is_used_for_training_and_kept_when_loaded() -> None:
    f = facts()
    assert f["lotsen_c4_C"] == 4.0
    assert f["lotsen_c4_loaded_C"] == 4.0
    assert f["c4_differs"]
    # Less regularisation: larger weights, and the training examples' topics still win.
    assert f["lotsen_c4_norm"] > f["lotsen_c1_norm"]
    assert f["top"][:3] == ["bidrag", "lokal", "bygglov"]
    for name in ("rasa", "lotsen_c1", "lotsen_c4"):
        assert f[f"{name}_loaded_same"], name


def test_a_bad_c_is_refused_in_one_clear_line() -> None:
    f = facts()
    assert f["bad_zero"] == "LogisticRegressionClassifier: C must be a positive number, not 0."
    assert f["bad_text"] == (
        "LogisticRegressionClassifier: C must be a positive number, not 'much'."
    )
    assert f["bad_bool"] == "LogisticRegressionClassifier: C must be a positive number, not True."
