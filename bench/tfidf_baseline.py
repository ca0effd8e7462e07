"""TF-IDF (word + char n-grams) + logistic regression. Runs in the Rasa environment (3.10).

Reads one JSON object on stdin: {"train": [[text, label]], "folds": [int], "eval": [text]}.
Writes {"classes", "oof": [[p]], "eval": [[p]], "fit_seconds"}: out-of-fold probabilities
for every training example (5-fold cross-validation) and probabilities for the eval texts
from a model trained on all training examples. Thresholds are chosen by the caller.
"""

import json
import sys
import time
from typing import Any


def _model() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1),
    )
    return make_pipeline(features, LogisticRegression(C=10.0, solver="liblinear", max_iter=2000))


def main() -> None:
    """Fit, cross-validate and predict; print the probabilities as JSON."""
    job = json.load(sys.stdin)
    texts = [t for t, _ in job["train"]]
    labels = [label for _, label in job["train"]]
    folds = job["folds"]
    classes = sorted(set(labels))
    oof = [[0.0] * len(classes) for _ in texts]
    for fold in sorted(set(folds)):
        train = [i for i, f in enumerate(folds) if f != fold]
        test = [i for i, f in enumerate(folds) if f == fold]
        model = _model().fit([texts[i] for i in train], [labels[i] for i in train])
        index = {c: j for j, c in enumerate(model.classes_)}
        probs = model.predict_proba([texts[i] for i in test])
        for row, i in zip(probs, test, strict=True):
            oof[i] = [float(row[index[c]]) if c in index else 0.0 for c in classes]
    started = time.perf_counter()
    model = _model().fit(texts, labels)
    fit_seconds = time.perf_counter() - started
    index = {c: j for j, c in enumerate(model.classes_)}
    eval_probs = model.predict_proba(job["eval"]) if job["eval"] else []
    out = {
        "classes": classes,
        "oof": oof,
        "eval": [[float(row[index[c]]) for c in classes] for row in eval_probs],
        "fit_seconds": fit_seconds,
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
