"""Quiet hours: with resolution counted round the clock, a non-urgent ticket's warnings and
督办 steps would fall in the night; they wait until the quiet hours end. Urgent ones do not."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from storage import sla
from storage.calendar import QuietHours, parse_quiet_hours
from storage.models import Ticket, TicketStatus
from storage.times import as_utc

SHANGHAI = timedelta(hours=8)


def local(y, mo, d, h, mi=0) -> datetime:
    """An Asia/Shanghai wall-clock time as aware UTC."""
    return datetime(y, mo, d, h, mi, tzinfo=UTC) - SHANGHAI


QUIET = QuietHours(time(22, 0), time(7, 30))


@pytest.mark.parametrize(("at", "expected"), [
    (local(2026, 11, 24, 4, 12), local(2026, 11, 24, 7, 30)),   # after midnight
    (local(2026, 11, 24, 23, 0), local(2026, 11, 25, 7, 30)),   # before midnight: next day
    (local(2026, 11, 24, 22, 0), local(2026, 11, 25, 7, 30)),   # the start is quiet
    (local(2026, 11, 24, 7, 30), local(2026, 11, 24, 7, 30)),   # the end is not
    (local(2026, 11, 24, 15, 0), local(2026, 11, 24, 15, 0)),   # daytime: unchanged
])
def test_release_moves_only_what_falls_in_the_quiet_hours(at, expected):
    assert QUIET.release(at) == expected


def test_a_span_within_one_day_works_too():
    lunch = QuietHours(time(12, 0), time(13, 30))
    assert lunch.release(local(2026, 11, 24, 12, 40)) == local(2026, 11, 24, 13, 30)
    assert lunch.release(local(2026, 11, 24, 23, 0)) == local(2026, 11, 24, 23, 0)


@pytest.mark.parametrize("spec", [["22:00"], ["22:00", "25:00"], ["7:30", "7:30"], "22-7"])
def test_a_bad_entry_is_refused_with_its_name(spec):
    with pytest.raises(ValueError, match="quiet_hours"):
        parse_quiet_hours(spec)


def _ticket(urgent: bool, created: datetime) -> Ticket:
    ticket = Ticket(number="GD20261123-0001", kind="repair", category="漏水", description="x",
                    urgent=urgent, status=TicketStatus.ACCEPTED, created_at=created)
    sla.start_clocks(ticket, created)
    ticket.responded_at = created + timedelta(minutes=5)  # answered: the resolution clock runs
    return ticket


def test_the_packaged_policy_keeps_the_night_quiet_for_non_urgent_tickets():
    cfg = sla.load()
    assert cfg.quiet is not None
    created = local(2026, 11, 23, 9, 0)  # Monday 09:00: resolution due Tuesday 09:00 (24 h)
    steps = sla.desired_steps(_ticket(False, created), cfg)
    warn = steps["resolve:warn"]  # 80 % of 24 h after 09:00 is 04:12 on Tuesday
    assert warn == local(2026, 11, 24, 7, 30)
    for due in steps.values():
        assert cfg.quiet.release(due) == due  # nothing left inside the quiet hours


def test_urgent_tickets_are_not_held():
    cfg = sla.load()
    created = local(2026, 11, 23, 23, 0)  # urgent at night: its ladder runs at once
    ticket = _ticket(True, created)
    steps = sla.desired_steps(ticket, cfg)
    due = as_utc(ticket.resolve_due_at)
    assert due.astimezone(UTC) < local(2026, 11, 24, 7, 30)
    assert any(local(2026, 11, 23, 22, 0) <= at < local(2026, 11, 24, 7, 30)
               for at in steps.values())
