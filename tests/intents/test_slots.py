"""Slot extraction in the forms residents write."""

from __future__ import annotations

from datetime import date

import pytest

from intents.classify import Classifier
from intents.slots import cn_to_int, extract_address, extract_phone, extract_when

SUNDAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5号楼3单元402", {"building": 5, "unit": 3, "room": "402"}),
        ("5-3-402", {"building": 5, "unit": 3, "room": "402"}),
        ("5栋3单元402室", {"building": 5, "unit": 3, "room": "402"}),
        ("五号楼", {"building": 5}),
        ("5栋", {"building": 5}),
        ("3号楼2单元501", {"building": 3, "unit": 2, "room": "501"}),
        ("十二号楼一单元", {"building": 12, "unit": 1}),
        ("我住7栋2单元1101", {"building": 7, "unit": 2, "room": "1101"}),
        ("3单元501", {"unit": 3, "room": "501"}),
        ("402室", {"room": "402"}),
        ("５号楼３单元４０２", {"building": 5, "unit": 3, "room": "402"}),
        ("楼道灯坏了", {}),
        ("我家住5楼", {}),  # a floor, not a building
    ],
)
def test_extract_address(text: str, expected: dict) -> None:
    assert extract_address(text) == expected


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
