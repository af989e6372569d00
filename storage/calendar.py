"""Working-time arithmetic on a calendar: weekdays, daily hours, holidays and make-up days.

A ``Calendar`` answers two questions, both in aware UTC and seconds:
``add(start, seconds)`` — the instant when ``seconds`` of working time have passed after
``start``; ``between(a, b)`` — the working seconds in [a, b). ``always=True`` is 24×7.
Hours are local to ``timezone`` (Asia/Shanghai); holidays and 调休 make-up workdays are
local dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.times import as_utc

MAX_DAYS = 3660
"""Search horizon for ``add`` (ten years): a calendar with no working time raises."""


@dataclass(frozen=True)
class Calendar:
    """``weekdays``: ISO numbers (Mon=1); ``hours``: local (start, end) pairs per day;
    ``holidays`` are days off, ``workdays`` are extra working days (调休上班)."""

    name: str
    timezone: str = "Asia/Shanghai"
    always: bool = False
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    hours: tuple[tuple[time, time], ...] = ((time(8, 30), time(17, 30)),)
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_working_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day in self.workdays or day.isoweekday() in self.weekdays

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working intervals as aware UTC pairs, in order."""
        if not self.is_working_day(day):
            return []
        tz = self.tz
        return [(datetime.combine(day, a, tz).astimezone(UTC),
                 datetime.combine(day, b, tz).astimezone(UTC)) for a, b in self.hours]

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant ``seconds`` (≥ 0) of working time after ``start`` (aware UTC).

        With ``seconds`` = 0 and ``start`` outside working hours, the next opening is returned.
        Raises ValueError when the calendar has no working time within ``MAX_DAYS``.
        """
        start = as_utc(start)
        if self.always:
            return start + timedelta(seconds=seconds)
        left = max(seconds, 0.0)
        day = start.astimezone(self.tz).date() - timedelta(days=1)
        for _ in range(MAX_DAYS):
            for a, b in self._intervals(day):
                if b <= start:
                    continue
                a = max(a, start)
                span = (b - a).total_seconds()
                if left <= span:
                    return a + timedelta(seconds=left)
                left -= span
            day += timedelta(days=1)
        raise ValueError(f"calendar {self.name!r} has no working time")

    def between(self, a: datetime, b: datetime) -> float:
        """Working seconds in [a, b) (0 when b ≤ a)."""
        a, b = as_utc(a), as_utc(b)
        if b <= a:
            return 0.0
        if self.always:
            return (b - a).total_seconds()
        total = 0.0
        day = a.astimezone(self.tz).date() - timedelta(days=1)
        last = b.astimezone(self.tz).date() + timedelta(days=1)
        while day <= last:
            for x, y in self._intervals(day):
                lo, hi = max(x, a), min(y, b)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total

    def back(self, end: datetime, seconds: float, anchor: datetime) -> datetime:
        """The instant ``seconds`` of working time before ``end``, not before ``anchor``."""
        return self.add(anchor, max(self.between(anchor, end) - seconds, 0.0))


def parse_calendar(name: str, spec: dict) -> Calendar:
    """A Calendar from its TOML table. Raises ValueError naming the bad entry."""
    def hm(text: str) -> time:
        try:
            return time.fromisoformat(text)
        except ValueError:
            raise ValueError(f"calendar {name}: bad time {text!r} (use HH:MM)") from None

    def days(key: str) -> frozenset[date]:
        try:
            return frozenset(date.fromisoformat(str(d)) for d in spec.get(key, []))
        except ValueError as exc:
            raise ValueError(f"calendar {name}: bad date in {key} ({exc})") from None

    try:
        ZoneInfo(spec.get("timezone", "Asia/Shanghai"))
    except Exception:
        raise ValueError(f"calendar {name}: unknown timezone {spec.get('timezone')!r}") from None
    hours = tuple((hm(a), hm(b)) for a, b in spec.get("hours", [["08:30", "17:30"]]))
    if any(b <= a for a, b in hours):
        raise ValueError(f"calendar {name}: each hours pair must be [start, end] with start < end")
    weekdays = frozenset(int(d) for d in spec.get("weekdays", [1, 2, 3, 4, 5]))
    if not weekdays <= set(range(1, 8)):
        raise ValueError(f"calendar {name}: weekdays are 1 (Monday) … 7 (Sunday)")
    return Calendar(name=name, timezone=spec.get("timezone", "Asia/Shanghai"),
                    always=bool(spec.get("always", False)), weekdays=weekdays,
                    hours=tuple(sorted(hours)), holidays=days("holidays"),
                    workdays=days("workdays"))


@dataclass(frozen=True)
class QuietHours:
    """Night hours in which staff are not pushed about non-urgent tickets: a step due between
    ``start`` and ``end`` (local times in ``timezone``; the span may cross midnight) waits
    until ``end``. Deadlines themselves never move; only when the warning or reminder is sent.
    """

    start: time
    end: time
    timezone: str = "Asia/Shanghai"

    def release(self, at: datetime) -> datetime:
        """``at`` (aware) if it is outside the quiet hours, else the instant they end (aware
        UTC)."""
        tz = ZoneInfo(self.timezone)
        local = as_utc(at).astimezone(tz)
        clock = local.time()
        if self.start <= self.end:
            inside = self.start <= clock < self.end
            end_day = local.date()
        else:  # crosses midnight: 22:00–07:30
            inside = clock >= self.start or clock < self.end
            end_day = local.date() + timedelta(days=1) if clock >= self.start else local.date()
        if not inside:
            return at
        return datetime.combine(end_day, self.end, tz).astimezone(UTC)


def parse_quiet_hours(spec: object, timezone: str = "Asia/Shanghai") -> QuietHours | None:
    """``["22:00", "07:30"]`` → QuietHours; None for an absent or empty entry. Raises
    ValueError naming the entry when it is not two HH:MM times."""
    if not spec:
        return None
    try:
        start, end = (time.fromisoformat(str(t)) for t in spec)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"escalation.quiet_hours must be two times like [\"22:00\", \"07:30\"], "
                         f"got {spec!r}") from exc
    if start == end:
        raise ValueError("escalation.quiet_hours: start and end are the same time")
    return QuietHours(start, end, timezone)
