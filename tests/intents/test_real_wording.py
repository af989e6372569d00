"""Issue 10, item 8 and the classifier side of item 7: long real-world messages, polite
wrappers, who caused a problem, outage wording, follow-ups (催办), matters the community does
not own (referral), chit-chat and thanks. Sentences here are in none of the data files."""

from __future__ import annotations

import pytest

from intents.classify import Classifier


@pytest.mark.parametrize(("text", "intent", "category"), [
    ("您好，打扰了。我家厨房的水管接口一直在滴水，地上都湿了，麻烦派个师傅来看看，谢谢！",
     "repair", "漏水"),
    ("你好，麻烦你们管一管，后面那栋楼有人天天夜里打麻将，哗啦哗啦吵得人睡不着，谢谢了。",
     "complaint", "噪音"),
    ("您好！想问一下社区能借梯子吗？家里换灯泡够不着，用完马上还，非常感谢。",
     "tool_lending", None),
    ("谢谢你们上回帮忙，这次又得麻烦一下了：我们单元的楼道灯又不亮了。", "repair", "楼道灯"),
    ("你好，在吗？我想问下我家孩子四年级，还能报寒假托管吗？谢谢", "care_signup", None),
])
def test_polite_openings_and_closings_do_not_decide(clf: Classifier, text: str, intent: str,
                                                    category: str | None) -> None:
    u = clf.classify(text)
    assert (u.intent, u.category) == (intent, category), u.evidence


@pytest.mark.parametrize("text", ["谢谢啦！", "太感谢你们了", "辛苦了辛苦了", "多谢网格员",
                                  "好的，谢谢", "感谢社区的帮助", "师傅们辛苦了，谢谢"])
def test_thanks_alone_is_thanks(clf: Classifier, text: str) -> None:
    u = clf.classify(text)
    assert u.intent == "thanks", u.evidence


@pytest.mark.parametrize(("text", "intent"), [
    ("不用了，谢谢", "deny"),
    ("很满意，谢谢师傅", "rating"),
    ("您好", "greeting"),
])
def test_thanks_beside_another_answer_keeps_that_answer(clf: Classifier, text: str,
                                                        intent: str) -> None:
    assert clf.classify(text).intent == intent


@pytest.mark.parametrize("text", [
    "物业擅自把我们这栋楼的暖气阀门关了，说是我们欠费，可我们早就交了。",
    "开发商为了逼我们签字，故意把整栋楼的电断了，已经两天了。",
    "物业说我家没交物业费，就把我的电梯卡给注销了，我每天只能爬十楼。",
    "房东跟我们闹矛盾，把楼道的总闸给拉了，屋里什么电器都用不了。",
])
def test_an_actor_cutting_a_supply_on_purpose_is_a_complaint(clf: Classifier, text: str) -> None:
    u = clf.classify(text)
    assert (u.intent, u.category) == ("complaint", "物业服务"), u.evidence


@pytest.mark.parametrize(("text", "category"), [
    ("楼上的水管冻裂了，水顺着墙往下淌，家里都停水了。", "漏水"),
    ("电梯从早上就卡在三楼不动了，按钮也没反应，麻烦来修。", "电梯"),
    ("我们单元今天一直没来电，别的楼都有电。", "供电"),
    ("这两天家里无水可用，水龙头拧开一滴都没有。", "供水"),
    ("暖气停了好几天了，屋里冷得不行，老人都病了。", "暖气"),
    ("家里的燃气灶点不着了，是不是停气了？", "燃气"),
])
def test_outages_and_breakdowns_are_repairs(clf: Classifier, text: str, category: str) -> None:
    u = clf.classify(text)
    assert (u.intent, u.category) == ("repair", category), u.evidence


@pytest.mark.parametrize("text", ["明天小区停水吗？有没有通知", "听说下周要停电检修，几号停？"])
def test_asking_about_a_planned_cut_is_not_a_repair(clf: Classifier, text: str) -> None:
    assert clf.classify(text).intent == "other"


@pytest.mark.parametrize("text", [
    "上周就报修了水龙头漏水，到现在还没有人来，家里一直在滴。",
    "我反映过好几次楼下烧烤油烟的问题，一直没人处理，你们到底管不管？",
    "门禁坏了的单子提交四天了还是没动静，麻烦帮我催一下。",
    "说好昨天来换灯泡的，等了一整天也没见着人。",
    "什么时候来修啊？都等了一个礼拜了。",
    "半个月前就投诉了楼上装修吵，现在还是每天一早就开始砸墙。",
])
def test_follow_ups_on_an_earlier_report_are_urge(clf: Classifier, text: str) -> None:
    u = clf.classify(text)
    assert u.intent == "urge", u.evidence


@pytest.mark.parametrize("text", ["我前天报的下水道修好了吗？", "帮我查一下我的报修进度",
                                  "我的投诉有结果了吗"])
def test_plain_progress_questions_stay_status_query(clf: Classifier, text: str) -> None:
    assert clf.classify(text).intent == "status_query"


def test_a_rating_that_says_still_broken_is_a_rating(clf: Classifier) -> None:
    assert clf.classify("很不满意，到现在还是没修好").intent == "rating"


@pytest.mark.parametrize("text", [
    "你好，我家买的是二手房，过户手续办了三个月了还没办完，请问一般要多久？",
    "请问我爸的退休金今年怎么还没调整？社保那边说等通知，要等到什么时候？",
    "孩子明年上初中，我们家户口刚迁过来，能不能分到附近的学校？",
    "我们楼当年拆迁说好三年回迁，现在都五年了安置房还没建好，该找谁？",
    "请问新出台的育儿补贴在哪里申请？需要什么材料？",
    "去年在培训机构交了一万块学费，机构跑路了，这个钱能退吗？找哪个部门？",
    "您好，想咨询一下公积金贷款额度是怎么算的，要去哪里办？",
])
def test_matters_the_community_does_not_own_are_referral(clf: Classifier, text: str) -> None:
    u = clf.classify(text)
    assert u.intent == "referral", u.evidence


@pytest.mark.parametrize("text", ["你会跳舞吗", "你是机器人还是真人？", "帮我写一篇作文吧",
                                  "讲个笑话呗", "陪我聊会儿天", "你叫什么名字呀"])
def test_chitchat_is_never_a_request(clf: Classifier, text: str) -> None:
    assert clf.classify(text).intent == "chitchat"


def test_noise_about_singing_is_still_a_complaint(clf: Classifier) -> None:
    u = clf.classify("楼上每天半夜唱歌，吵得全楼都睡不着")
    assert (u.intent, u.category) == ("complaint", "噪音")


def test_a_policy_question_is_no_ticket(clf: Classifier) -> None:
    u = clf.classify("我们小区想加装电梯，现在有什么政策？")
    assert u.intent in ("referral", "help", "other")
