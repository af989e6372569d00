"""Time helpers: everything is stored as aware UTC and shown in Asia/Shanghai.

A ``Clock`` is a zero-argument callable returning an aware UTC ``datetime``; code that
needs "now" takes one so tests can move time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def as_utc(dt: datetime) -> datetime:
    """``dt`` as aware UTC; naive values (as SQLite returns them) are taken to be UTC."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def local(dt: datetime, tz: str = "Asia/Shanghai") -> datetime:
    """``dt`` converted to the people-facing zone."""
    return as_utc(dt).astimezone(ZoneInfo(tz))


def show(dt: datetime | None, tz: str = "Asia/Shanghai") -> str:
    """``MM-DD HH:MM`` in the people-facing zone, or "-" for None."""
    if dt is None:
        return "-"
    return local(dt, tz).strftime("%m-%d %H:%M")


class FrozenClock:
    """A settable clock for tests and the sandbox: ``clock()``, ``clock.advance(seconds)``."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = as_utc(start) if start else utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        from datetime import timedelta

        self.now = self.now + timedelta(seconds=seconds)
        return self.now
