"""Hostile and heavy messages (issue 8): long runs of digits, spaces and repeated units are
understood in bounded time, absurd numbers are no slots, and any str gives an Understanding.

Before the fix 5,000 digits took 5.8 s to classify and 20,000 took 75 s: the number patterns
(``\\d+`` searched from every position of a run) were quadratic.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intents import classify as classify_module
from intents import slots as slots_module
from intents.classify import INTENTS, Classifier, Understanding
from intents.phrases import PhraseIndex
from intents.slots import (
    MAX_TEXT_CHARS,
    MAX_WHEN_CHARS,
    cn_to_int,
    extract_address,
    extract_child,
    extract_child_name,
    extract_days,
    extract_phone,
    extract_program,
    extract_quantity,
    extract_rating,
    extract_ticket_no,
    extract_tool,
    extract_when,
)
from storage import numbers

SUNDAY = date(2026, 11, 22)
N = 100_000
MESSAGE_BOUND_S = 0.050
"""The issue's bound: each message handled in under 50 ms (median of 3 runs)."""
PATTERN_BOUND_S = 0.5
"""One linear pass of one pattern over 100,000 characters takes a few ms; a quadratic one
takes minutes (5,000 digits took seconds), so this generous bound still tells them apart."""


def _fill(piece: str, n: int = N) -> str:
    return (piece * (n // len(piece) + 1))[:n]


HOSTILE = {
    "digits": _fill("9"),
    "digits_then_unit": _fill("9", N - 2) + "号楼",
    "digits_then_letter": _fill("1", N - 1) + "x",
    "spaces": _fill(" "),
    "space_runs": "5" + _fill(" ", N - 2) + "x",
    "unit_then_spaces": "单元" + _fill(" ", N - 3) + "x",
    "give_then_spaces": "给" + _fill(" ", N - 2) + "x",
    "newlines": _fill("\n"),
    "tabs_and_nbsp": _fill("\t\u00a0\u3000"),
    "buildings": _fill("1号楼"),
    "units": _fill("单元"),
    "digit_units": _fill("1单元"),
    "dashes": _fill("-"),
    "twelve_dash": _fill("12-"),
    "digit_dash": _fill("1-1"),
    "chinese_numerals": _fill("一二三四五六七八九十百"),
    "chinese_numeral_units": _fill("十号"),
    "mixed_numerals": _fill("五号楼3单元二"),
    "numeral_spaces": _fill("一 "),
    "digit_spaces": _fill("1 "),
    "emoji": _fill("😀"),
    "stickers": _fill("[捂脸"),
    "brackets": _fill("["),
    "clock": _fill("3点"),
    "day_numbers": _fill("1号"),
    "months": _fill("1月"),
    "weeks": _fill("周"),
    "tickets": _fill("gd1"),
    "phone_prefixes": _fill("13"),
    "rooms": _fill("1室"),
    "counts": _fill("1个"),
    "days": _fill("1天"),
    "ages": _fill("1岁"),
    "names": _fill("叫王"),
    "stars": _fill("1分"),
    "full_stops": _fill("。") + "x",
    "commas_then_text": _fill("，", N - 1) + "好",
    "particles": _fill("啊") + "x",
    "full_width": _fill("５号楼３单元"),
    "traditional": _fill("樓道燈壞了"),
    "complaint": _fill("楼道灯坏了，物业也不管"),
}


def _median_s(call: Callable[[], Any]) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@pytest.fixture(scope="module")
def extractors(clf: Classifier) -> dict[str, Callable[[str], Any]]:
    tools, programs = PhraseIndex(clf.lexicon.tools), PhraseIndex(clf.lexicon.programs)
    ratings = PhraseIndex(clf.lexicon.ratings)
    return {
        "address": extract_address, "phone": extract_phone, "ticket_no": extract_ticket_no,
        "when": lambda t: extract_when(t, SUNDAY), "quantity": extract_quantity,
        "days": extract_days, "child": extract_child, "child_name": extract_child_name,
        "tool": lambda t: extract_tool(t, tools),
        "program": lambda t: extract_program(t, programs),
        "rating": lambda t: extract_rating(t, ratings),
    }


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_huge_message_is_classified_in_under_50_ms(clf: Classifier, case: str) -> None:
    text = HOSTILE[case]
    clf.classify(text, SUNDAY)  # warm jieba's window cache as a busy process has it
    assert _median_s(lambda: clf.classify(text, SUNDAY)) < MESSAGE_BOUND_S
    assert len(clf.classify(text, SUNDAY).normalized) <= clf.max_chars


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_each_extractor_takes_a_huge_message_in_under_50_ms(
        extractors: dict[str, Callable[[str], Any]], case: str) -> None:
    text = HOSTILE[case]
    slow = {name: round(t * 1000, 1) for name, extract in extractors.items()
            if (t := _median_s(lambda extract=extract: extract(text))) >= MESSAGE_BOUND_S}
    assert slow == {}, f"ms per call on {case!r}: {slow}"


def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    found = [(f"{module.__name__}.{name}", value)
             for module in (slots_module, classify_module)
             for name, value in vars(module).items() if isinstance(value, re.Pattern)]
    found += [(f"storage.numbers.{fmt.prefix}", fmt.pattern)  # ticket, loan, care numbers
              for fmt in (numbers.tickets(), numbers.LOANS, numbers.ENROLLMENTS)]
    assert len(found) >= 20  # the patterns are module-level names; keep them so
    return found


@pytest.mark.parametrize(("name", "pattern"), _patterns(), ids=[n for n, _ in _patterns()])
def test_every_pattern_is_linear_on_100k_characters(name: str, pattern: re.Pattern[str]) -> None:
    """No cap here: each pattern scans the whole hostile text (finditer to the end), first
    on a tenth of it so that a quadratic pattern fails in seconds, not hours."""
    for size in (N // 10, N):
        slow = {}
        for case, text in HOSTILE.items():
            text = text[:size]
            started = time.perf_counter()
            for _ in pattern.finditer(text):
                pass
            if (elapsed := time.perf_counter() - started) >= PATTERN_BOUND_S:
                slow[case] = round(elapsed, 2)
        assert slow == {}, f"{name} on {size} characters, seconds: {slow}"


# ---------------------------------------------------------------- absurd numbers
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9" * 30 + "号楼", {}),
        ("9" * 5000 + "号楼", {}),
        ("99999号楼", {}),
        ("10000号楼3单元", {"unit": 3}),
        ("9999号楼", {"building": "9999"}),
        ("0号楼2单元", {"unit": 2}),
        ("5号楼100单元", {"building": "5"}),
        ("5号楼0单元", {"building": "5"}),
        ("0-0-402", {}),
        ("电话139123456785号楼", {}),
        ("12345室", {}),
    ],
)
def test_absurd_numbers_are_no_address(text: str, expected: dict) -> None:
    assert extract_address(text) == expected


def test_absurd_numbers_reach_no_slot_through_the_classifier(clf: Classifier) -> None:
    u = clf.classify("9" * 5000 + "号楼" + "9" * 5000 + "单元" + "9" * 5000 + "室")
    assert not {"building", "unit", "room"} & u.slots.keys()
    u = clf.classify("借" + "9" * 20 + "个梯子用" + "9" * 20 + "天")
    assert "quantity" not in u.slots and "days" not in u.slots


@pytest.mark.parametrize(
    ("extract", "text", "value"),
    [
        (extract_quantity, "借1000个梯子", None),
        (extract_quantity, "借999个梯子", 999),
        (extract_quantity, "借0个梯子", None),
        (extract_days, "借400天", None),
        (extract_days, "借12个月", 360),
        (extract_days, "借99999999999天", None),
        (lambda t: extract_child(t).get("age"), "孩子150岁", None),
        (lambda t: extract_child(t).get("age"), "孩子" + "9" * 5000 + "岁", None),
        (lambda t: extract_when(t, SUNDAY).get("date"), "99月99号来", None),
        (lambda t: extract_when(t, SUNDAY).get("date"), "12月31号来", "2026-12-31"),
        (cn_to_int, "9" * 5000, None),
        (cn_to_int, "١٢", None),
    ],
)
def test_absurd_numbers_are_rejected_cleanly(extract: Callable[[str], Any], text: str,
                                             value: Any) -> None:
    assert extract(text) == value


def test_extractors_read_only_the_first_max_text_chars() -> None:
    assert extract_address(" " * (MAX_TEXT_CHARS - 4) + "5号楼") == {"building": "5"}
    assert extract_address(" " * MAX_TEXT_CHARS + "5号楼") == {}


# ---------------------------------------------------------------- properties
_PIECES = ["0", "1", "5", "9", "12", "402", "9999", "10000", "一", "二", "十", "百", "两",
           "号楼", "栋", "单元", "门洞", "室", "楼", "号", "-", "/", " ", "\n", "点", "半", "分",
           "月", "日", "天", "周", "个月", "个", "把", "岁", "年级", "初", "叫", "王小明", "gd",
           "20261122", "-0001", "138", "1234", "024", "明天", "下午", "星期", "满意", "星",
           "梯子", "四点半", "借", "修", "漏水", "不是", "😀", "[捂脸]", "５", "樓", "㍻", "﷽",
           "，", "。", "!", "啊"]
_MESSAGES = st.one_of(st.text(), st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))
_RANGES = {"unit": (1, 99), "quantity": (1, 999), "days": (1, 366),
           "grade": (1, 9), "age": (1, 99), "rating": (1, 5)}
