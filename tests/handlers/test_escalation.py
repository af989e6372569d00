"""督办: a ticket nobody accepts is warned, then escalated up the ladder on working minutes."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import TicketTimer, TimerState

from .test_sla_world import World, wall, world_fixture  # noqa: F401


def supervision(w: World, number: str) -> list[str]:
    return [e.note for e in w.events(number, "supervise")]


def test_unaccepted_ticket_warns_then_climbs_the_ladder_in_working_hours(world: World):
    world.go("2026-11-27 17:00")  # Friday, 30 working minutes left today
    t = world.report("oR1")
    assert (wall(t.response_due_at), t.sla_policy) == ("2026-11-30 09:00", "物业报修")
    world.pushes()

    for quiet in ("2026-11-27 17:29", "2026-11-28 12:00", "2026-11-30 08:47"):
        world.go(quiet)
        assert world.sweep() == [], quiet

    world.go("2026-11-30 08:48")  # 80 % of 60 working minutes
    assert len(world.sweep()) == 1
    assert [o for o, _ in world.pushes()] == ["oW1"]
    assert supervision(world, t.number) == ["首次响应预警（11-30 09:00到期），已提醒王芳"]

    world.go("2026-11-30 09:00")  # breach → 网格长
    assert len(world.sweep()) == 1
    (who, text), = world.pushes()
    assert who == "oL1" and "1级督办" in text and "王芳" in text

    world.go("2026-11-30 09:59")
    assert world.sweep() == []
    world.go("2026-11-30 10:00")  # +60 → 社区, and the first reminder to the assignee
    assert len(world.sweep()) == 2
    assert sorted(o for o, _ in world.pushes()) == ["oA1", "oW1"]

    world.go("2026-11-30 12:00")  # +180 working minutes → the responsible department
    world.sweep()
    pushed = world.pushes()
    assert ("oD1" in {o for o, _ in pushed}) and any("3级督办" in x for _, x in pushed)
    assert world.ticket(t.number).escalation_level == 3
    notes = supervision(world, t.number)
    assert notes[1] == "首次响应超时，1级督办至网格长：李强"
    assert notes[2:4] == ["首次响应超时，2级督办至社区：赵敏", "首次响应超时提醒1/3，已提醒王芳"]
    assert "3级督办至物业公司：孙工" in "".join(notes)

    # bounded: three reminders at most, and the same minute again fires nothing
    assert world.sweep() == []
    world.go("2026-12-04 17:00")
    world.sweep()
    assert sum("超时提醒" in n and "首次响应" in n for n in supervision(world, t.number)) == 3


def test_accepting_stops_the_response_ladder(world: World):
    t = world.report("oR1")  # Monday 09:00, due 10:00
    world.go("2026-11-23 09:30")
    assert world.say("oW1", f"接单 {t.number}").startswith("已接单")
    world.go("2026-11-23 11:00")
    assert world.sweep() == []
    t = world.ticket(t.number)
    assert t.response_met is True and t.first_response_at is not None
    with Session(world.engine) as s:
        steps = {x.step for x in s.exec(select(TicketTimer).where(
            TicketTimer.ticket_id == t.id, TicketTimer.state == TimerState.PENDING))}
    assert steps and all(x.startswith("resolve:") for x in steps)


def test_urgent_ticket_runs_round_the_clock(world: World):
    world.go("2026-11-28 23:00")  # Saturday night
    t = world.report("oR1", "3号楼2单元501，楼道里有很大的煤气味")
    assert t.urgent and t.priority == 0 and t.sla_policy == "紧急险情"
    assert wall(t.response_due_at) == "2026-11-28 23:10"
    world.pushes()
    world.go("2026-11-28 23:08")
    assert len(world.sweep()) == 1 and world.pushes()[0][0] == "oW1"
    world.go("2026-11-28 23:10")
    world.sweep()
    assert world.pushes()[0][0] == "oL1"


def test_a_timer_fires_once_and_a_stale_one_not_at_all(world: World):
    from handlers.escalation import Outcome, fire

    t = world.report("oR1")
    with Session(world.engine) as s:
        warn = s.exec(select(TicketTimer).where(TicketTimer.ticket_id == t.id,
                                                TicketTimer.step == "response:warn")).one()
    assert fire(world.engine, warn.id, world.clock) == Outcome.NOT_DUE
    world.go("2026-11-23 09:48")
    assert fire(world.engine, warn.id, world.clock) == Outcome.FIRED
    assert fire(world.engine, warn.id, world.clock) == Outcome.ALREADY
    world.say("oW1", f"接单 {t.number}")
    with Session(world.engine) as s:
        l1 = s.exec(select(TicketTimer).where(TicketTimer.ticket_id == t.id,
                                              TicketTimer.step == "response:L1")).one()
    world.go("2026-11-23 10:00")
    assert fire(world.engine, l1.id, world.clock) == Outcome.ALREADY  # cancelled on 接单
    assert fire(world.engine, 10**9, world.clock) == Outcome.MISSING
