"""Signing a child up for 四点半课堂 / 托管 in chat, over the webhook: the questions, the
confirmation, the waiting list with a timed offer, cancelling, and bad input."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from services import care as care_actions
from services.messages import msg
from storage import care
from storage.care import CareSession, Enrollment
from tests.services_support import schat_fixture, services_fixture  # noqa: F401

P1, P2, P3 = "parent-1", "parent-2", "parent-3"
NO1 = "BM20261122-0001"


def _sign_up(chat, openid: str, name: str, phone: str, grade: str = "三年级") -> str:
    chat.say(openid, "孩子想报名四点半课堂")
    chat.say(openid, name)
    chat.say(openid, grade)
    chat.say(openid, phone)
    chat.say(openid, "无")
    return chat.say(openid, "确认")


def _capacity(chat, name: str, capacity: int) -> None:
    with Session(chat.engine) as s:
        row = s.exec(select(CareSession).where(CareSession.name == name)).one()
        row.capacity = capacity
        s.add(row)
        s.commit()


def _enrollments(chat) -> list[Enrollment]:
    with Session(chat.engine) as s:
        return list(s.exec(select(Enrollment).order_by(Enrollment.id)))


def test_parent_signs_a_child_up_step_by_step(schat):
    first = schat.say(P1, "孩子想报名四点半课堂")
    assert "四点半课堂（常年班）" in first and "16:30–18:00" in first and "剩余30个名额" in first
    assert first.endswith(msg("care.ask_name"))
    assert schat.say(P1, "张小明") == msg("care.ask_grade", name="张小明")
    assert schat.say(P1, "三年级") == msg("care.ask_phone")
    assert schat.say(P1, "138 0000 0001") == msg("care.ask_notes")
    summary = schat.say(P1, "花生过敏，奶奶来接")
    assert "张小明，3年级" in summary and "13800000001" in summary and "花生过敏" in summary
    done = schat.say(P1, "确认")
    assert done.startswith("报名成功！编号" + NO1) and "第一次课：11月23日（周一）" in done
    assert schat.retry_last() == done
    assert len(_enrollments(schat)) == 1
    mine = schat.say(P1, "我的报名")
    assert NO1 in mine and "已报名" in mine


def test_details_in_the_first_message_are_not_asked_again(schat):
    reply = schat.say(P1, "孩子叫李雷，二年级，想报四点半课堂，电话13900000002")
    assert reply.endswith(msg("care.ask_notes"))
    assert "李雷，2年级" in schat.say(P1, "没有")
    assert "报名成功" in schat.say(P1, "好的")


def test_one_child_cannot_take_a_place_twice(schat):
    _sign_up(schat, P1, "张小明", "13800000001")
    again = _sign_up(schat, P1, "张小明", "13800000001")
    assert again == msg("care.duplicate", name="张小明", session="四点半课堂（常年班）", no=NO1,
                        status="已报名")
    assert len(_enrollments(schat)) == 1


def test_grade_and_age_outside_the_range_are_refused_clearly(schat):
    schat.say(P1, "孩子想报名四点半课堂")
    schat.say(P1, "韩梅梅")
    assert schat.say(P1, "初二") == msg("care.not_eligible_grade", programme="四点半课堂",
                                       min=1, max=6, name="韩梅梅", grade="初二")
    schat.say(P2, "孩子想报名四点半课堂")
    schat.say(P2, "小宝")
    assert schat.say(P2, "4岁") == msg("care.not_eligible_age", programme="四点半课堂",
                                      low=6, high=13, name="小宝", age=4)
    assert _enrollments(schat) == []


def test_full_class_queues_and_a_cancelled_place_is_offered_to_the_next(schat):
    _capacity(schat, "常年班", 1)
    assert "报名成功" in _sign_up(schat, P1, "王一一", "13800000001")
    queued = _sign_up(schat, P2, "李二二", "13800000002")
    assert "候补第1位" in queued and "BM20261122-0002" in queued
    assert "候补第2位" in _sign_up(schat, P3, "赵三三", "13800000003")
    assert "候补第1位" in schat.say(P2, "我的报名")

    assert schat.say(P1, "取消报名") == msg(
        "care.cancel_done", name="王一一", session="四点半课堂（常年班）", no=NO1)
    (offer,) = schat.pushes(P2)
    assert offer.event == "care.push_offer" and "11-22 22:00" in offer.text  # 12 h to confirm
    assert schat.pushes(P3) == []
    accepted = schat.say(P2, "确认报名")
    assert accepted.startswith("已确认！李二二报上了四点半课堂")
    assert [e.status for e in _enrollments(schat)] == ["cancelled", "enrolled", "waiting"]


def test_declining_an_offer_passes_it_on(schat):
    _capacity(schat, "常年班", 1)
    _sign_up(schat, P1, "王一一", "13800000001")
    _sign_up(schat, P2, "李二二", "13800000002")
    _sign_up(schat, P3, "赵三三", "13800000003")
    schat.say(P1, "取消报名")
    assert "已放弃李二二" in schat.say(P2, "放弃名额")
    assert schat.pushes(P3)[0].event == "care.push_offer"
    assert schat.say(P2, "确认报名") == msg("care.accept_none")


def test_choosing_among_open_classes_and_the_window(schat, clock):
    options = schat.say(P1, "想给孩子报个托管班")
    assert "1. 四点半课堂（常年班）" in options and "2. 寒假托管（2027寒假班）" in options
    reply = schat.say(P1, "2")
    assert reply == msg("care.ask_name")
    schat.say(P1, "取消")
    with Session(schat.engine) as s:
        row = s.exec(select(CareSession).where(CareSession.name == "2027寒假班")).one()
        row.signup_opens_at = clock() + timedelta(days=2)
        s.add(row)
        s.commit()
    assert "开始报名" in schat.say(P1, "报名寒假托管")
    clock.advance(60 * 86400)  # after 2027-01-10 18:00 the holiday class is closed
    assert schat.say(P1, "报名寒假托管") == msg(
        "care.closed", session="寒假托管（2027寒假班）")


def test_bad_input_gets_a_clear_answer(schat):
    assert schat.say(P1, "取消报名") == msg("care.cancel_none")
    assert schat.say(P1, "我的报名") == msg("care.mine_none")
    _sign_up(schat, P1, "张小明", "13800000001")
    assert schat.say(P2, f"取消报名 {NO1}") == msg("care.not_yours", no=NO1)
    assert schat.say(P2, "取消报名 BM20261122-0099") == msg("care.not_found", no="BM20261122-0099")
    schat.say(P2, "孩子想报名四点半课堂")
    assert schat.say(P2, "不知道") == msg("care.bad_name")
    schat.say(P2, "王小二")
    assert schat.say(P2, "不清楚") == msg("care.bad_grade")
    schat.say(P2, "一年级")
    assert schat.say(P2, "123") == msg("care.bad_phone")
    assert [e.child_name for e in _enrollments(schat)] == ["张小明"]
    with Session(schat.engine) as s:
        assert care.of_resident(s, _enrollments(schat)[0].resident_id)[0].status == "enrolled"


def test_a_command_inside_the_sign_up_dialogue_is_obeyed(schat):
    _sign_up(schat, P1, "张小明", "13800000001")
    assert "1. 四点半课堂" in schat.say(P1, "我还想报名")
    assert schat.say(P1, "我的报名").startswith(msg("care.mine_header"))
    assert schat.say(P1, "取消报名").startswith("已取消张小明")


def test_offer_is_taken_with_the_project_lexicon_as_it_is(chat, services):
    """「保留名额」 (the words of the offer push) work with the unchanged lexicon too."""
    _capacity(chat, "常年班", 1)
    _sign_up(chat, P1, "王一一", "13800000001")
    _sign_up(chat, P2, "李二二", "13800000002")
    with Session(chat.engine) as s:
        first = s.exec(select(Enrollment).order_by(Enrollment.id)).first()
        care_actions.cancel(s, first, None, first.created_at)
        s.commit()
    assert "有名额待确认" in chat.say(P2, "我的报名")
    assert chat.say(P2, "保留名额").startswith("已确认！李二二")
