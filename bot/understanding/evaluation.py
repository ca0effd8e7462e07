"""Routing quality metrics: accuracy, escalation recall, false escalation, per department.

A decision that is not an enquiry (answered as small talk or with a status listing) gets the
label `SMALLTALK`: for a labelled question it is always wrong, and it is counted apart
(`answered_smalltalk`), because such a question reaches nobody.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

ESCALATE = "escalate"
SMALLTALK = "smalltalk"


@dataclass
class Metrics:
    """Routing quality on a labelled set; predicted labels are department keys or 'escalate'."""

    total: int = 0
    in_scope: int = 0
    in_scope_correct: int = 0
    false_escalations: int = 0
    out_of_scope: int = 0
    out_of_scope_escalated: int = 0
    answered_smalltalk: int = 0
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def accuracy(self) -> float:
        """Return the share of in-scope lines routed to the expected department."""
        return self.in_scope_correct / self.in_scope if self.in_scope else 0.0

    @property
    def escalation_recall(self) -> float:
        """Return the share of out-of-scope lines that were escalated."""
        return self.out_of_scope_escalated / self.out_of_scope if self.out_of_scope else 0.0

    @property
    def false_escalation_rate(self) -> float:
        """Return the share of in-scope lines that were escalated."""
        return self.false_escalations / self.in_scope if self.in_scope else 0.0

    def labels(self) -> list[str]:
        """Return every label seen, departments sorted, then 'escalate' and 'smalltalk'."""
        seen = {label for pair in self.confusion for label in pair}
        last = [label for label in (ESCALATE, SMALLTALK) if label in seen]
        return sorted(seen - {ESCALATE, SMALLTALK}) + last

    def precision_recall(self, label: str) -> tuple[float, float, float]:
        """Return precision, recall and F1 for one label."""
        tp = self.confusion[(label, label)]
        predicted = sum(n for (_, p), n in self.confusion.items() if p == label)
        actual = sum(n for (e, _), n in self.confusion.items() if e == label)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    @property
    def macro_f1(self) -> float:
        """Return the unweighted mean F1 over the expected labels."""
        expected = sorted({e for e, _ in self.confusion})
        if not expected:
            return 0.0
        return sum(self.precision_recall(label)[2] for label in expected) / len(expected)


def predicted_label(department: str | None, escalate: bool, refer: str | None = None) -> str:
    """Return the label a decision amounts to: a department, 'escalate' or 'smalltalk'.

    A referral to another authority counts as 'escalate': the municipality's departments
    get nothing, which is what an out-of-scope line expects.
    """
    if escalate or refer is not None:
        return ESCALATE
    return SMALLTALK if department is None else department


def score(pairs: list[tuple[str, str]]) -> Metrics:
    """Compute the metrics from (expected, predicted) label pairs."""
    metrics = Metrics()
    for expected, predicted in pairs:
        metrics.total += 1
        metrics.confusion[(expected, predicted)] += 1
        metrics.answered_smalltalk += predicted == SMALLTALK
        if expected == ESCALATE:
            metrics.out_of_scope += 1
            metrics.out_of_scope_escalated += predicted == ESCALATE
        else:
            metrics.in_scope += 1
            metrics.in_scope_correct += predicted == expected
            metrics.false_escalations += predicted == ESCALATE
    return metrics


def report(metrics: Metrics) -> str:
    """Render the metrics as a plain-text report with a confusion table."""
    lines = [
        f"lines: {metrics.total} "
        f"({metrics.in_scope} in scope, {metrics.out_of_scope} out of scope)",
        f"in-scope department accuracy: {metrics.accuracy:.1%}",
        f"out-of-scope escalation recall: {metrics.escalation_recall:.1%}",
        f"false escalation (in scope): {metrics.false_escalation_rate:.1%}",
        f"answered as small talk or status (no enquiry): {metrics.answered_smalltalk}",
        f"macro-F1: {metrics.macro_f1:.3f}",
        "",
        f"{'label':<16} {'precision':>9} {'recall':>7} {'f1':>6}",
    ]
    labels = metrics.labels()
    for label in labels:
        p, r, f = metrics.precision_recall(label)
        lines.append(f"{label:<16} {p:>9.2f} {r:>7.2f} {f:>6.2f}")
    short = {label: label[:6] for label in labels}
    lines += ["", "confusion (rows: expected, columns: predicted)"]
    lines.append(" " * 16 + " ".join(f"{short[c]:>6}" for c in labels))
    for row in labels:
        cells = " ".join(f"{metrics.confusion[(row, col)]:>6}" for col in labels)
        lines.append(f"{row:<16}{cells}")
    return "\n".join(lines)


def by_language(pairs: list[tuple[str, str]], languages: list[str]) -> dict[str, Metrics]:
    """Score the pairs separately for each language tag (sorted by tag)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for pair, language in zip(pairs, languages, strict=True):
        groups.setdefault(language, []).append(pair)
    return {language: score(groups[language]) for language in sorted(groups)}


def language_report(metrics: dict[str, Metrics]) -> str:
    """Render one line of figures per language."""
    lines = [
        f"{'lang':<6} {'lines':>5} {'in-scope acc':>12} {'oos recall':>10} "
        f"{'false esc':>9} {'small talk':>10}"
    ]
    for language, m in metrics.items():
        accuracy = f"{m.accuracy:.1%}" if m.in_scope else "–"
        recall = f"{m.escalation_recall:.1%}" if m.out_of_scope else "–"
        false = f"{m.false_escalation_rate:.1%}" if m.in_scope else "–"
        lines.append(
            f"{language:<6} {m.total:>5} {accuracy:>12} {recall:>10} {false:>9} "
            f"{m.answered_smalltalk:>10}"
        )
    return "\n".join(lines)
