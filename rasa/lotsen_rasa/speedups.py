"""Cheaper start-up and parse for Lotsen's Rasa processes, with the same parse results.

Measured with cProfile (CPU time) on `lotsen route`'s batch parser (nlu/EVALUATION.md,
"Speed without changing a decision"):

- **TensorFlow is imported and never used.** Lotsen's pipeline has no TensorFlow component,
  but `rasa.core.agent` imports it through `rasa.utils.train_utils`, whose module level
  imports two training-only helpers (a Keras callback and a Keras data generator), and
  loading a model builds the classes of its *training* graph too (the recipe validator
  imports DIETClassifier, i.e. TensorFlow). About half of the batch parser's start-up.
  `without_tensorflow()` gives the two helper modules training-only stand-ins (they raise
  when used) and loads a model without its training graph, in a process that only parses.
- **The logistic regression combined features it does not use.** Rasa's
  `LogisticRegressionClassifier._create_X` asks every message for its sparse and dense
  features, which combines (copies and stacks) the *sequence* features of every featurizer
  as well as the sentence features, and then uses only the sentence features.
  `sentence_features_only()` builds the same matrix from the sentence features alone, by
  Rasa's own combining code, in the same order: the classifier gets the identical input.
- **Every prediction copied the classifier's weights.** scikit-learn computes the scores as
  `X @ coef_.T`; `coef_` is stored row-major, so its transpose is not, and SciPy's sparse
  product first copies it into row-major order: 47 × ~60,000 weights, about 6 ms of a
  single message's parse. `weights_for_sparse_input()` stores `coef_` column-major once
  after loading (the same numbers): the transpose is then row-major, nothing is copied, and
  SciPy runs the same multiplication on the same values in the same order.

Both are switched off with `LOTSEN_RASA_SPEEDUPS=0` (the benchmark and the test compare the
two ways in one run: `bench/speed.py`, `tests/test_parse_speedups.py`).
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

TRAINING_ONLY = {
    "rasa.utils.tensorflow.callback": ("RasaTrainingLogger", "RasaModelCheckpoint"),
    "rasa.utils.tensorflow.data_generator": ("RasaBatchDataGenerator",),
}
"""Rasa modules that import TensorFlow at module level for training only, and their names."""


def enabled() -> bool:
    """Return whether the speed-ups are on (`LOTSEN_RASA_SPEEDUPS=0` switches them off)."""
    return os.environ.get("LOTSEN_RASA_SPEEDUPS", "1") != "0"


def _training_only_class(module: str, name: str) -> type:
    def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(
            f"{module}.{name} is for training; this process only parses "
            "(lotsen_rasa.speedups.without_tensorflow)"
        )

    return type(name, (), {"__init__": refuse, "__module__": module})


def without_tensorflow() -> None:
    """Keep TensorFlow out of a process that only parses (call before Rasa is imported).

    TensorFlow itself is not blocked: should anything in the process import it, it is
    imported as usual, only later.
    """
    if not enabled():
        return
    if "rasa" in sys.modules:
        raise RuntimeError("without_tensorflow() must run before Rasa is imported")
    for name, classes in TRAINING_ONLY.items():
        module = types.ModuleType(name, "Training-only stand-in (lotsen_rasa.speedups).")
        for cls in classes:
            setattr(module, cls, _training_only_class(name, cls))
        sys.modules[name] = module

    from rasa.engine.storage.storage import ModelMetadata

    from_dict = ModelMetadata.from_dict.__func__  # type: ignore[attr-defined]

    def predict_only(cls: type, serialized: dict[str, Any]) -> Any:
        # The training graph is used only to train or fine-tune, never to parse.
        return from_dict(cls, {**serialized, "train_schema": {"nodes": {}}})

    ModelMetadata.from_dict = classmethod(predict_only)  # type: ignore[assignment]


def sentence_features_only() -> None:
    """Let the logistic regression build its input from the sentence features alone."""
    if not enabled():
        return
    from rasa.nlu.classifiers.logistic_regression_classifier import (
        LogisticRegressionClassifier,
    )
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message
    from scipy.sparse import csr_matrix, hstack, vstack

    def _create_X(self: Any, messages: list[Message]) -> csr_matrix:
        rows = []
        for message in messages:
            # Rasa's get_sparse_features / get_dense_features, without the sequence part.
            sparse = Message._combine_features(message._filter_sparse_features(TEXT, [])[1], [])
            dense = Message._combine_features(message._filter_dense_features(TEXT, [])[1], [])
            rows.append(
                hstack(
                    [
                        csr_matrix(sparse.features if sparse else []),
                        csr_matrix(dense.features if dense else []),
                    ]
                )
            )
        return vstack(rows)

    LogisticRegressionClassifier._create_X = _create_X


def weights_for_sparse_input() -> None:
    """Store a loaded logistic regression's weights so that predicting copies nothing."""
    if not enabled():
        return
    import numpy as np
    from rasa.nlu.classifiers.logistic_regression_classifier import (
        LogisticRegressionClassifier,
    )

    load = LogisticRegressionClassifier.load.__func__  # type: ignore[attr-defined]

    def load_column_major(cls: type, *args: Any, **kwargs: Any) -> Any:
        component = load(cls, *args, **kwargs)
        clf = getattr(component, "clf", None)
        if getattr(clf, "coef_", None) is not None:
            clf.coef_ = np.asfortranarray(clf.coef_)
        return component

    LogisticRegressionClassifier.load = classmethod(load_column_major)  # type: ignore[assignment]


def for_serving() -> None:
    """The speed-ups for the Rasa server, which also trains nothing but runs the dialogue."""
    sentence_features_only()
    weights_for_sparse_input()


def for_parsing_only() -> None:
    """Everything for a process that loads a model to parse (call before Rasa is imported)."""
    from lotsen_rasa.startup import import_skops_first

    import_skops_first()
    without_tensorflow()
    sentence_features_only()
    weights_for_sparse_input()
