"""Measuring the classifier on a labelled set: precision, recall, F1, confusion, speed.

Data files are TSV, one message per line: ``text<TAB>intent[<TAB>category]``; blank lines
and lines starting with ``#`` are skipped. ``evaluate`` returns a ``Report``; the CLI
(``bot/cli_intents.py``) only formats it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intents.classify import INTENTS, Classifier
from intents.errors import IntentsError


@dataclass(frozen=True)
class Example:
    """One labelled message; ``category`` is "" when the file gives none."""

    text: str
    intent: str
    category: str = ""
    line: int = 0


@dataclass(frozen=True)
class Mistake:
    """A misclassified example with what the classifier said and how sure it was."""

    text: str
    expected: str
    predicted: str
    confidence: float
    line: int


@dataclass
class Report:
    """Evaluation results. Rates are in [0, 1]; ``messages_per_second`` is wall-clock,
    single thread, classification only (file reading excluded).

    ``per_intent[intent]`` = {"precision", "recall", "f1", "support"}; ``confusion[gold]
    [predicted]`` = count; ``mistakes`` sorted with the most confident errors first;
    ``category_accuracy`` over examples whose gold intent and category are both given and
    whose intent was right.
    """

    n: int
    accuracy: float
    macro_f1: float
    per_intent: dict[str, dict[str, float]]
    confusion: dict[str, dict[str, int]]
    mistakes: list[Mistake]
    messages_per_second: float
    category_accuracy: float | None = None
    labels: list[str] = field(default_factory=list)

    def worst_intent(self) -> tuple[str, float]:
        """(intent, F1) of the intent with the lowest F1 among those in the data."""
        present = {k: v for k, v in self.per_intent.items() if v["support"] > 0}
        name = min(present, key=lambda k: present[k]["f1"])
        return name, present[name]["f1"]

    def to_dict(self, max_mistakes: int = 20) -> dict[str, Any]:
        """A JSON-ready dict with the keys ``n``, ``accuracy``, ``macro_f1``,
        ``category_accuracy``, ``per_intent``, ``confusion``, ``worst_mistakes``,
        ``messages_per_second``."""
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "category_accuracy": None if self.category_accuracy is None
            else round(self.category_accuracy, 4),
            "per_intent": {k: {m: round(v, 4) if isinstance(v, float) else v
                               for m, v in d.items()} for k, d in self.per_intent.items()},
            "confusion": self.confusion,
            "worst_mistakes": [m.__dict__ for m in self.mistakes[:max_mistakes]],
            "messages_per_second": round(self.messages_per_second, 1),
        }


def read_examples(path: Path) -> list[Example]:
    """Parse a labelled TSV file. Raises ``IntentsError`` naming the line of a row with no
    tab or with an intent not in ``INTENTS``."""
    examples: list[Example] = []
    for n, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split("\t")
        if len(parts) < 2:
            raise IntentsError(f"{path}:{n}: expected text<TAB>intent, got {raw!r}")
        intent = parts[1].strip()
        if intent not in INTENTS:
            raise IntentsError(f"{path}:{n}: unknown intent {intent!r}")
        category = parts[2].strip() if len(parts) > 2 else ""
        examples.append(Example(parts[0], intent, category, n))
    return examples


def f1_table(gold: Iterable[str], predicted: Iterable[str],
             labels: Iterable[str] = INTENTS) -> dict[str, dict[str, float]]:
    """Per-label precision, recall, F1 and support (0.0 where undefined)."""
    pairs = list(zip(gold, predicted, strict=True))
    tp: Counter[str] = Counter(g for g, p in pairs if g == p)
    gold_n: Counter[str] = Counter(g for g, _ in pairs)
    pred_n: Counter[str] = Counter(p for _, p in pairs)
    table: dict[str, dict[str, float]] = {}
    for label in labels:
        precision = tp[label] / pred_n[label] if pred_n[label] else 0.0
        recall = tp[label] / gold_n[label] if gold_n[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table[label] = {"precision": precision, "recall": recall, "f1": f1,
                        "support": gold_n[label]}
    return table


def evaluate(classifier: Classifier, examples: list[Example]) -> Report:
    """Classify every example and compute the metrics. Macro-F1 averages the intents that
    occur in the gold labels or the predictions. Raises ``ValueError`` on an empty list."""
    if not examples:
        raise ValueError("no examples to evaluate")
    started = time.perf_counter()
    results = [classifier.classify(e.text) for e in examples]
    elapsed = time.perf_counter() - started
    gold = [e.intent for e in examples]
    predicted = [u.intent for u in results]
    labels = [i for i in INTENTS if i in set(gold) | set(predicted)]
    table = f1_table(gold, predicted, labels)
    confusion = {g: {p: 0 for p in labels} for g in labels}
    for g, p in zip(gold, predicted, strict=True):
        confusion[g][p] += 1
    mistakes = sorted(
        (Mistake(e.text, e.intent, u.intent, u.confidence, e.line)
         for e, u in zip(examples, results, strict=True) if e.intent != u.intent),
        key=lambda m: -m.confidence,
    )
    cat_pairs = [(e.category, u.category) for e, u in zip(examples, results, strict=True)
                 if e.category and e.intent == u.intent]
    return Report(
        n=len(examples),
        accuracy=sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(examples),
        macro_f1=sum(t["f1"] for t in table.values()) / len(table),
        per_intent=table,
        confusion=confusion,
        mistakes=mistakes,
        messages_per_second=len(examples) / elapsed if elapsed > 0 else float("inf"),
        category_accuracy=(sum(a == b for a, b in cat_pairs) / len(cat_pairs)
                           if cat_pairs else None),
        labels=labels,
    )
