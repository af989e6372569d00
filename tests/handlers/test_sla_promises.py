"""Promised times in replies come from the ticket's stored deadlines on their calendars
(over the webhook; the clock starts on Sunday 2026-11-22 10:00 Shanghai)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from services.messages import msg
from services.promise import when
from storage import sla
from storage.times import SHANGHAI, as_utc, local


def at(text: str) -> datetime:
    """Shanghai wall time "2026-11-24 14:00" as aware UTC."""
    return as_utc(datetime.fromisoformat(text).replace(tzinfo=SHANGHAI))


def wall(dt: datetime) -> str:
    return local(dt).strftime("%Y-%m-%d %H:%M")


def test_sunday_report_promises_the_office_opening_and_24_calendar_hours(chat):
    reply = chat.say("r1", "3号楼2单元501 楼道灯坏了")
    t, = chat.tickets()
    # 60 office minutes from Sunday: Monday 08:30 + 1 h; resolution 24 calendar hours
    assert (wall(t.response_due_at), wall(t.resolve_due_at)) == ("2026-11-23 09:30",
                                                                 "2026-11-23 10:00")
    assert "预计明天上午9:30前联系您，明天上午10:00前处理好。" in reply
    assert "1小时" not in reply


def test_weekday_report_in_office_hours_promises_today(chat, clock):
    clock.now = at("2026-11-24 14:00")  # Tuesday afternoon
    reply = chat.say("r2", "3号楼2单元501 楼道灯坏了")
    t, = chat.tickets()
    assert wall(t.response_due_at) == "2026-11-24 15:00"
    assert "预计今天下午3:00前联系您，明天下午2:00前处理好。" in reply


def test_friday_evening_report_is_not_promised_a_saturday_resolution(chat, clock):
    clock.now = at("2026-11-27 17:20")  # 10 office minutes left on Friday
    reply = chat.say("r3", "3号楼2单元501 楼道灯坏了")
    t, = chat.tickets()
    # 24 calendar hours would be Saturday 17:20, before anyone answers: due with the answer
    assert wall(t.response_due_at) == wall(t.resolve_due_at) == "2026-11-30 09:20"
    assert "预计周一上午9:20前联系您。" in reply and "处理好" not in reply


def test_urgent_report_promises_ten_minutes(chat):
    reply = chat.say("r4", "3号楼2单元501 楼道里一股煤气味 好像燃气泄漏了")
    t, = chat.tickets()
    assert t.urgent and wall(t.response_due_at) == "2026-11-22 10:10"
    assert "预计今天上午10:10前联系您" in reply
    assert "1小时" not in reply


def test_status_query_shows_the_real_deadline_then_the_resolution_then_late(chat, clock):
    chat.say("r5", "3号楼2单元501 楼道灯坏了")
    t, = chat.tickets()
    listing = chat.say("r5", "查询")
    assert "预计明天上午9:30前联系您，明天上午10:00前处理好" in listing
    detail = chat.say("r5", f"查询 {t.number}")
    assert (f"状态：{msg('status.assigned')}，预计明天上午9:30前联系您，明天上午10:00前处理好"
            in detail)

    clock.now = at("2026-11-23 09:00")
    chat.say("worker-g1", f"接单 {t.number}")
    accepted = chat.pushes("r5")[-1]
    assert accepted.event == "ticket_accepted" and "正在处理，预计今天上午10:00前处理好。" in accepted.text
    detail = chat.say("r5", f"查询 {t.number}")
    assert f"状态：{msg('status.accepted')}，预计今天上午10:00前处理好" in detail

    clock.now = at("2026-11-23 10:30")
    late = chat.say("r5", f"查询 {t.number}")
    assert "已超过约定时间（今天上午10:00），社区正在督办" in late


def test_duplicate_offer_promises_the_resolution_of_the_open_ticket(chat):
    chat.say("r6", "3号楼2单元501 楼道灯坏了")
    offer = chat.say("r7", "3号楼1单元101 楼道灯坏了")
    assert "正在办理，预计明天上午10:00前处理好。" in offer
    assert "联系您" not in offer  # the worker calls the reporter, not the neighbour


SPLIT = """
[default]
response_calendar = "24x7"
resolve_calendar = "office"
response_minutes = 60
resolve_minutes = 120

[calendars.office]
weekdays = [1, 2, 3, 4, 5]
hours = [["08:30", "12:00"], ["13:30", "17:30"]]

[escalation]
warn_at = 0.5

[[escalation.steps]]
level = 1
to = "grid_leader"
after_breach_minutes = 60
"""


@pytest.fixture
def split_policy(tmp_path: Path):
    """A policy file (GRIDBOT_SLA_FILE) whose response runs round the clock and whose
    resolution counts office hours: the opposite of the default, so each clock must use
    its own calendar."""
    path = tmp_path / "split-sla.toml"
    path.write_text(SPLIT, encoding="utf-8")
    yield path
    sla.use_file(None)  # later tests in this process read the packaged file again


def test_separate_calendars_time_each_clock_on_its_own(make_chat, clock, split_policy):
    chat = make_chat(sla_file=split_policy)
    reply = chat.say("r8", "3号楼2单元501 楼道灯坏了")
    t, = chat.tickets()
    assert wall(t.response_due_at) == "2026-11-22 11:00"  # 60 minutes round the clock
    assert wall(t.resolve_due_at) == "2026-11-23 10:30"  # 120 office minutes from Monday 08:30
    assert "预计今天上午11:00前联系您，明天上午10:30前处理好。" in reply
    steps = sla.desired_steps(t)
    assert wall(steps["response:warn"]) == "2026-11-22 10:30"  # half of 60 minutes, Sunday
    assert wall(steps["resolve:warn"]) == "2026-11-23 09:30"  # half of 120 office minutes
    assert wall(steps["response:L1"]) == "2026-11-22 12:00"  # an hour later, Sunday
    assert wall(steps["resolve:L1"]) == "2026-11-23 11:30"  # an office hour later

    # waiting for the resident pauses each clock on its own calendar: the Sunday pause
    # costs the office-hours resolution nothing, the Monday one an hour
    clock.now = at("2026-11-22 10:20")
    chat.say("worker-g1", f"询问 {t.number} 您几点在家？")
    clock.now = at("2026-11-22 15:00")
    chat.say("r8", "下午都在")
    assert wall(chat.tickets()[0].resolve_due_at) == "2026-11-23 10:30"
    clock.now = at("2026-11-23 09:00")
    chat.say("worker-g1", f"询问 {t.number} 灯在几楼？")
    clock.now = at("2026-11-23 10:00")
    chat.say("r8", "三楼")
    t, = chat.tickets()
    assert wall(t.resolve_due_at) == "2026-11-23 11:30" and t.paused_s == 3600
    assert "预计今天上午11:30前处理好" in chat.say("r8", "查询")


def test_promise_words_match_promise_when(chat):
    chat.say("r9", "3号楼2单元501 楼道灯坏了")
    t, = chat.tickets()
    reply = chat.say("r9", "查询")
    assert when(t.response_due_at, at("2026-11-22 10:00")) in reply
