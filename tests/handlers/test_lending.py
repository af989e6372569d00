"""Borrowing from the station in chat, over the webhook: a resident reserves, the station's
staff hand out and take back, the queue is served, and bad input gets a clear answer."""

from __future__ import annotations

from sqlmodel import Session, select

from services.messages import msg
from storage.lending import LendItem, LendWait, Loan
from tests.services_support import schat_fixture, services_fixture  # noqa: F401

R1, R2, R3, STAFF = "res-1", "res-2", "res-3", "station-1"
NO1 = "JY20261122-0001"


def _loans(chat) -> list[Loan]:
    with Session(chat.engine) as s:
        return list(s.exec(select(Loan).order_by(Loan.id)))


def _events(chat, openid: str) -> list[str]:
    return [p.event for p in chat.pushes(openid)]


def test_borrow_a_ladder_is_told_each_step_and_returns_it(schat):
    offer = schat.say(R1, "想借个梯子")
    for part in ("梯子×1", "幸福新社区便民服务驿站", "现有2件可借", "借期3天", "每天 8:30–17:30",
                 "确认"):
        assert part in offer
    held = schat.say(R1, "确认")
    assert NO1 in held and "11-23 10:00前" in held
    assert schat.retry_last() == held  # WeChat's retry reserves nothing twice
    assert len(_loans(schat)) == 1
    assert "待领取" in schat.say(R1, "我借的东西")

    out = schat.say(STAFF, f"借出 {NO1}")
    assert out.startswith("已借出") and "11-25 20:00" in out
    assert _events(schat, R1) == ["lending.push_out"]
    assert "在借" in schat.say(R1, "我借的东西")

    back = schat.say(STAFF, f"归还 {NO1} 完好")
    assert back.startswith("已归还") and "完好" in back
    assert _events(schat, R1) == ["lending.push_out", "lending.push_returned"]
    assert schat.say(R1, "我借的东西") == msg("lending.mine_none")
    with Session(schat.engine) as s:
        ladder = s.exec(select(LendItem).where(LendItem.name == "梯子")).one()
        assert ladder.available == 2


def test_several_items_at_once_within_the_cap(schat):
    offer = schat.say(R1, "想借1个扳手和2根拐杖")
    assert "扳手×1" in offer and "拐杖×2" in offer
    reply = schat.say(R1, "好的")
    assert "JY20261122-0001" in reply and "JY20261122-0002" in reply
    assert schat.say(R1, "再借个梯子") == msg("lending.over_cap", open=3, max=3)
    assert len(_loans(schat)) == 2


def test_none_free_joins_the_queue_and_the_next_is_offered_on_return(schat):
    schat.say(R1, "借电钻")
    schat.say(R1, "确认")
    schat.say(STAFF, f"借出 {NO1}")
    assert "都借出了" in schat.say(R2, "我想借电钻用一下")
    assert schat.say(R2, "确认") == msg("lending.waiting", name="电钻", position=1)
    schat.say(R3, "借电钻")
    assert schat.say(R3, "确认") == msg("lending.waiting", name="电钻", position=2)
    assert "排队中（第2位）" in schat.say(R3, "我借的东西")
    # someone waits: no renewal
    assert "排队" in schat.say(R1, "续借")

    back = schat.say(STAFF, f"归还 {NO1}")
    assert "已通知1位排队居民" in back
    (offer,) = schat.pushes(R2)
    assert offer.event == "lending.push_offer" and "JY20261122-0002" in offer.text
    assert schat.pushes(R3) == []
    # R2 does not need it any more: the drill goes to R3
    assert schat.say(R2, "取消预约") == msg("lending.cancel_done", no="JY20261122-0002",
                                           name="电钻")
    (offer3,) = schat.pushes(R3)
    assert offer3.event == "lending.push_offer" and "JY20261122-0003" in offer3.text
    assert "已借出" in schat.say(STAFF, "借出 JY20261122-0003")


def test_renew_once_then_no_more(schat):
    schat.say(R1, "想借个血压计")
    schat.say(R1, "确认")
    schat.say(STAFF, f"借出 {NO1}")
    renewed = schat.say(R1, "续借")
    assert renewed.startswith("已续借") and "12-06 20:00" in renewed  # 7 days + 7 days
    assert "续借过一次" in schat.say(R1, "续借")


