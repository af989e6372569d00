"""Benchmark of the intent classifier on one core: load time, messages/s, p50/p99 µs.

Run: ``python bench/intents.py [FILE] [--rounds N]`` (default FILE: intents/data/dev.tsv).
"cold" clears jieba's segmentation cache first and classifies each distinct message once
(every message new to the process); "warm" repeats the set ``rounds`` times. The issue's
target is ≥ 20,000 messages/s.

For scale, the same run times ``jieba.lcut`` (jieba's default dictionary and settings, HMM
on, no cache) on the same texts, ``rounds`` times, and prints the classifier's speed as a
ratio to it: > 1 means classifying a message costs less than jieba segmenting it once. The
ratio moves less with machine load than msg/s does; the load average (1/5/15 min,
``os.getloadavg``) is printed before and after, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jieba  # noqa: E402

from intents.classify import Classifier  # noqa: E402
from intents.evaluate import read_examples  # noqa: E402

TARGET_PER_S = 20_000


def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _run(clf: Classifier, texts: list[str]) -> tuple[float, list[float]]:
    """Classify every text once; (messages/s, per-message µs list)."""
    per_msg: list[float] = []
    clock = time.perf_counter_ns
    started = clock()
    for text in texts:
        t0 = clock()
        clf.classify(text)
        per_msg.append((clock() - t0) / 1000)
    elapsed_s = (clock() - started) / 1e9
    return len(texts) / elapsed_s, per_msg


def _lcut_rate(texts: list[str]) -> float:
    """Messages/s of ``jieba.lcut`` over ``texts`` once (the global tokenizer, initialised
    before timing)."""
    started = time.perf_counter_ns()
    for text in texts:
        jieba.lcut(text)
    return len(texts) / ((time.perf_counter_ns() - started) / 1e9)


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    """Print the benchmark; exit status 1 when warm throughput is below the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=str(ROOT / "intents/data/dev.tsv"))
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    _pin_one_core()
    print(f"load average before:     {_load()} (1/5/15 min, {os.cpu_count()} CPUs)")

    started = time.perf_counter()
    clf = Classifier.load()
    load_s = time.perf_counter() - started
    texts = [e.text for e in read_examples(Path(args.file))]
    print(f"messages in set:         {len(texts)} ({args.file})")
    print(f"load (lexicon + jieba):  {load_s * 1000:.0f} ms "
          f"(jieba tokenizer {clf.segmenter.load_time_s * 1000:.0f} ms)")

    clf.segmenter.clear_cache()
    cold_rate, cold = _run(clf, texts)
    print(f"cold  (first sight):     {cold_rate:>9,.0f} msg/s   p50 {_pct(cold, .5):6.1f} µs"
          f"   p99 {_pct(cold, .99):7.1f} µs")

    rates: list[float] = []
    warm: list[float] = []
    for _ in range(args.rounds):
        rate, per_msg = _run(clf, texts)
        rates.append(rate)
        warm.extend(per_msg)
    rate = statistics.median(rates)
    print(f"warm  (median of {args.rounds:>2}):   {rate:>9,.0f} msg/s   p50 "
          f"{_pct(warm, .5):6.1f} µs   p99 {_pct(warm, .99):7.1f} µs")
    jieba.initialize()
    lcut_rates = [_lcut_rate(texts) for _ in range(args.rounds)]
    lcut = statistics.median(lcut_rates)
    print(f"jieba.lcut (median of {args.rounds:>2}): {lcut:>7,.0f} msg/s   (same texts, HMM on)")
    print(f"classifier / jieba.lcut: warm x{rate / lcut:.2f}, cold x{cold_rate / lcut:.2f}")
    print(f"load average after:      {_load()}")
    verdict = "OK" if rate >= TARGET_PER_S else "BELOW TARGET"
    print(f"target:                  {TARGET_PER_S:>9,} msg/s   {verdict}")
    return 0 if rate >= TARGET_PER_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