_FORMS = {"room": r"[0-9]{3,4}", "phone": r"1[3-9][0-9]{9}|0[0-9]{2,3}-[0-9]{7,8}|[0-9]{8}",
          "ticket_no": r"GD[0-9]{8}-[0-9]{4}", "child_name": r"[\u4e00-\u9fff]{2,4}",
          "building": r"[1-9][0-9]{0,3}[A-Z]?|[A-Z](?:[1-9][0-9]{0,2})?", "estate": r"\w{2,12}"}


def _check_slots(slots: dict[str, Any], clf: Classifier) -> None:
    """The types and ranges documented in intents.slots."""
    for key, value in slots.items():
        if key in _RANGES:
            low, high = _RANGES[key]
            assert type(value) is int and low <= value <= high, (key, value)
        elif key in _FORMS:
            assert isinstance(value, str) and re.fullmatch(_FORMS[key], value), (key, value)
        elif key == "buildings":
            assert len(value) > 1 and all(re.fullmatch(_FORMS["building"], b) for b in value)
        elif key == "when":
            assert isinstance(value, str) and 0 < len(value) <= MAX_WHEN_CHARS, value
        elif key == "date":
            assert date.fromisoformat(value).isoformat() == value
        elif key == "tool":
            assert value in clf.lexicon.tools.values()
        elif key == "program":
            assert value in clf.lexicon.programs.values()
        else:
            pytest.fail(f"undocumented slot {key}={value!r}")


@settings(max_examples=300, deadline=None)
@given(text=_MESSAGES)
def test_any_message_gives_an_understanding(clf: Classifier, text: str) -> None:
    u = clf.classify(text, SUNDAY)
    assert isinstance(u, Understanding)
    assert u.intent in INTENTS and 0.0 <= u.confidence <= 1.0
    assert len(u.normalized) <= clf.max_chars
    _check_slots(u.slots, clf)


@settings(max_examples=300, deadline=None)
@given(text=_MESSAGES)
def test_extractors_never_raise_and_keep_their_ranges(clf: Classifier, text: str) -> None:
    found: dict[str, Any] = {**extract_address(text), **extract_when(text, SUNDAY),
                             **extract_child(text)}
    for key, value in (("phone", extract_phone(text)), ("ticket_no", extract_ticket_no(text)),
                       ("quantity", extract_quantity(text)), ("days", extract_days(text)),
                       ("rating", extract_rating(text, clf.lexicon.ratings))):
        if value is not None:
            found[key] = value
    _check_slots(found, clf)
