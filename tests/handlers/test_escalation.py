"""督办: a ticket nobody accepts is warned, then escalated up the ladder on working minutes."""

from __future__ import annotations

from sqlmodel import Session

from storage.models import Resident, TicketTimer
from storage.sla import Due
from storage.times import as_utc

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
    # one timer row per ticket: it now points at the resolution clock's first step
    assert next_step(world, t).step.startswith("resolve:")


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


def test_a_timer_step_fires_once_and_a_stale_job_not_at_all(world: World):
    from services.escalation import fire

    t = world.report("oR1")
    warn = next_step(world, t)  # a job carries the token of the step it was queued for
    assert warn.step == "response:warn"
    assert fire(world.engine, t.id, world.clock, warn.token) == []  # not due yet
    world.go("2026-11-23 09:48")
    assert fire(world.engine, t.id, world.clock, warn.token) == ["response:warn"]
    assert fire(world.engine, t.id, world.clock, warn.token) == []  # the row moved on
    l1 = next_step(world, t)
    assert l1.step == "response:L1" and l1.token != warn.token
    world.say("oW1", f"接单 {t.number}")
    world.go("2026-11-23 10:00")
    assert fire(world.engine, t.id, world.clock, l1.token) == []  # re-planned on 接单
    assert fire(world.engine, t.id, world.clock) == []  # and nothing else is due
    assert next_step(world, t).step == "resolve:warn"
    assert fire(world.engine, 10**9, world.clock) == []  # no such ticket


def test_a_change_that_keeps_the_next_step_keeps_its_token(world: World):
    t = world.report("oR1")
    world.go("2026-11-23 09:48")
    assert world.sweep() == ["response:warn"]
    before = next_step(world, t)
    world.go("2026-11-23 09:50")
    assert before.step == "response:L1"
    assert world.say("oW1", f"转派 {t.number} G02 不属本网格").startswith("已转派")
    # the hand-over re-plans (one upsert, no read): the warning, first of the desired
    # steps, fired in this cycle, so the row stays at L1 with the same token (its job holds)
    assert next_step(world, t) == before


def next_step(w: World, ticket) -> Due:
    """The ticket's timer row as the step its job is queued for."""
    with Session(w.engine) as s:
        row = s.get(TicketTimer, ticket.id)
        return Due(row.cycle, row.step, as_utc(row.due_at))


def test_level_3_goes_to_the_categorys_department_when_the_policy_names_none(world: World):
    world.say("oR1", "你好")  # the resident exists; then they are marked vulnerable (红)
    with Session(world.engine) as s:
        s.get(Resident, world.resident("oR1").id).vulnerability = "红"
        s.commit()
    t = world.report("oR1")  # Monday 09:00, 楼道灯 (物业公司 in categories.toml)
    assert t.sla_policy == "重点人群"  # a policy with no department of its own
    world.pushes()
    world.go("2026-11-23 17:30")  # 30 min target + 180 working minutes (office hours) → level 3
    world.sweep()
    assert "oD1" in {o for o, _ in world.pushes()}
    assert "3级督办至物业公司：孙工" in "".join(supervision(world, t.number))
