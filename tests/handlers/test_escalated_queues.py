"""我的任务 of the people a ticket is escalated to: the grid leader from the 督办 ladder's
level 1, community staff from 上报 or level 2; and the status they read says so."""

from __future__ import annotations

from .test_sla_world import World, world_fixture  # noqa: F401


def test_escalated_tickets_appear_in_the_leaders_and_the_communitys_queues(world: World):
    world.go("2026-11-27 17:00")  # Friday
    t = world.report("oR1")
    assert world.say("oL1", "我的任务") == "您当前没有待办工单，辛苦了！"
    assert t.number not in world.say("oA1", "我的任务")
    world.go("2026-11-30 09:00")  # response breached → 1级督办 to the grid leader
    world.sweep()
    assert t.number in world.say("oL1", "我的任务")
    assert t.number not in world.say("oA1", "我的任务")
    world.go("2026-11-30 10:00")  # → 2级督办 to the community
    world.sweep()
    queue = world.say("oA1", "我的任务")
    assert t.number in queue and "（社区已介入）" in queue
    assert world.say("oA1", "接单 1").startswith("已接单")  # and they may act on it by number
