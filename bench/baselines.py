"""The non-Rasa baselines: keyword overlap with `handles`, and TF-IDF + logistic regression."""

from __future__ import annotations

import json
import re
import subprocess
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.settings import PROJECT_ROOT, Settings
from bot.understanding import rasa_env
from bot.understanding.evaluation import ESCALATE, score

_FOLD = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", "ü": "u"})
_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    {
        "och",
        "att",
        "for",
        "med",
        "som",
        "till",
        "den",
        "det",
        "en",
        "ett",
        "av",
        "pa",
        "om",
        "vid",
        "eller",
        "i",
        "ar",
        "har",
        "kan",
        "vi",
        "var",
        "vara",
        "vill",
        "hur",
        "nar",
        "ska",
        "mellan",
        "dar",
        "andra",
        "samt",
        "inom",
        "under",
        "utan",
        "the",
        "and",
    }
)
MIN_TOKEN = 3
PARTIAL_MIN = 5
"""A keyword and a question word match when equal, or when the shorter (≥ 5 letters) is
contained in the longer (Swedish compounds: "bidrag" ⊂ "föreningsbidrag")."""


def tokens(text: str) -> list[str]:
    """Return lowercased, å/ä/ö-folded word tokens without stop words or very short words."""
    folded = unicodedata.normalize("NFC", text.lower()).translate(_FOLD)
    return [w for w in _WORD.findall(folded) if len(w) >= MIN_TOKEN and w not in STOPWORDS]


def department_keywords(municipality_file: Path) -> dict[str, set[str]]:
    """Return each department's keywords from its `handles` list (shared words dropped)."""
    data = yaml.safe_load(municipality_file.read_text(encoding="utf-8"))
    keywords = {
        str(d["key"]): {w for line in d.get("handles") or [] for w in tokens(str(line))}
        for d in data["departments"]
    }
    spread = Counter(w for words in keywords.values() for w in words)
    return {key: {w for w in words if spread[w] <= 2} for key, words in keywords.items()}


def _matches(word: str, keyword: str) -> bool:
    if word == keyword:
        return True
    short, long = sorted((word, keyword), key=len)
    return len(short) >= PARTIAL_MIN and short in long


@dataclass(frozen=True)
class KeywordRouter:
    """Score departments by keyword overlap; escalate when nothing overlaps."""

    keywords: dict[str, set[str]]

    def predict(self, text: str) -> str:
        """Return the department with most matching question words, or 'escalate'."""
        words = set(tokens(text))
        scores = {
            key: sum(any(_matches(w, k) for k in kws) for w in words)
            for key, kws in self.keywords.items()
        }
        best = max(sorted(scores), key=lambda key: scores[key], default=None)
        return best if best is not None and scores[best] > 0 else ESCALATE


@dataclass(frozen=True)
class TfidfResult:
    """Predicted labels of the TF-IDF baseline and the threshold chosen by cross-validation."""

    eval_predictions: list[str]
    cv_predictions: list[str]
    threshold: float
    fit_seconds: float


THRESHOLDS = tuple(round(0.10 + 0.05 * i, 2) for i in range(15))


def decide_from_probabilities(
    classes: Sequence[str], row: Sequence[float], threshold: float
) -> str:
    """Return the best class, or 'escalate' when it is 'escalate' or below the threshold."""
    best = max(range(len(classes)), key=lambda j: row[j])
    if classes[best] == ESCALATE or row[best] < threshold:
        return ESCALATE
    return classes[best]


def tfidf_baseline(
    settings: Settings,
    train: Sequence[tuple[str, str]],
    folds: Sequence[int],
    eval_texts: Sequence[str],
) -> TfidfResult:
    """Run the TF-IDF baseline in the Rasa environment; pick the threshold on CV macro-F1."""
    job = {"train": [list(pair) for pair in train], "folds": list(folds), "eval": list(eval_texts)}
    done = subprocess.run(
        [str(rasa_env.rasa_python(settings)), str(PROJECT_ROOT / "bench" / "tfidf_baseline.py")],
        input=json.dumps(job, ensure_ascii=False),
        capture_output=True,
        text=True,
        env=rasa_env.rasa_env(),
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"the TF-IDF baseline failed: {tail[0]}")
    out = json.loads(done.stdout)
    classes: list[str] = out["classes"]
    expected = [label for _, label in train]

    def cv_at(threshold: float) -> list[str]:
        return [decide_from_probabilities(classes, row, threshold) for row in out["oof"]]

    threshold = max(
        THRESHOLDS,
        key=lambda t: score(list(zip(expected, cv_at(t), strict=True))).macro_f1,
    )
    return TfidfResult(
        eval_predictions=[
            decide_from_probabilities(classes, row, threshold) for row in out["eval"]
        ],
        cv_predictions=cv_at(threshold),
        threshold=threshold,
        fit_seconds=float(out["fit_seconds"]),
    )
