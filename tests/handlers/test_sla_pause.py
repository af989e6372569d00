"""waiting_resident: the worker asks, the clock pauses, the resident's answer is relayed and
each due time moves on by the paused time on its own calendar (the default resolution clock
runs round the clock: 24 calendar hours)."""

from __future__ import annotations

from storage.times import as_utc

from .test_sla_world import World, at, wall, world_fixture  # noqa: F401


def test_a_paused_ticket_keeps_its_clock(world: World):
    t = world.report("oR1")  # Monday 2026-11-23 09:00
    assert wall(t.resolve_due_at) == "2026-11-24 09:00"  # 24 calendar hours
    world.go("2026-11-23 09:10")
    world.say("oW1", f"接单 {t.number}")
    world.go("2026-11-23 09:20")
    world.pushes()
    assert "暂停计时" in world.say("oW1", f"询问 {t.number} 您家几点有人在？")
    (who, text), = world.pushes()
    assert who == "oR1" and "您家几点有人在？" in text
    assert world.ticket(t.number).status == "waiting_resident"

    world.go("2026-11-27 09:00")  # past the original due time: nothing fires while paused
    assert world.sweep() == []

    world.go("2026-11-27 10:00")
    assert world.say("oR1", "在家，下午三点以后都可以") == f"您的回复已转给网格员（工单{t.number}），谢谢！"
    (who, text), = world.pushes()
    assert who == "oW1" and "下午三点以后" in text
    t2 = world.ticket(t.number)
    assert t2.status == "in_progress" and t2.paused_at is None
    paused = world.clock() - at("2026-11-23 09:20")
    assert t2.paused_s == paused.total_seconds() == (4 * 24 * 60 + 40) * 60
    assert as_utc(t2.resolve_due_at) == as_utc(t.resolve_due_at) + paused
    assert wall(t2.resolve_due_at) == "2026-11-28 09:40"  # 23 h 40 min were left
    assert [e.kind for e in world.events(t.number)][-3:] == ["waiting_resident", "answer", "in_progress"]

    world.go("2026-11-28 09:39")
    world.sweep()
    assert all("办结时限超时" not in e.note for e in world.events(t.number, "supervise"))
    world.go("2026-11-28 09:40")
    world.sweep()
    assert "办结时限超时，1级督办至网格长：李强" in [e.note for e in world.events(t.number, "supervise")]


def test_the_worker_can_resume_without_an_answer(world: World):
    t = world.report("oR1")
    world.say("oW1", f"询问 {t.number} 请发一张照片")
    assert world.ticket(t.number).response_met is True  # the question is the first response
    world.go("2026-11-23 14:00")
    assert world.say("oW1", f"恢复 {t.number}").startswith(f"工单{t.number}已恢复计时")
    assert world.say("oW1", f"恢复 {t.number}").endswith("不能恢复。")
    # the resident's later message is not taken as an answer any more
    assert "转给网格员" not in world.say("oR1", "在家，下午三点以后都可以")
