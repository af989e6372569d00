"""Accuracy on the labelled sets in intents/data/ (the issue's bar: dev macro-F1 ≥ 0.95,
every intent ≥ 0.90; the held-out splits are never tuned on and must stay above a floor).

- ``dev.tsv``: tuned on.
- ``test.tsv``: short chat, held out since issue 1 (relabelled once in issue 10 for the new
  intents urge / referral / thanks, before any tuning for them).
- ``heldout.tsv``: issue 10's long, real-style messages, committed (5b1d5fc) before the lexicon
  was tuned for them and never tuned on. Measured when the floor was set: accuracy 0.956,
  macro-F1 0.941 (before issue 10's lexicon: 0.533 / 0.543). The floor records that figure
  with room for noise; it is not a target to tune against.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from intents.classify import INTENTS, Classifier
from intents.evaluate import evaluate, read_examples

DATA = Path(__file__).resolve().parents[2] / "intents" / "data"
DEV = read_examples(DATA / "dev.tsv")
HELD_OUT = read_examples(DATA / "test.tsv")
LONG_HELD_OUT = read_examples(DATA / "heldout.tsv")


def test_dev_set_is_big_varied_and_disjoint_from_held_out() -> None:
    assert len(DEV) >= 600
    assert len(HELD_OUT) >= 150
    counts = Counter(e.intent for e in DEV)
    assert set(counts) == set(INTENTS)
    assert min(counts.values()) >= 20
    assert len(LONG_HELD_OUT) >= 80
    texts = [{e.text for e in s} for s in (DEV, HELD_OUT, LONG_HELD_OUT)]
    assert not texts[0] & texts[1] and not texts[0] & texts[2] and not texts[1] & texts[2]


def test_every_category_has_dev_examples(clf: Classifier) -> None:
    wanted = {c for cats in clf.lexicon.categories.values() for c in cats}
    have = Counter(e.category for e in DEV if e.category)
    assert wanted <= set(have)
    assert min(have[c] for c in wanted) >= 5


def test_dev_macro_f1_and_every_intent(clf: Classifier) -> None:
    report = evaluate(clf, DEV)
    print(f"\ndev: macro-F1 {report.macro_f1:.3f} accuracy {report.accuracy:.3f} "
          f"worst {report.worst_intent()}")
    assert report.macro_f1 >= 0.97
    low = {k: round(v["f1"], 3) for k, v in report.per_intent.items() if v["f1"] < 0.90}
    assert not low
    assert report.category_accuracy is not None and report.category_accuracy >= 0.90


def test_held_out_floor(clf: Classifier, capsys: pytest.CaptureFixture[str]) -> None:
    report = evaluate(clf, HELD_OUT)
    with capsys.disabled():
        print(f"\nheld-out: macro-F1 {report.macro_f1:.3f} accuracy {report.accuracy:.3f} "
              f"worst {report.worst_intent()}")
    assert report.accuracy >= 0.93
    assert report.macro_f1 >= 0.90


def test_long_held_out_floor(clf: Classifier, capsys: pytest.CaptureFixture[str]) -> None:
    report = evaluate(clf, LONG_HELD_OUT)
    with capsys.disabled():
        print(f"\nlong held-out: macro-F1 {report.macro_f1:.3f} accuracy {report.accuracy:.3f} "
              f"worst {report.worst_intent()}")
    assert report.accuracy >= 0.90
    assert report.macro_f1 >= 0.88
