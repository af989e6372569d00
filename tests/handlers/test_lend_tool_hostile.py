"""Counts in lending messages (handlers/lend_tool.py) under hostile input (issue 8): linear
patterns; a count of absurdly many digits is a bad count (0, answered with
lending.bad_quantity), not an error (int() refuses 4,300+ digits)."""

from __future__ import annotations

import re
import time

import pytest

from handlers import lend_tool
from handlers.lend_tool import Wanted, parse_wanted

ALIASES = {"梯子": "梯子", "人字梯": "梯子", "电钻": "电钻"}
N = 100_000
PATTERN_BOUND_S = 0.5
"""A linear pass over 100,000 characters takes milliseconds, a quadratic one minutes."""


def _fill(piece: str, n: int = N) -> str:
    return (piece * (n // len(piece) + 1))[:n]


HOSTILE = {
    "digits_then_letter": _fill("1", N - 1) + "x",
    "spaces_then_letter": _fill(" ", N - 1) + "x",
    "numerals_then_letter": _fill("一二三千万", N - 1) + "x",
    "signs": _fill("负-"),
    "counts": _fill("1个"),
    "borrow_measures": "借" + _fill("个", N - 2) + "!",
    "digit_spaces": _fill("1 "),
}


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("借两把梯子和1个电钻", [Wanted("梯子", 2), Wanted("电钻", 1)]),
        ("梯子2个", [Wanted("梯子", 2)]),
        ("-1个梯子", [Wanted("梯子", -1)]),
        ("借" + "9" * 5000 + "个梯子", [Wanted("梯子", 0)]),
        ("借" + "9" * 30 + "梯子", [Wanted("梯子", 0)]),
        ("借99999个梯子", [Wanted("梯子", 99999)]),
        ("梯子" + "9" * 5000 + "个", [Wanted("梯子", 0)]),
    ],
)
def test_counts_and_absurd_counts(text: str, wanted: list[Wanted]) -> None:
    assert parse_wanted(text, ALIASES) == wanted


@pytest.mark.parametrize("name", [n for n, v in vars(lend_tool).items() if isinstance(v, re.Pattern)])
def test_every_pattern_is_linear_on_100k_characters(name: str) -> None:
    pattern = getattr(lend_tool, name)
    slow = {}
    for case, text in HOSTILE.items():
        for size in (N // 10, N):
            started = time.perf_counter()
            for _ in pattern.finditer(text[:size]):
                pass
            if (elapsed := time.perf_counter() - started) >= PATTERN_BOUND_S:
                slow[case] = round(elapsed, 2)
                break
    assert slow == {}, f"{name}, seconds: {slow}"


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_parse_wanted_is_linear(case: str) -> None:
    text = HOSTILE[case] + "梯子" + HOSTILE[case]
    started = time.perf_counter()
    parse_wanted(text, ALIASES)
    assert time.perf_counter() - started < PATTERN_BOUND_S
