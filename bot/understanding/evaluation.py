"""Routing quality metrics: accuracy, escalation recall, false escalation, per department."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

ESCALATE = "escalate"


@dataclass
class Metrics:
    """Routing quality on a labelled set; predicted labels are department keys or 'escalate'."""

    total: int = 0
    in_scope: int = 0
    in_scope_correct: int = 0
    false_escalations: int = 0
    out_of_scope: int = 0
    out_of_scope_escalated: int = 0
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
        """Return every label seen, departments sorted, 'escalate' last."""
        seen = {label for pair in self.confusion for label in pair}
        return sorted(seen - {ESCALATE}) + ([ESCALATE] if ESCALATE in seen else [])

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


def predicted_label(department: str | None, escalate: bool) -> str:
    """Return the label a decision amounts to ('escalate' when not routed to a department)."""
    if escalate or department is None:
        return ESCALATE
    return department


def score(pairs: list[tuple[str, str]]) -> Metrics:
    """Compute the metrics from (expected, predicted) label pairs."""
    metrics = Metrics()
    for expected, predicted in pairs:
        metrics.total += 1
        metrics.confusion[(expected, predicted)] += 1
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
