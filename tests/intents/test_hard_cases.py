"""Every hard case named in issue 3, plus the forms residents really type."""

from __future__ import annotations

import pytest

from intents.classify import Classifier


def test_dog_barking_and_property_ignoring_it_is_a_pet_complaint(clf: Classifier) -> None:
    u = clf.classify("楼上那家狗天天叫，物业也不管")
    assert (u.intent, u.category) == ("complaint", "宠物扰民")


def test_blocked_drain_with_address_is_a_repair_with_slots(clf: Classifier) -> None:
    u = clf.classify("家里厨房下水道又堵了能来人看看吗 5号楼3单元402")
    assert (u.intent, u.category) == ("repair", "下水道堵塞")
    assert u.slots["building"] == "5" and u.slots["unit"] == 3 and u.slots["room"] == "402"


def test_wheelchair_for_two_days(clf: Classifier) -> None:
    u = clf.classify("有没有轮椅可以借两天")
    assert u.intent == "tool_lending"
    assert u.slots["tool"] == "轮椅" and u.slots["days"] == 2


def test_daughter_in_second_grade_asks_for_after_school_class(clf: Classifier) -> None:
    u = clf.classify("我家丫头二年级，四点半课堂还能报吗")
    assert u.intent == "care_signup"
    assert u.slots["grade"] == 2 and u.slots["program"] == "四点半课堂"
    assert "when" not in u.slots  # 四点半 here names the programme, not a time


def test_asking_whether_last_weeks_light_was_fixed_is_a_status_query(clf: Classifier) -> None:
    assert clf.classify("上周说的那个灯修好没").intent == "status_query"


@pytest.mark.parametrize("text", ["不是投诉，就是问问", "不是要投诉 我就问问"])
def test_negated_complaint_is_not_a_complaint(clf: Classifier, text: str) -> None:
    u = clf.classify(text)
    assert u.intent == "other"
    assert "!投诉" in u.evidence


@pytest.mark.parametrize("text", ["电梯没坏 就是有点响", "暖气不是不热"])
def test_negation_drops_the_negated_word(clf: Classifier, text: str) -> None:
    assert any(e.startswith("!") for e in clf.classify(text).evidence)


@pytest.mark.parametrize("text", ["有没有轮椅可以借", "能不能借个梯子"])
def test_a_not_a_questions_do_not_negate(clf: Classifier, text: str) -> None:
    u = clf.classify(text)
    assert u.intent == "tool_lending"
    assert not any(e.startswith("!") for e in u.evidence)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("楼道灯坏了好几天了物业也不管", "楼道灯"),
        ("单元门坏了好几天了也没人修 物业也不管", "门窗"),
        ("物业太不负责了，暖气到现在还不热", "暖气"),
    ],
)
def test_repair_with_a_complaint_about_the_property_company_is_the_repair(
    clf: Classifier, text: str, category: str
) -> None:
    u = clf.classify(text)
    assert (u.intent, u.category) == ("repair", category)


@pytest.mark.parametrize(
    ("text", "intent", "category"),
    [
        ("樓道燈壞了，請派人來修", "repair", "楼道灯"),  # traditional characters
        ("暖氣不熱，老人在家凍得受不了", "repair", "暖气"),
        ("５号楼３单元４０２暖气不热", "repair", "暖气"),  # full-width digits
        ("楼道灯不亮了😭😭", "repair", "楼道灯"),  # emoji
        ("楼上装修吵死了[发怒][发怒]", "complaint", "噪音"),  # WeChat sticker codes
        ("楼到灯又坏了", "repair", "楼道灯"),  # typos
        ("下水到堵了", "repair", "下水道堵塞"),
        ("电悌坏了", "repair", "电梯"),
        ("我想投素物叶", "complaint", "物业服务"),
        # voice input: no punctuation at all
        ("喂你好我家厨房下水道堵了你们什么时候能派人来修一下我住三号楼", "repair", "下水道堵塞"),
        ("我想问一下那个四点半课堂怎么报名我家孩子上二年级", "care_signup", None),
    ],
)
def test_messy_input(clf: Classifier, text: str, intent: str, category: str | None) -> None:
    u = clf.classify(text)
    assert (u.intent, u.category) == (intent, category)


def test_voice_input_keeps_address(clf: Classifier) -> None:
    u = clf.classify("喂你好我家厨房下水道堵了你们什么时候能派人来修一下我住三号楼")
    assert u.slots["building"] == "3"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("厨房里燃气泄漏了 怎么办", "燃气"),
        ("家里一股煤气味", "燃气"),
        ("楼道着火了！快来人", "火情"),
        ("电梯里有人被困", "电梯"),
        ("我被困在电梯里了 8号楼", "电梯"),
        ("楼道里有人触电了", "供电"),
        ("電梯裡有人被困", "电梯"),
    ],
)
def test_dangers_are_urgent(clf: Classifier, text: str, category: str) -> None:
    u = clf.classify(text)
    assert u.urgent
    assert (u.intent, u.category) == ("repair", category)


@pytest.mark.parametrize(
    "text",
    ["楼道灯坏了", "没有煤气味了", "上次电梯困人的事处理得怎么样了", "楼上装修太吵了"],
)
def test_ordinary_or_negated_messages_are_not_urgent(clf: Classifier, text: str) -> None:
    assert not clf.classify(text).urgent


def test_ambiguous_message_is_below_threshold_with_alternatives(clf: Classifier) -> None:
    u = clf.classify("我要投诉，也要报修")
    assert u.confidence < clf.threshold
    assert {u.intent, u.alternatives[0][0]} == {"complaint", "repair"}


def test_nothing_recognised_is_other_below_threshold(clf: Classifier) -> None:
    u = clf.classify("嗯……那个……")
    assert u.intent in ("other", "confirm")
    assert clf.classify("asdfgh").intent == "other"
    assert clf.classify("asdfgh").confidence < clf.threshold
    assert clf.classify("").intent == "other"


def test_confidence_is_higher_for_clear_messages(clf: Classifier) -> None:
    clear = clf.classify("楼道灯坏了 晚上上楼黑咕隆咚的")
    vague = clf.classify("物业")
    assert 0.0 <= vague.confidence < clear.confidence <= 1.0


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("你好，3号楼楼道灯坏了", "repair"),
        ("好的，那我想借个梯子", "tool_lending"),
        ("谢谢 另外我的报修到哪一步了", "status_query"),
        ("取消报名", "cancel"),
        ("孩子不去了 把四点半课堂的名额取消吧", "cancel"),
        ("我借轮椅的申请批了吗", "status_query"),
        ("GD20261120-0013 怎么样了", "status_query"),
        ("gd20261120-0013", "status_query"),
    ],
)
def test_mixed_dialogue_messages(clf: Classifier, text: str, intent: str) -> None:
    assert clf.classify(text).intent == intent


@pytest.mark.parametrize("text", ["好的好的", "嗯嗯", "对 就是这个", "好的。", "OK"])
def test_confirmations(clf: Classifier, text: str) -> None:
    assert clf.classify(text).intent == "confirm"


@pytest.mark.parametrize("text", ["不用了谢谢", "不对", "不是这个", "先不用了"])
def test_denials(clf: Classifier, text: str) -> None:
    assert clf.classify(text).intent == "deny"
