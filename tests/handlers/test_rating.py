"""Rating follow-up: 不满意 reopens and alerts the grid leader; silence closes as 默认满意."""

from __future__ import annotations

from .test_sla_world import World, world_fixture  # noqa: F401


def resolved(world: World) -> str:
    t = world.report("oR1")
    world.say("oW1", f"接单 {t.number}")
    assert world.say("oW1", f"办结 {t.number} 已更换灯泡").startswith("已办结")
    world.pushes()
    return t.number


def test_issue_two_flow_still_closes_on_a_good_rating(world: World):
    no = resolved(world)
    assert world.say("oR1", "5分") == f"感谢您的评价（5分）！工单{no}已结束。"
    t = world.ticket(no)
    assert (t.status, t.rating, t.auto_closed, t.resolve_met) == ("closed", 5, False, True)


def test_unhappy_rating_reopens_and_alerts_the_grid_leader(world: World):
    no = resolved(world)
    world.go("2026-11-23 11:00")
    assert "哪里不满意" in world.say("oR1", "不满意")
    assert world.say("oR1", "灯还是一闪一闪的").startswith(f"很抱歉没让您满意（1分），工单{no}已重新办理")
    t = world.ticket(no)
    assert (t.status, t.reopened_count, t.sla_cycle) == ("reopened", 1, 1)
    assert t.resolve_due_at > t.resolved_at  # a fresh clock from the reopening
    told = {o for o, _ in world.pushes()}
    assert {"oL1", "oW1"} <= told
    assert world.say("oW1", f"接单 {no}").startswith("已接单")
    world.say("oW1", f"办结 {no} 换了整套灯具")
    assert world.say("oR1", "满意").startswith("感谢您的评价（5分）")
    assert world.ticket(no).status == "closed"


def test_no_rating_in_three_days_closes_as_default_satisfied_then_unhappy_reopens(world: World):
    no = resolved(world)
    world.go("2026-11-26 08:59")
    assert world.sweep() == []
    world.go("2026-11-26 09:00")
    assert len(world.sweep()) == 1
    t = world.ticket(no)
    assert (t.status, t.auto_closed, t.rating) == ("closed", True, None)
    assert world.events(no)[-1].note == "超时未评价，默认满意"
    assert "已按「满意」结束" in world.pushes("oR1")[0][1]
    world.go("2026-11-30 10:00")  # within the 7-day reopen window
    assert "已重新办理" in world.say("oR1", "很不满意，还是老样子没变化")  # reason said at once
    assert world.ticket(no).status == "reopened"


def test_reopens_are_bounded(world: World):
    no = resolved(world)
    for _ in range(2):
        world.say("oR1", "不满意")
        world.say("oR1", "还是不行")
        world.say("oW1", f"办结 {no} 再次处理")
    world.say("oR1", "不满意")
    assert world.say("oR1", "还是不行").startswith("很抱歉没让您满意（1分）")
    t = world.ticket(no)
    assert (t.status, t.reopened_count) == ("closed", 2)
    assert any(o == "oA1" and "【不满意】" in x for o, x in world.pushes())


def test_the_reason_goes_on_the_timeline_and_the_worker_push_keeps_no_raw_text(world: World):
    no = resolved(world)
    assert "哪里不满意" in world.say("oR1", "1分")
    assert world.ticket(no).status == "resolved"  # asked, not yet reopened
    world.say("oR1", "灯装歪了，还是一闪一闪")
    reasons = [e.note for e in world.events(no) if e.kind == "unhappy_reason"]
    assert reasons == ["灯装歪了，还是一闪一闪"] and world.ticket(no).status == "reopened"
    other = world.report("oR2", "2号楼1单元301，电梯坏了").number
    world.say("oW1", f"办结 {other} 已修好")
    world.pushes()
    world.say("oR2", "5分，师傅人很好")
    rated = [x for o, x in world.pushes() if o == "oW1" and other in x]
    assert rated == [f"工单{other}居民评价：5分。"]