def test_leaving_the_queue_and_changing_topic(schat):
    schat.say(R1, "借电钻")
    schat.say(R1, "确认")
    schat.say(R2, "借电钻")
    schat.say(R2, "确认")
    assert schat.say(R2, "退出排队") == msg("lending.wait_cancelled", names="电钻")
    with Session(schat.engine) as s:
        assert s.exec(select(LendWait)).one().status == "cancelled"
    assert "梯子" in schat.say(R3, "想借个梯子")
    assert schat.say(R3, "楼道灯坏了") == msg("ask_address")  # a new topic leaves the dialogue


def test_bad_input_gets_a_clear_answer(schat):
    assert schat.say(R1, "借100个梯子") == msg("lending.bad_quantity", name="梯子", max=1)
    assert schat.say(R1, "借-1个梯子") == msg("lending.bad_quantity", name="梯子", max=1)
    unknown = schat.say(R1, "想借个挖掘机")
    assert "「挖掘机」" in unknown and "梯子：可借2/2" in unknown
    assert "梯子×1" in schat.say(R1, "梯子")  # the answer to 「想借什么？」
    schat.say(R1, "确认")
    # someone else's reservation, or one that does not exist
    assert schat.say(R2, f"取消预约 {NO1}") == msg("lending.not_yours", no=NO1)
    assert schat.say(R2, "取消预约 JY20261122-0999") == msg("lending.not_found",
                                                           no="JY20261122-0999")
    assert schat.say(R2, "取消预约") == msg("lending.cancel_none")
    assert schat.say(R2, "续借") == msg("lending.renew_none")
    assert _loans(schat)[0].status == "held"
    # staff commands: the wrong role, no number, a return before hand-out, damage without a note
    assert schat.say("worker-g1", f"借出 {NO1}") == msg("lending.staff_not_allowed")
    assert schat.say(STAFF, "借出") == msg("lending.staff_need_number", command="借出")
    assert "不能归还" in schat.say(STAFF, f"归还 {NO1}")
    schat.say(STAFF, f"借出 {NO1}")
    assert schat.say(STAFF, f"归还 {NO1} 损坏") == msg("lending.staff_need_damage_note", no=NO1)
    damaged = schat.say(STAFF, f"归还 {NO1} 损坏 梯子腿弯了")
    assert "损坏" in damaged
    assert schat.pushes(R1)[-1].event == "lending.push_returned_damaged"


def test_station_list_shows_overdue_first(schat, clock):
    schat.say(R1, "想借个手推车")
    schat.say(R1, "确认")
    schat.say(STAFF, f"借出 {NO1}")
    schat.say(R2, "想借个梯子")
    schat.say(R2, "确认")
    clock.advance(3 * 86400)  # the cart was due after one day
    listing = schat.say(STAFF, "借用清单").splitlines()
    assert listing[0] == msg("lending.staff_list_header", count=2)
    assert listing[1].startswith(NO1) and listing[1].endswith("（已逾期）")


def test_a_bare_count_changes_the_quantity_and_returning_is_explained(schat):
    assert "拐杖×1" in schat.say(R1, "想借拐杖")
    assert "拐杖×2" in schat.say(R1, "2根")
    assert "拐杖×2" in schat.say(R1, "确认")
    assert schat.say(R2, "还梯子") == msg("lending.return_nothing")
    assert "梯子×1" in schat.say(R2, "还有梯子吗")  # 还有 is "still", not "return"
    schat.say(R2, "确认")
    schat.say(STAFF, "借出 JY20261122-0002")
    assert "送回幸福新社区便民服务驿站" in schat.say(R2, "梯子怎么还")


def test_renewal_and_listing_with_the_project_lexicon_as_it_is(chat, services):
    """「多借几天」 and 「我借的东西」 work with the unchanged lexicon too."""
    chat.say(R1, "想借个血压计")
    chat.say(R1, "确认")
    chat.say(STAFF, f"借出 {NO1}")
    assert "在借" in chat.say(R1, "我借的东西")
    assert chat.say(R1, "血压计能多借几天吗").startswith("已续借")
