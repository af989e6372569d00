"""Promised times as residents read them: 「今天下午4:30前」「明天上午9:30前」.

One style throughout: a day word, then a 12-hour clock with its period of the day
(凌晨 / 上午 / 中午 / 下午 / 晚上), then 「前」. The day word is 今天 or 明天, a weekday
(「周一」) within the next 6 days, else a date (「11月30日」, with the year when it is not
the current one). Times are shown in Asia/Shanghai and rounded UP to the minute, so the
promise is never earlier than the deadline it stands for; a deadline at exactly midnight is
the end of the day before (「今天晚上12:00前」). Every word comes from the ``[promise]``
table of the message catalogue.

``for_ticket`` turns a ticket's stored SLA deadlines (``response_due_at`` until the first
response, then ``resolve_due_at``) into the sentence every reply uses:
「预计明天上午9:30前联系您，明天上午10:00前处理好」.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from services.messages import msg
from storage.models import Ticket, TicketStatus
from storage.times import SHANGHAI, as_utc

PERIODS = ((0, "dawn"), (6, "morning"), (12, "noon"), (13, "afternoon"), (18, "evening"))
"""(first hour, catalogue key ``promise.period_<key>``) of each period of the day, in order."""


def when(due_at: datetime, now: datetime) -> str:
    """``due_at`` as a promise relative to ``now``, e.g. 「周一上午9:30前」.

    Both are aware datetimes in any zone (naive values are taken to be UTC, as SQLite
    returns them). A ``due_at`` in the past still reads as its day and time; callers that
    want to say "overdue" check that themselves.
    """
    return msg("promise.before", moment=moment(due_at, now))


def moment(due_at: datetime, now: datetime) -> str:
    """``due_at`` as a day and time relative to ``now`` without 「前」, e.g. 「明天上午9:30」
    (for sentences such as 「已超过约定时间（…）」)."""
    due = _ceil_minute(as_utc(due_at).astimezone(SHANGHAI))
    day = due.date()
    hour = due.hour
    if hour == 0 and due.minute == 0:  # midnight closes the day before: 「晚上12:00」
        day, hour = day - timedelta(days=1), 24
    today = as_utc(now).astimezone(SHANGHAI).date()
    return msg("promise.moment", day=_day_word(day, today), clock=_clock(hour, due.minute))


def _ceil_minute(dt: datetime) -> datetime:
    floor = dt.replace(second=0, microsecond=0)
    return floor if floor == dt else floor + timedelta(minutes=1)


def _day_word(day: date, today: date) -> str:
    ahead = (day - today).days
    if ahead == 0:
        return msg("promise.today")
    if ahead == 1:
        return msg("promise.tomorrow")
    if 1 < ahead <= 6:
        return msg(f"promise.weekday_{day.isoweekday()}")
    if day.year != today.year:
        return msg("promise.date_year", year=day.year, month=day.month, day=day.day)
    return msg("promise.date", month=day.month, day=day.day)


def _clock(hour: int, minute: int) -> str:
    """Hour 0…24 (24: the midnight that ends a day) and minute as 「下午4:30」."""
    period = [key for first, key in PERIODS if first <= hour][-1]
    shown = hour if hour <= 12 else hour - 12
    return msg("promise.clock", period=msg(f"promise.period_{period}"), hour=shown,
               minute=f"{minute:02d}")


def for_ticket(ticket: Ticket, now: datetime, contact: bool = True) -> str:
    """What the resident is promised about ``ticket`` now, without final punctuation:
    「预计{response}联系您，{resolve}处理好」 before the first response (only the first half
    when both fall due together), 「预计{resolve}处理好」 after it, 「已超过约定时间（…），
    社区正在督办」 past a deadline, and "" when there is nothing to promise (closed,
    cancelled, resolved, or paused waiting for the resident). ``contact=False`` (for a
    resident who is not the reporter, e.g. one who joins the ticket) promises the
    resolution only.
    """
    if ticket.status not in TicketStatus.OPEN or ticket.status == TicketStatus.WAITING_RESIDENT:
        return ""
    response = ticket.response_due_at if ticket.responded_at is None and contact else None
    resolve = ticket.resolve_due_at
    for due in (response, resolve):
        if due is not None and as_utc(due) <= as_utc(now):
            return msg("promise.late", moment=moment(due, now))
    if response is not None and resolve is not None and as_utc(resolve) > as_utc(response):
        return msg("promise.respond_and_resolve", response=when(response, now),
                   resolve=when(resolve, now))
    if response is not None:
        return msg("promise.respond", response=when(response, now))
    if resolve is not None:
        return msg("promise.resolve", resolve=when(resolve, now))
    return ""


def inline(ticket: Ticket, now: datetime, contact: bool = True) -> str:
    """``for_ticket`` as a clause to append to a status (「，预计明天上午9:30前联系您」), or ""."""
    promise = for_ticket(ticket, now, contact)
    return msg("promise.inline", promise=promise) if promise else ""
