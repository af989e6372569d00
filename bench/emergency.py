"""Benchmark of the emergency detector (``intents/emergency.py``): per-kind precision,
recall and F1, macro-F1, missed emergencies and false alarms, on the dev set and the
held-out set separately, with the detector's speed and the machine's load average.

Run: ``python bench/emergency.py [--rounds N]``. Files: ``intents/data/emergency.tsv``
(dev: the rules were tuned on it) and ``intents/data/emergency_heldout.tsv`` (held out:
written before tuning, never tuned on). Lines are ``text<TAB>kind`` (a kind of
``intents/emergency.toml`` or ``none``); ``#`` starts a comment.

Scoring: a message counts as its gold kind when that kind is among the kinds detected
(the reply names every detected kind's numbers), else as the detector's leading kind
(``none`` when nothing is detected). Per-kind P/R/F1 are over the emergency kinds; macro-F1
is their unweighted mean; "missed" counts emergencies scored ``none``; "false alarms"
counts ``none`` messages scored as an emergency. Speed: µs per message for ``detect`` on
normalised text (normalisation excluded), over ``rounds`` passes, on the emergency sets and
on the classifier's everyday messages (``intents/data/dev.tsv``: the common case, where the
literal-anchor prefilter skips most kinds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from intents.emergency import Detector, load_detector  # noqa: E402
from intents.lexicon import DEFAULT_LEXICON, load_lexicon  # noqa: E402
from intents.normalize import Normalizer  # noqa: E402

DATA = ROOT / "intents" / "data"
FILES = (("dev", DATA / "emergency.tsv"), ("held-out", DATA / "emergency_heldout.tsv"))
ORDINARY = DATA / "dev.tsv"
"""The classifier's dev set: mostly everyday messages, for the speed of the common case."""
NONE = "none"


def read(path: Path) -> list[tuple[str, str]]:
    """(text, kind) rows of a labelled file. Raises ValueError on a malformed line."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip():
            raise ValueError(f"{path}:{n}: expected text<TAB>kind")
        rows.append((parts[0], parts[1].strip()))
    return rows


def predict(detector: Detector, normalizer: Normalizer, text: str, gold: str) -> str:
    """The scored label of ``text`` (see the module docstring)."""
    found = detector.detect(normalizer.normalize(text))
    if found is None:
        return NONE
    return gold if gold in found.kinds else found.kind


@dataclass
class Scores:
    """Per-kind (precision, recall, F1, support), macro-F1, and the errors that matter."""

    per_kind: dict[str, tuple[float, float, float, int]]
    macro_f1: float
    missed: list[str]
    false_alarms: list[str]
    wrong_kind: list[str]
    total: int


def score(rows: list[tuple[str, str]], predicted: list[str], kinds: list[str]) -> Scores:
    """Scores of ``predicted`` labels against the gold labels of ``rows``."""
    per_kind = {}
    for kind in kinds:
        tp = sum(1 for (_, g), p in zip(rows, predicted, strict=True) if g == p == kind)
        fp = sum(1 for (_, g), p in zip(rows, predicted, strict=True) if p == kind != g)
        fn = sum(1 for (_, g), p in zip(rows, predicted, strict=True) if g == kind != p)
        support = tp + fn
        if support == 0 and fp == 0:
            continue
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_kind[kind] = (precision, recall, f1, support)
    macro = statistics.fmean(v[2] for v in per_kind.values()) if per_kind else 0.0
    pairs = list(zip(rows, predicted, strict=True))
    return Scores(
        per_kind, macro,
        missed=[t for (t, g), p in pairs if g != NONE and p == NONE],
        false_alarms=[f"{t}  → {p}" for (t, g), p in pairs if g == NONE and p != NONE],
        wrong_kind=[f"{t}  ({g} → {p})" for (t, g), p in pairs if NONE not in (g, p) and g != p],
        total=len(rows),
    )


def _speed_us(detector: Detector, texts: list[str], rounds: int) -> tuple[float, float]:
    """(median µs per message over rounds, p99 µs of single calls in the last round)."""
    medians = []
    singles: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        singles = []
        for text in texts:
            t0 = clock()
            detector.detect(text)
            singles.append((clock() - t0) / 1000)
        medians.append(statistics.fmean(singles))
    singles.sort()
    return statistics.median(medians), singles[int(0.99 * (len(singles) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--show", action="store_true",
                        help="list the dev set's errors (never the held-out set's: not tuned on)")
    args = parser.parse_args()
    print(f"load average before:  {'/'.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"(1/5/15 min, {os.cpu_count()} CPUs)")
    started = time.perf_counter()
    detector = load_detector()
    print(f"load emergency.toml:  {(time.perf_counter() - started) * 1000:.0f} ms")
    normalizer = Normalizer(load_lexicon(DEFAULT_LEXICON).typos)
    kinds = list(detector.kinds)
    all_texts: list[str] = []
    for name, path in FILES:
        rows = read(path)
        predicted = [predict(detector, normalizer, t, g) for t, g in rows]
        s = score(rows, predicted, kinds)
        emergencies = sum(1 for _, g in rows if g != NONE)
        print(f"\n== {name}: {path.relative_to(ROOT)} ({s.total} messages, {emergencies} "
              f"emergencies, {s.total - emergencies} near-misses)")
        print(f"  {'kind':<10} {'P':>6} {'R':>6} {'F1':>6} {'n':>4}")
        for kind, (p, r, f1, n) in s.per_kind.items():
            print(f"  {kind:<10} {p:6.2f} {r:6.2f} {f1:6.2f} {n:4d}")
        print(f"  macro-F1 {s.macro_f1:.3f}   missed emergencies {len(s.missed)}   "
              f"false alarms {len(s.false_alarms)}/{s.total - emergencies}   "
              f"wrong kind {len(s.wrong_kind)}")
        for label, items in (("missed", s.missed), ("false alarm", s.false_alarms),
                             ("wrong kind", s.wrong_kind)):
            for item in items if args.show and name == "dev" else []:
                print(f"    {label}: {item}")
        all_texts += [normalizer.normalize(t) for t, _ in rows]
    ordinary = [normalizer.normalize(line.split("\t")[0]) for line in
                ORDINARY.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    for label, texts in (("emergency sets", all_texts),
                         (f"ordinary ({ORDINARY.name}, {len(ordinary)})", ordinary)):
        mean_us, p99_us = _speed_us(detector, texts, args.rounds)
        print(f"{'' if ordinary is texts else chr(10)}detector speed, {label}: {mean_us:.1f} "
              f"µs/message mean (median of {args.rounds} rounds), p99 {p99_us:.1f} µs, "
              f"{1e6 / mean_us:,.0f} messages/s on one core")
    print(f"load average after:   {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
