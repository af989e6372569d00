"""Staff commands in chat: hand-over (转派, 上报), 驳回, 到场, the queue order, duplicates,
and a clear reply to every bad input."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import Building, Resident

from .test_sla_world import World, world_fixture  # noqa: F401


def test_each_bad_input_gets_a_clear_reply(world: World):
    t = world.report("oR1")
    no = t.number
    assert world.say("oW1", "办结") == "请带上工单号，如「办结 GD20261122-0001」。"
    assert world.say("oW1", "接单 0008") == "没有找到工单0008，请核对工单号。"
    assert world.say("oW1", "接单 GD20990101-0001") == "没有找到工单GD20990101-0001，请核对工单号。"
    assert world.say("oW2", f"接单 {no}") == f"工单{no}不在您的网格或不是派给您的，不能操作。"
    assert world.say("oW1", f"转派 {no} G09").startswith("没有找到网格或部门「G09」")
    assert world.say("oW1", f"转派 {no}").startswith("请写上转给哪个网格或部门")
    assert world.say("oW1", f"上报 {no}").startswith("请写上原因")
    assert world.say("oW1", f"驳回 {no}").startswith("请写上驳回原因和去处")
    assert world.say("oW1", f"询问 {no}").startswith("请写上要问居民的问题")
    assert world.say("oW1", f"恢复 {no}") == f"工单{no}当前状态是「已派单，待网格员接单」，不能恢复。"
    world.say("oW1", f"办结 {no} 已修好")
    assert world.say("oW1", f"接单 {no}") == f"工单{no}当前状态是「已办结，待您评价」，不能接单。"
    assert world.say("oW1", f"转派 {no} G02").endswith("不能转派。")
    assert world.say("oW1", f"驳回 {no} 不归社区管").endswith("不能驳回。")


def test_transfer_to_another_grid_hands_over(world: World):
    t = world.report("oR1")
    world.pushes()
    assert world.say("oW1", f"转派 {t.number} 第二网格 实际在6号楼") == \
        f"已转派：{t.number} → 第二网格，当前状态：已派单，待网格员接单。"
    t2 = world.ticket(t.number)
    assert t2.status == "assigned" and t2.assignee_id == t2.first_owner_id != t.assignee_id
    pushed = dict(world.pushes())
    assert "【转派工单】" in pushed["oW2"] and "实际在6号楼" in pushed["oW2"]
    assert "第二网格" in pushed["oR1"]
    assert world.events(t.number)[-1].note == "王芳转派至第二网格，原因：实际在6号楼"
    assert world.say("oW1", f"接单 {t.number}").startswith("工单")  # no longer theirs
    assert world.say("oW2", f"接单 {t.number}").startswith("已接单")
    assert t2.resolve_due_at == t.resolve_due_at  # the resident's promise does not restart


def test_transfer_to_a_department_keeps_the_first_owner_informed(world: World):
    t = world.report("oR1")
    world.say("oW1", f"接单 {t.number}")
    world.pushes()
    assert world.say("oW1", f"转派 {t.number} 物业公司 需更换线路") == \
        f"已转派：{t.number} → 物业公司，当前状态：已转交物业公司，待接单。"  # the new state
    pushed = world.pushes()
    assert any(o == "oD1" and "需更换线路" in x for o, x in pushed)
    assert "您的待办（1件" in world.say("oD1", "我的任务")
    assert world.say("oD1", f"办结 {t.number} 线路已更换").startswith("已办结")
    told = dict(world.pushes())
    assert "线路已更换" in told["oR1"] and "线路已更换" in told["oW1"]  # 首问负责
    assert world.ticket(t.number).first_owner_id is not None


def test_call_in_and_reject(world: World):
    t = world.report("oR1")
    world.pushes()
    assert world.say("oW1", f"上报 {t.number} 涉及整栋楼线路") == \
        f"已上报社区：{t.number}（已通知2人），当前状态：已派单，待网格员接单（社区已介入）。"
    assert t.number in world.say("oA1", "我的任务")  # community staff see what was escalated
    assert {o for o, _ in world.pushes()} == {"oL1", "oA1"}
    assert world.ticket(t.number).escalation_level == 2
    assert world.say("oA1", f"驳回 {t.number} 属于供电公司产权，请拨打95598") == \
        f"已驳回：{t.number}，已告知居民原因和去处。"
    assert "95598" in world.pushes("oR1")[0][1]
    assert world.ticket(t.number).status == "rejected"
    assert world.sweep() == [] and world.events(t.number)[-1].kind == "rejected"


def test_queue_is_ordered_by_priority_then_due_time(world: World):
    slow = world.report("oR1", "3号楼2单元501，楼上天天半夜装修太吵了")
    world.go("2026-11-23 09:05")
    lift = world.report("oR2", "2号楼1单元301，电梯坏了")  # due sooner (30 min / 8 h)
    with Session(world.engine) as s:
        building = s.exec(select(Building).where(Building.number == 4)).one()
        s.add(Resident(openid="oR3", building_id=building.id, unit=1, room="101",
                       vulnerability="红"))  # 独居老人
        s.commit()
    world.go("2026-11-23 09:10")
    elder = world.report("oR3", "暖气不热了")
    assert elder.priority == 1
    reply = world.say("oW1", "我的任务")
    order = [line.split()[1] for line in reply.splitlines()[1:-1]]  # "1. GD… …", footer
    assert order == [elder.number, lift.number, slow.number]
    assert "限" in reply


def test_duplicate_report_is_offered_to_join_the_open_ticket(world: World):
    first = world.report("oR1")
    world.pushes()
    offer = world.say("oR2", "3号楼1单元101 楼道灯坏了")
    assert f"您楼栋已有同类工单{first.number}" in offer
    # the joiner is promised the resolution (24 calendar hours), not a call
    assert world.say("oR2", "1") == f"已加入工单{first.number}，预计明天上午9:00前处理好，有进展会通知您。"
    assert world.latest().number == first.number  # nothing new opened
    world.say("oW1", f"办结 {first.number} 已更换灯泡")
    assert {o for o, _ in world.pushes()} >= {"oR1", "oR2"}
    # declining opens a ticket of one's own
    second = world.report("oR3", "1号楼1单元101 楼道灯坏了")
    assert second.number != first.number  # first is resolved: no longer open
    offer = world.say("oR4", "1号楼2单元202 楼道灯不亮")
    assert f"同类工单{second.number}" in offer
    assert "已为您登记" in world.say("oR4", "2")
    assert world.latest().number not in (first.number, second.number)
