"""The plain messages the bot relies on from day one."""

from __future__ import annotations

import pytest

from intents.classify import INTENTS, Classifier


@pytest.mark.parametrize(
    ("text", "intent", "category"),
    [
        ("楼道灯坏了", "repair", "楼道灯"),
        ("楼上天天半夜装修太吵了", "complaint", "噪音"),
        ("想借个梯子", "tool_lending", None),
        ("孩子想报名四点半课堂", "care_signup", None),
        ("我的报修到哪一步了", "status_query", None),
        ("满意", "rating", None),
        ("5", "rating", None),
        ("你好", "greeting", None),
        ("帮助", "help", None),
        ("是", "confirm", None),
        ("好的", "confirm", None),
        ("不用了", "deny", None),
    ],
)
def test_plain_messages(clf: Classifier, text: str, intent: str, category: str | None) -> None:
    u = clf.classify(text)
    assert (u.intent, u.category) == (intent, category)
    assert u.confidence >= clf.threshold
    assert u.intent in INTENTS


def test_address_with_repair(clf: Classifier) -> None:
    u = clf.classify("3号楼2单元501，楼道灯坏了")
    assert (u.intent, u.category) == ("repair", "楼道灯")
    assert u.slots == {"building": "3", "unit": 2, "room": "501"}


def test_rating_slot(clf: Classifier) -> None:
    assert clf.classify("满意").slots["rating"] == 5
    assert clf.classify("5").slots["rating"] == 5


def test_cancel_with_ticket(clf: Classifier) -> None:
    u = clf.classify("撤销 GD20261122-0001")
    assert u.intent == "cancel"
    assert u.slots["ticket_no"] == "GD20261122-0001"


def test_tool_slot(clf: Classifier) -> None:
    assert clf.classify("想借个梯子").slots["tool"] == "梯子"
