"""services.promise.when: deadlines as residents read them (Asia/Shanghai)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.promise import for_ticket, inline, moment, when
from storage.models import Ticket, TicketStatus
from storage.times import SHANGHAI


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


SUNDAY = sh(2026, 11, 22, 10, 0)  # the chat fixture's frozen clock


@pytest.mark.parametrize(("due", "now", "expected"), [
    (sh(2026, 11, 22, 10, 10), SUNDAY, "今天上午10:10前"),
    (sh(2026, 11, 22, 16, 30), SUNDAY, "今天下午4:30前"),
    (sh(2026, 11, 22, 12, 0), SUNDAY, "今天中午12:00前"),
    (sh(2026, 11, 22, 20, 5), SUNDAY, "今天晚上8:05前"),
    (sh(2026, 11, 23, 9, 30), SUNDAY, "明天上午9:30前"),
    (sh(2026, 11, 23, 2, 10), SUNDAY, "明天凌晨2:10前"),
    (sh(2026, 11, 24, 9, 30), SUNDAY, "周二上午9:30前"),
    (sh(2026, 11, 28, 17, 30), SUNDAY, "周六下午5:30前"),   # 6 days ahead: still a weekday
    (sh(2026, 11, 29, 9, 30), SUNDAY, "11月29日上午9:30前"),  # 7 days ahead: a date
    (sh(2026, 11, 30, 9, 30), SUNDAY, "11月30日上午9:30前"),
    (sh(2027, 1, 4, 9, 30), sh(2026, 12, 24, 9, 0), "2027年1月4日上午9:30前"),
])
def test_day_words_and_clock(due, now, expected):
    assert when(due, now) == expected


def test_week_edges_follow_dates_not_iso_weeks():
    friday_evening = sh(2026, 11, 27, 18, 0)
    assert when(sh(2026, 11, 30, 9, 30), friday_evening) == "周一上午9:30前"
    assert when(sh(2026, 11, 28, 9, 30), friday_evening) == "明天上午9:30前"
    saturday = sh(2026, 11, 28, 23, 59)
    assert when(sh(2026, 11, 30, 8, 30), saturday) == "周一上午8:30前"
    assert when(sh(2026, 11, 29, 8, 30), saturday) == "明天上午8:30前"


def test_midnight_is_the_end_of_the_day_before():
    assert when(sh(2026, 11, 23, 0, 0), SUNDAY) == "今天晚上12:00前"
    assert when(sh(2026, 11, 23, 0, 1), SUNDAY) == "明天凌晨0:01前"
    # "now" just after midnight: a deadline later that night is today
    assert when(sh(2026, 11, 23, 0, 30), sh(2026, 11, 23, 0, 5)) == "今天凌晨0:30前"
    # "now" just before midnight: the next minute is tomorrow
    assert when(sh(2026, 11, 23, 0, 10), sh(2026, 11, 22, 23, 55)) == "明天凌晨0:10前"


def test_utc_input_is_shown_in_shanghai():
    now = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)              # 10:00 Shanghai
    assert when(datetime(2026, 11, 22, 8, 30, tzinfo=UTC), now) == "今天下午4:30前"
    # 17:00 UTC Sunday is 01:00 Monday in Shanghai: a UTC "same day" is tomorrow here
    assert when(datetime(2026, 11, 22, 17, 0, tzinfo=UTC), now) == "明天凌晨1:00前"
    # naive values (as SQLite returns them) are UTC
    assert when(datetime(2026, 11, 23, 1, 30), now.replace(tzinfo=None)) == "明天上午9:30前"
    other = timezone(timedelta(hours=-5))
    assert when(datetime(2026, 11, 22, 20, 30, tzinfo=other), now) == "明天上午9:30前"


def test_rounds_up_so_the_promise_holds():
    assert when(sh(2026, 11, 22, 10, 10, 0, 1), SUNDAY) == "今天上午10:11前"
    assert when(sh(2026, 11, 22, 23, 59, 30), SUNDAY) == "今天晚上12:00前"


def test_moment_has_no_before():
    assert moment(sh(2026, 11, 23, 9, 30), SUNDAY) == "明天上午9:30"


def _ticket(**fields) -> Ticket:
    base = {"number": "GD1", "kind": "repair", "category": "漏水", "description": "",
            "status": TicketStatus.ASSIGNED, "response_due_at": sh(2026, 11, 23, 9, 30),
            "resolve_due_at": sh(2026, 11, 23, 10, 0)}
    return Ticket(**{**base, **fields})


def test_for_ticket_follows_the_clocks():
    assert for_ticket(_ticket(), SUNDAY) == "预计明天上午9:30前联系您，明天上午10:00前处理好"
    responded = _ticket(responded_at=SUNDAY, status=TicketStatus.ACCEPTED)
    assert for_ticket(responded, SUNDAY) == "预计明天上午10:00前处理好"
    assert for_ticket(_ticket(), SUNDAY, contact=False) == "预计明天上午10:00前处理好"
    together = _ticket(resolve_due_at=sh(2026, 11, 23, 9, 30))  # raised to the response due
    assert for_ticket(together, SUNDAY) == "预计明天上午9:30前联系您"
    late = sh(2026, 11, 23, 9, 45)
    assert for_ticket(_ticket(), late) == "已超过约定时间（今天上午9:30），社区正在督办"
    assert inline(_ticket(), SUNDAY).startswith("，预计明天")


@pytest.mark.parametrize("status", [TicketStatus.WAITING_RESIDENT, TicketStatus.RESOLVED,
                                    TicketStatus.CLOSED, TicketStatus.CANCELLED])
def test_nothing_is_promised_while_paused_or_after_the_work(status):
    assert for_ticket(_ticket(status=status), SUNDAY) == ""
    assert inline(_ticket(status=status), SUNDAY) == ""
