"""Rasa's logistic-regression intent classifier with its regularisation as a setting.

Rasa 3.6's `LogisticRegressionClassifier` fixes scikit-learn's inverse regularisation strength
`C` at 1. With one sentence embedding beside tens of thousands of sparse counts, how strongly
the weights are held back decides how far the classifier may follow the training examples;
`C` was chosen by cross-validation (nlu/EVALUATION.md, "Less regularisation, confirmed with
Rasa"). Everything else — features, class weights, solver, persistence, the ranking — is
Rasa's own component, unchanged; with `C: 1` this component trains exactly Rasa's model.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import (
    LogisticRegressionClassifier as RasaLogisticRegressionClassifier,
)
from rasa.shared.exceptions import InvalidConfigException


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LogisticRegressionClassifier(RasaLogisticRegressionClassifier):
    """Classify intents with Rasa's logistic regression and a configurable `C`."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Return Rasa's defaults plus `C` (1.0: Rasa's fixed value)."""
        return {**RasaLogisticRegressionClassifier.get_default_config(), "C": 1.0}

    def __init__(
        self,
        config: dict[str, Any],
        name: str,
        model_storage: ModelStorage,
        resource: Resource,
    ) -> None:
        """Build Rasa's classifier, then give scikit-learn the configured `C`."""
        super().__init__(config, name, model_storage, resource)
        self.clf.set_params(C=regularisation(self.config))


def regularisation(config: dict[str, Any]) -> float:
    """Return the configured `C`; refuse anything but a positive number in one clear line."""
    value = config.get("C", 1.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidConfigException(
            f"LogisticRegressionClassifier: C must be a positive number, not {value!r}."
        )
    return float(value)
