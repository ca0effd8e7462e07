"""Train Lotsen's logistic regression in the Rasa environment beside Rasa's; print JSON facts.

Started by tests/test_logistic_regression.py with `.venv-rasa/bin/python`. The same small
training set (sparse counts and a dense vector per message) trains Rasa's component, Lotsen's
with `C: 1` and Lotsen's with `C: 4`; each is persisted and loaded back.
"""

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from lotsen_rasa.logistic_regression import LogisticRegressionClassifier
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.classifiers.logistic_regression_classifier import (
    LogisticRegressionClassifier as RasaLogisticRegressionClassifier,
)
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

EXAMPLES = [
    ("bidrag", "hur söker vi bidrag till föreningen"),
    ("bidrag", "när betalas föreningsbidraget ut"),
    ("bidrag", "bidrag till sommarlägret"),
    ("lokal", "kan vi boka en lokal på lördag"),
    ("lokal", "bokning av idrottshallen"),
    ("lokal", "hyra lokal till årsmötet"),
    ("bygglov", "behöver vi bygglov för ett förråd"),
    ("bygglov", "bygglov klubbstuga"),
    ("bygglov", "får vi bygga en läktare"),
]
QUESTIONS = ["bidrag till lägret", "boka hallen", "förråd bygglov", "helt annat"]


def _messages(
    pairs: list[tuple[str, str]], tokenizer: WhitespaceTokenizer, vectors: CountVectorsFeaturizer
) -> list[Message]:
    messages = [Message.build(text=t, intent=i) for i, t in pairs]
    data = TrainingData(messages)
    tokenizer.process_training_data(data)
    vectors.process_training_data(data)
    for index, message in enumerate(messages):
        dense = np.full((1, 4), float(index % 3), dtype=np.float32)
        message.add_features(Features(dense, "sentence", "text", "probe"))
    return messages


def _ranking(component: Any, messages: list[Message]) -> list[list[tuple[str, float]]]:
    component.process(messages)
    return [
        [(r["name"], round(float(r["confidence"]), 12)) for r in m.get("intent_ranking")]
        for m in messages
    ]


def _error(config: dict[str, Any], storage: Any, resource: Any, context: Any) -> str:
    try:
        LogisticRegressionClassifier.create(config, storage, resource, context)
    except InvalidConfigException as exc:
        return str(exc)
    return ""


def main() -> None:
    """Train the three, compare their rankings, load them back, provoke errors, print facts."""
    storage = LocalModelStorage(Path(tempfile.mkdtemp()))
    context = ExecutionContext(GraphSchema({}), node_name="classifier_probe")
    tokenizer = WhitespaceTokenizer.create(
        WhitespaceTokenizer.get_default_config(), storage, Resource("tok"), context
    )
    vectors = CountVectorsFeaturizer.create(
        {
            **CountVectorsFeaturizer.get_default_config(),
            "analyzer": "char_wb",
            "min_ngram": 2,
            "max_ngram": 4,
        },
        storage,
        Resource("cvf"),
        context,
    )
    raw = TrainingData([Message.build(text=t, intent=i) for i, t in EXAMPLES])
    tokenizer.process_training_data(raw)
    vectors.train(raw)
    training = TrainingData(_messages(EXAMPLES, tokenizer, vectors))

    facts: dict[str, Any] = {}
    rankings: dict[str, Any] = {}
    for name, cls, config in (
        ("rasa", RasaLogisticRegressionClassifier, {"max_iter": 200}),
        ("lotsen_c1", LogisticRegressionClassifier, {"max_iter": 200}),
        ("lotsen_c4", LogisticRegressionClassifier, {"max_iter": 200, "C": 4}),
    ):
        resource = Resource(name)
        full = {**cls.get_default_config(), **config}
        trained = cls.create(full, storage, resource, context)
        trained.train(training)
        loaded = cls.load(full, storage, resource, context)
        asked = [_messages([("x", q)], tokenizer, vectors)[0] for q in QUESTIONS]
        again = [_messages([("x", q)], tokenizer, vectors)[0] for q in QUESTIONS]
        rankings[name] = _ranking(trained, asked)
        facts[f"{name}_C"] = float(trained.clf.C)
        facts[f"{name}_loaded_C"] = float(loaded.clf.C)
        facts[f"{name}_loaded_same"] = _ranking(loaded, again) == rankings[name]
        facts[f"{name}_norm"] = float(np.linalg.norm(trained.clf.coef_))
    facts["c1_equals_rasa"] = rankings["lotsen_c1"] == rankings["rasa"]
    facts["c4_differs"] = rankings["lotsen_c4"] != rankings["rasa"]
    facts["top"] = [r[0][0] for r in rankings["lotsen_c4"]]
    resource = Resource("bad")
    facts["bad_zero"] = _error({"C": 0}, storage, resource, context)
    facts["bad_text"] = _error({"C": "much"}, storage, resource, context)
    facts["bad_bool"] = _error({"C": True}, storage, resource, context)
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
