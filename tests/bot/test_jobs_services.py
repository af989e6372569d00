"""The worker's lending and care jobs with a controllable clock: due-date reminders (the day
before, on the day, overdue — bounded), hold and offer expiry passing things on, the
first-class reminder, and no reminder sent twice even when two workers run at once."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

from sqlmodel import Session, select

from bot.jobs_services import care_tick, lending_tick, run_care, run_lending
from storage.reminders import SentReminder
from storage.times import SHANGHAI
from tests.services_support import schat_fixture, services_fixture  # noqa: F401

R1, R2, STAFF = "res-1", "res-2", "station-1"


def at(day: int, hour: int, month: int = 11, year: int = 2026) -> datetime:
    """Shanghai wall time as aware UTC."""
    return datetime(year, month, day, hour, tzinfo=SHANGHAI).astimezone(UTC)


def _events(chat, openid: str) -> list[str]:
    return [p.event for p in chat.pushes(openid)]


def _borrow_ladder(chat) -> None:
    chat.say(R1, "想借个梯子")
    chat.say(R1, "确认")
    chat.say(STAFF, "借出 JY20261122-0001")  # Sunday 10:00, 3 days: due Wed 11-25 20:00


def test_due_reminders_day_before_on_the_day_then_overdue_and_stop(schat):
    _borrow_ladder(schat)
    base = ["lending.push_out"]
    assert run_lending(schat.engine, at(24, 8))["reminded"] == 0
    assert run_lending(schat.engine, at(24, 9))["reminded"] == 1
    assert run_lending(schat.engine, at(24, 15))["reminded"] == 0  # once only
    assert _events(schat, R1) == [*base, "lending.push_due_tomorrow"]
    run_lending(schat.engine, at(25, 9))
    assert _events(schat, R1)[-1] == "lending.push_due_today"
    for day in (26, 27, 28, 29, 30):
        run_lending(schat.engine, at(day, 10))
    overdue = [p for p in schat.pushes(R1) if p.event == "lending.push_overdue"]
    assert len(overdue) == 3  # bounded: the 1st, 2nd and 3rd day after the due date
    assert ["逾期1天" in overdue[0].text, "逾期3天" in overdue[2].text] == [True, True]


def test_a_worker_that_was_down_sends_only_the_latest_reminder(schat):
    _borrow_ladder(schat)
    assert run_lending(schat.engine, at(26, 10))["reminded"] == 1
    assert _events(schat, R1) == ["lending.push_out", "lending.push_overdue"]
    with Session(schat.engine) as s:
        skipped = s.exec(select(SentReminder).where(SentReminder.skipped)).all()
        assert sorted(r.key.rsplit(":", 1)[1] for r in skipped) == ["due_today", "due_tomorrow"]


def test_renewal_moves_the_reminders(schat):
    _borrow_ladder(schat)
    run_lending(schat.engine, at(24, 9))
    schat.say(R1, "续借")  # due 11-28 20:00 now
    assert run_lending(schat.engine, at(25, 9))["reminded"] == 0
    assert run_lending(schat.engine, at(27, 9))["reminded"] == 1
    assert _events(schat, R1)[-1] == "lending.push_due_tomorrow"


def test_two_workers_at_once_send_each_reminder_once(schat):
    _borrow_ladder(schat)
    barrier = threading.Barrier(4)
    results: list[int] = []

    def tick() -> None:
        barrier.wait()
        results.append(run_lending(schat.engine, at(24, 9))["reminded"])

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 0, 0, 1]
    assert _events(schat, R1).count("lending.push_due_tomorrow") == 1


def test_uncollected_hold_expires_and_passes_to_the_next_in_the_queue(schat, clock, settings):
    schat.say(R1, "借电钻")
    schat.say(R1, "确认")
    schat.say(R2, "借电钻")
    schat.say(R2, "确认")  # waits
    ctx = {"engine": schat.engine, "clock": clock, "settings": settings}
    assert asyncio.run(lending_tick(ctx)) == {"expired": 0, "reminded": 0}
    clock.advance(24 * 3600)  # the hold lasted 24 h
    assert asyncio.run(lending_tick(ctx))["expired"] == 1
    assert asyncio.run(lending_tick(ctx))["expired"] == 0
    assert _events(schat, R1) == ["lending.push_expired"]
    assert _events(schat, R2) == ["lending.push_offer"]
    assert "已借出" in schat.say(STAFF, "借出 JY20261123-0001")


def _sign_up(chat, openid: str, name: str, phone: str, programme: str = "四点半课堂") -> str:
    chat.say(openid, f"孩子想报名{programme}")
    chat.say(openid, name)
    chat.say(openid, "三年级")
    chat.say(openid, phone)
    chat.say(openid, "无")
    return chat.say(openid, "确认")


def test_unconfirmed_offer_expires_after_12_hours_and_goes_to_the_next(schat, clock, settings):
    from storage.care import CareSession

    with Session(schat.engine) as s:
        row = s.exec(select(CareSession).where(CareSession.name == "常年班")).one()
        row.capacity = 1
        s.add(row)
        s.commit()
    _sign_up(schat, "p1", "王一一", "13800000001")
    _sign_up(schat, "p2", "李二二", "13800000002")
    _sign_up(schat, "p3", "赵三三", "13800000003")
    schat.say("p1", "取消报名")  # Sunday 10:00: p2 is offered the place until 22:00
    assert run_care(schat.engine, at(22, 21))["expired"] == 0
    ctx = {"engine": schat.engine, "clock": lambda: at(22, 22), "settings": settings}
    assert asyncio.run(care_tick(ctx))["expired"] == 1
    assert _events(schat, "p2") == ["care.push_offer", "care.push_offer_expired"]
    assert _events(schat, "p3") == ["care.push_offer"]
    clock.advance(13 * 3600)
    assert schat.say("p2", "确认报名").startswith("您目前没有待确认")
    assert schat.say("p3", "确认报名").startswith("已确认！赵三三")


def test_reminder_the_day_before_the_first_class(schat):
    assert "第一次课：1月18日（周一）" in _sign_up(schat, "p1", "王一一", "13800000001", "寒假托管")
    assert run_care(schat.engine, at(16, 12, 1, 2027))["reminded"] == 0
    assert run_care(schat.engine, at(17, 9, 1, 2027))["reminded"] == 1
    assert run_care(schat.engine, at(17, 20, 1, 2027))["reminded"] == 0
    (push,) = schat.pushes("p1")
    assert push.event == "care.push_day_before" and "明天（1月18日（周一））" in push.text
