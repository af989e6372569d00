"""Slot extraction in the forms residents write."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intents.classify import Classifier
from intents.slots import cn_to_int, extract_address, extract_phone, extract_when

SUNDAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # building suffixes: 号楼 栋 幢 座 # #楼 号栋; digits, Chinese numerals, letters
        ("5号楼3单元402", {"building": "5", "unit": 3, "room": "402"}),
        ("5栋3单元402室", {"building": "5", "unit": 3, "room": "402"}),
        ("五号楼", {"building": "5"}),
        ("5栋", {"building": "5"}),
        ("8幢1单元302", {"building": "8", "unit": 1, "room": "302"}),
        ("3#楼402", {"building": "3", "room": "402"}),
        ("6#2单元101", {"building": "6", "unit": 2, "room": "101"}),
        ("一号栋", {"building": "1"}),
        ("十二号楼一单元", {"building": "12", "unit": 1}),
        ("十二号楼三单元六零一", {"building": "12", "unit": 3, "room": "601"}),
        ("二十一栋二单元一二零三", {"building": "21", "unit": 2, "room": "1203"}),
        ("A栋", {"building": "A"}),
        ("a座", {"building": "A"}),  # the classifier lower-cases its text
        ("C5栋", {"building": "C5"}),
        ("B座1203", {"building": "B", "room": "1203"}),
        ("D幢2单元", {"building": "D", "unit": 2}),
        ("12A栋303", {"building": "12A", "room": "303"}),
        ("A座10楼1001", {"building": "A", "room": "1001"}),
        # 号 and 楼 name a building only before a unit or a room
        ("3号2单元", {"building": "3", "unit": 2}),
        ("3号502", {"building": "3", "room": "502"}),
        ("3楼2单元501", {"building": "3", "unit": 2, "room": "501"}),
        ("我家住5楼", {}),  # a floor, not a building
        ("2号线地铁口", {}),
        # unit: 单元 门洞 anywhere, 门 梯 after a building; room: 室 房 号 户, or bare
        ("3栋2门501", {"building": "3", "unit": 2, "room": "501"}),
        ("3号楼2单元501门口堆满了纸箱", {"building": "3", "unit": 2, "room": "501"}),
        ("我家3-2-1702门口", {"building": "3", "unit": 2, "room": "1702"}),
        ("6栋1单元302门锁坏了", {"building": "6", "unit": 1, "room": "302"}),
        ("9号楼1梯1102", {"building": "9", "unit": 1, "room": "1102"}),
        ("3单元501", {"unit": 3, "room": "501"}),
        ("二单元三楼二", {"unit": 2, "room": "302"}),
        ("402室", {"room": "402"}),
        ("六零一室", {"room": "601"}),
        ("3栋502号", {"building": "3", "room": "502"}),
        ("3号楼 2 单元 501 房", {"building": "3", "unit": 2, "room": "501"}),
        ("3号楼的402", {"building": "3", "room": "402"}),
        ("5号楼12层1203", {"building": "5", "room": "1203"}),
        ("我住7栋2单元1101", {"building": "7", "unit": 2, "room": "1101"}),
        ("５号楼３单元４０２", {"building": "5", "unit": 3, "room": "402"}),
        # compact forms
        ("5-3-402", {"building": "5", "unit": 3, "room": "402"}),
        ("3-2-501室", {"building": "3", "unit": 2, "room": "501"}),
        ("A-2-501", {"building": "A", "unit": 2, "room": "501"}),
        ("3栋2-501", {"building": "3", "unit": 2, "room": "501"}),
        ("10号楼1-302漏水", {"building": "10", "unit": 1, "room": "302"}),
        # several buildings: the first, and all of them in order
        ("7-8-9栋", {"building": "7", "buildings": ["7", "8", "9"]}),
        ("7、8号楼之间的路灯", {"building": "7", "buildings": ["7", "8"]}),
        ("7号楼和8号楼之间", {"building": "7", "buildings": ["7", "8"]}),
        ("3到5号楼都停水了", {"building": "3", "buildings": ["3", "4", "5"]}),
        ("1号楼至3号楼", {"building": "1", "buildings": ["1", "2", "3"]}),
        ("A、B座中间", {"building": "A", "buildings": ["A", "B"]}),
        # the estate right before the building
        ("阳光小区3号楼", {"estate": "阳光小区", "building": "3"}),
        ("我住在幸福家园的5栋2单元", {"estate": "幸福家园", "building": "5", "unit": 2}),
        ("和平小区B座1203", {"estate": "和平小区", "building": "B", "room": "1203"}),
        ("锦绣苑12幢", {"estate": "锦绣苑", "building": "12"}),
        ("本小区3号楼", {"building": "3"}),
        ("我们小区3号楼", {"building": "3"}),
        # counts of buildings are no building
        ("两栋楼之间", {}),
        ("一栋楼都停电了", {}),
        ("这三栋楼", {}),
        ("2栋楼下", {"building": "2"}),
        ("五栋楼道灯坏了", {"building": "5"}),
        # years, dates, times, money, ages, durations, phones are never address parts
        ("5号楼2018年搬来的", {"building": "5"}),
        ("2018年买的房", {}),
        ("11月3号那天", {}),
        ("3号那天", {}),
        ("住了18年", {}),
        ("等了3天", {}),
        ("12点来", {}),
        ("50元", {}),
        ("80岁老人住6栋", {"building": "6"}),
        ("3号楼1000元", {"building": "3"}),
        ("电话13812345678", {}),
        ("2026-11-22", {}),
        ("11-22-2026", {}),
        ("楼道灯坏了", {}),
        ("学C#编程", {}),
    ],
)
def test_extract_address(text: str, expected: dict) -> None:
    assert extract_address(text) == expected


_YEAR = st.integers(1950, 2099).map(str)
_MONTH = st.integers(1, 12)
_DAY_OF_MONTH = st.integers(1, 31)
_DATES = st.one_of(
    st.builds(lambda y, m, d, sep: f"{y}{sep}{m:02d}{sep}{d:02d}", _YEAR, _MONTH,
              _DAY_OF_MONTH, st.sampled_from(["-", "/", "."])),
    st.builds(lambda m, d, sep: f"{m}{sep}{d}{sep}2026", _MONTH, _DAY_OF_MONTH,
              st.sampled_from(["-", "/"])),
    st.builds(lambda y, m, d, end: f"{y}年{m}月{d}{end}", _YEAR, _MONTH, _DAY_OF_MONTH,
              st.sampled_from(["日", "号", "号那天", "号楼下"])),
    st.builds(lambda m, d, end: f"{m}月{d}{end}", _MONTH, _DAY_OF_MONTH,
              st.sampled_from(["日", "号", "号楼", "号上午", "号楼下"])),
    st.builds(lambda m, d: f"{_cn(m)}月{_cn(d)}号", _MONTH, _DAY_OF_MONTH),
    st.builds(lambda y: f"{y}年", _YEAR),
    st.builds(lambda d: f"{d}号那天", _DAY_OF_MONTH),
)
_COUNT_WORDS = st.sampled_from(["年", "天", "点", "点半", "元", "块钱", "岁", "个月", "次",
                                "分钟", "楼", "层", "人", "%", "斤", "米"])
_COUNTS = st.one_of(
    st.builds(lambda n, word: f"{n}{word}", st.integers(1, 9999), _COUNT_WORDS),
    st.builds(lambda n, word: f"{_cn(n)}{word}", st.integers(1, 31), _COUNT_WORDS),
    st.builds(lambda n, word: f"{n}{word}", st.sampled_from(["两", "几", "这三", "每"]),
              st.sampled_from(["栋楼", "座楼", "栋"])))
_PHONES = st.one_of(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
                    st.from_regex(r"0[1-9][0-9]{1,2}-[2-8][0-9]{6,7}", fullmatch=True))
_WORDS = st.sampled_from(["", "我", "住了", "等了", "从", "到", "电话", "今年", "报修", "，", " ",
                          "楼道灯坏了", "漏水", "那天", "之前", "以后"])


def _cn(n: int) -> str:
    digits = "零一二三四五六七八九"
    return (("" if n < 20 else digits[n // 10]) + "十" if n >= 10 else "") + (
        digits[n % 10] if n % 10 else "")


@settings(max_examples=400, deadline=None)
@given(before=_WORDS, thing=st.one_of(_DATES, _COUNTS, _PHONES), after=_WORDS)
def test_dates_years_counts_and_phones_are_no_address(before: str, thing: str,
                                                      after: str) -> None:
    assert extract_address(before + thing + after) == {}


@settings(max_examples=200, deadline=None)
@given(thing=st.one_of(_DATES, _COUNTS, _PHONES), word=_WORDS)
def test_a_date_beside_an_address_does_not_change_it(thing: str, word: str) -> None:
    assert extract_address(f"{thing}{word}，6号楼2单元301") == {
        "building": "6", "unit": 2, "room": "301"}
    assert extract_address(f"6号楼2单元301，{word}{thing}") == {
        "building": "6", "unit": 2, "room": "301"}


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("电话13812345678", "13812345678"),
        ("我的手机 138 1234 5678", "13812345678"),
        ("座机024-23456789", "024-23456789"),
        ("5号楼3单元402", None),
    ],
)
def test_extract_phone(text: str, phone: str | None) -> None:
    assert extract_phone(text) == phone


@pytest.mark.parametrize(
    ("text", "when", "iso"),
    [
        ("明天下午能来修吗", "明天下午", "2026-11-23"),
        ("周六借个梯子", "周六", "2026-11-28"),
        ("下周三下午三点", "下周三下午三点", "2026-11-25"),
        ("11月30号来", "11月30号", "2026-11-30"),
        ("今天晚上", "今天晚上", "2026-11-22"),
        ("下午3点来", "下午3点", None),
    ],
)
def test_extract_when(text: str, when: str, iso: str | None) -> None:
    slots = extract_when(text, SUNDAY)
    assert slots["when"] == when
    assert slots.get("date") == iso


def test_date_needs_today(clf: Classifier) -> None:
    assert "date" not in clf.classify("明天下午来修").slots
    assert clf.classify("明天下午来修", today=SUNDAY).slots["date"] == "2026-11-23"


@pytest.mark.parametrize(("token", "value"),
                         [("5", 5), ("十二", 12), ("二十一", 21), ("两", 2), ("一百零五", 105)])
def test_chinese_numerals(token: str, value: int) -> None:
    assert cn_to_int(token) == value


@pytest.mark.parametrize(
    ("text", "slots"),
    [
        ("借两把椅子用三天", {"tool": "折叠椅", "quantity": 2, "days": 3}),
        ("借梯子一周", {"tool": "梯子", "days": 7}),
        ("想借个人字梯", {"tool": "梯子"}),
        ("能借冲击钻吗", {"tool": "电钻"}),
        ("我妈腿摔了 想借个轮椅用一个月", {"tool": "轮椅", "days": 30}),
    ],
)
def test_lending_slots(clf: Classifier, text: str, slots: dict) -> None:
    u = clf.classify(text)
    assert u.intent == "tool_lending"
    assert {k: u.slots.get(k) for k in slots} == slots


def test_past_duration_is_not_a_borrowing_duration(clf: Classifier) -> None:
    assert "days" not in clf.classify("楼道灯坏了两天了").slots


@pytest.mark.parametrize(
    ("text", "slots"),
    [
        ("孩子叫王子涵 三年级 8岁 想报四点半课堂",
         {"child_name": "王子涵", "grade": 3, "age": 8, "program": "四点半课堂"}),
        ("初二的孩子能报假期托管吗", {"grade": 8, "program": "假期托管"}),
        ("暑假托管班还能报吗 孩子十岁", {"age": 10, "program": "假期托管"}),
        ("想报名 孩子叫李想 10岁 四年级", {"child_name": "李想", "age": 10, "grade": 4}),
    ],
)
def test_care_slots(clf: Classifier, text: str, slots: dict) -> None:
    u = clf.classify(text)
    assert u.intent == "care_signup"
    assert {k: u.slots.get(k) for k in slots} == slots


@pytest.mark.parametrize(
    ("text", "rating"),
    [("满意", 5), ("很满意", 5), ("非常满意 谢谢网格员", 5), ("一般", 3), ("不满意", 1),
     ("很不满意", 1), ("5", 5), ("5分", 5), ("给五星", 5), ("还可以吧 给4分", 4), ("3", 3),
     ("１", 1), ("比较满意", 4), ("差评", 1)],
)
def test_ratings(clf: Classifier, text: str, rating: int) -> None:
    u = clf.classify(text)
    assert u.intent == "rating"
    assert u.slots["rating"] == rating


def test_waiting_fifteen_minutes_is_not_a_rating(clf: Classifier) -> None:
    assert "rating" not in clf.classify("等了十五分钟了 电梯还没人来修").slots


@pytest.mark.parametrize(
    ("text", "intent"),
    [("撤销 gd20261122-0001", "cancel"), ("GD20261122-0001", "status_query"),
     ("查一下Gd20261122-0001的进度", "status_query")],
)
def test_ticket_numbers_are_normalised(clf: Classifier, text: str, intent: str) -> None:
    u = clf.classify(text)
    assert u.intent == intent
    assert u.slots["ticket_no"] == "GD20261122-0001"
    assert "room" not in u.slots and "phone" not in u.slots


def test_slots_absent_when_not_found(clf: Classifier) -> None:
    assert clf.classify("你好").slots == {}
