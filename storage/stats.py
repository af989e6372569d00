"""Service statistics per grid and per community for a period (``gridbot stats``).

A ticket counts in the period when it was created in [start, end) (aware UTC). For each
scope (every community, and every grid within it) ``compute`` gives:

- ``tickets``, ``by_kind`` {kind: n}, ``by_category`` {category: n} ("其他" for none),
  ``by_status`` {status: n} (status now, codes of ``TicketStatus``);
- ``response_median_min`` / ``response_p90_min``: minutes from creation to the first
  response (wall-clock time), over tickets that had one; ``resolve_median_min`` /
  ``resolve_p90_min``: minutes from creation to 办结, over resolved tickets. Percentiles are
  nearest-rank (p90 of 10 values is the 9th smallest); None when there is no value;
- ``response_met_pct`` / ``resolve_met_pct``: share of tickets whose clock stopped within
  its due time (working-time SLA, pauses excluded), over tickets whose clock stopped;
- ``rated``, ``avg_score`` (explicit ratings), ``default_satisfied`` (默认满意),
  ``satisfied_pct``: (scores ≥ 4 + default-satisfied) / (rated + default-satisfied);
- ``open``: still open at ``now``; ``overdue``: open with a due time (response while not
  yet responded, or resolution) before ``now`` — a waiting_resident ticket counts at its
  paused moment.

Cancelled tickets count in ``tickets`` and ``by_*`` only. Minutes and percentages are
rounded to one decimal. ``period`` turns local days into the [start, end) of ``compute``.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from storage.models import Community, Grid, Ticket, TicketStatus
from storage.times import as_utc, local

S = TicketStatus
SATISFIED_FROM = 4
DEFAULT_DAYS = 30
"""The default period: the last 30 local days, today included."""


def period(first: date | None, last: date | None, now: datetime, tz: str,
           days: int = DEFAULT_DAYS) -> tuple[datetime, datetime]:
    """[first 00:00, last + 1 day 00:00) in time zone ``tz`` (e.g. "Asia/Shanghai"), as aware
    datetimes. ``last`` defaults to today *in ``tz``* at ``now`` (aware), never the host's
    date; ``first`` to ``days`` - 1 days before ``last``.
    Raises ValueError when ``first`` is after ``last``; ZoneInfoNotFoundError for a bad ``tz``."""
    last = last or local(now, tz).date()
    first = first or last - timedelta(days=days - 1)
    if first > last:
        raise ValueError(f"the first day {first} is after the last day {last}")
    zone = ZoneInfo(tz)
    return (datetime.combine(first, datetime.min.time(), zone),
            datetime.combine(last + timedelta(days=1), datetime.min.time(), zone))


@dataclass
class ScopeStats:
    """The figures of one scope; ``scope`` is "community" or "grid"."""

    scope: str
    name: str
    community: str
    tickets: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    response_median_min: float | None = None
    response_p90_min: float | None = None
    resolve_median_min: float | None = None
    resolve_p90_min: float | None = None
    response_met_pct: float | None = None
    resolve_met_pct: float | None = None
    rated: int = 0
    avg_score: float | None = None
    default_satisfied: int = 0
    satisfied_pct: float | None = None
    open: int = 0
    overdue: int = 0

    def row(self) -> dict[str, object]:
        """A flat dict for CSV: by_kind/by_category/by_status become "k:n;k:n" strings."""
        d = asdict(self)
        for key in ("by_kind", "by_category", "by_status"):
            d[key] = ";".join(f"{k}:{v}" for k, v in sorted(d[key].items()))
        return d


def nearest_rank(values: list[float], pct: float) -> float | None:
    """The nearest-rank percentile ``pct`` (0–100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)), 1) - 1]


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _minutes(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return round((as_utc(b) - as_utc(a)).total_seconds() / 60, 1)


def is_overdue(ticket: Ticket, now: datetime) -> bool:
    """An open ticket past a running due time at ``now`` (aware UTC). ``ticket`` is a Ticket
    or a row with its ``ROW_COLUMNS``."""
    if ticket.status not in S.OPEN:
        return False
    at = as_utc(ticket.paused_at) if ticket.paused_at else as_utc(now)
    if ticket.responded_at is None and ticket.response_due_at and as_utc(ticket.response_due_at) < at:
        return True
    return bool(ticket.resolve_due_at and as_utc(ticket.resolve_due_at) < at)


def summarise(stats: ScopeStats, tickets: list, now: datetime) -> ScopeStats:
    """Fill ``stats`` from ``tickets`` (Tickets or rows with ``ROW_COLUMNS``; see the module
    doc for each figure)."""
    stats.tickets = len(tickets)
    for t in tickets:
        stats.by_kind[t.kind] = stats.by_kind.get(t.kind, 0) + 1
        cat = t.category or "其他"
        stats.by_category[cat] = stats.by_category.get(cat, 0) + 1
        stats.by_status[t.status] = stats.by_status.get(t.status, 0) + 1
    response = [m for t in tickets if (m := _minutes(t.created_at, t.first_response_at)) is not None]
    resolve = [m for t in tickets if (m := _minutes(t.created_at, t.resolved_at)) is not None]
    stats.response_median_min = round(statistics.median(response), 1) if response else None
    stats.response_p90_min = nearest_rank(response, 90)
    stats.resolve_median_min = round(statistics.median(resolve), 1) if resolve else None
    stats.resolve_p90_min = nearest_rank(resolve, 90)
    r_met = [t.response_met for t in tickets if t.response_met is not None]
    s_met = [t.resolve_met for t in tickets if t.resolve_met is not None]
    stats.response_met_pct = _pct(sum(r_met), len(r_met))
    stats.resolve_met_pct = _pct(sum(s_met), len(s_met))
    scores = [t.rating for t in tickets if t.rating is not None]
    stats.rated = len(scores)
    stats.avg_score = round(statistics.mean(scores), 2) if scores else None
    stats.default_satisfied = sum(1 for t in tickets if t.auto_closed and t.rating is None)
    happy = sum(1 for s in scores if s >= SATISFIED_FROM) + stats.default_satisfied
    stats.satisfied_pct = _pct(happy, stats.rated + stats.default_satisfied)
    stats.open = sum(1 for t in tickets if t.status in S.OPEN)
    stats.overdue = sum(1 for t in tickets if is_overdue(t, now))
    return stats


ROW_COLUMNS = (Ticket.grid_id, Ticket.kind, Ticket.category, Ticket.status, Ticket.created_at,
               Ticket.first_response_at, Ticket.resolved_at, Ticket.response_met,
               Ticket.resolve_met, Ticket.rating, Ticket.auto_closed, Ticket.paused_at,
               Ticket.responded_at, Ticket.response_due_at, Ticket.resolve_due_at)
"""The ticket columns ``summarise`` reads: rows carry only these (no ORM objects), so a
city's month (10⁵ tickets) is one indexed range scan and one pass in Python."""


def compute(session: Session, start: datetime, end: datetime, now: datetime,
            community: str | None = None) -> list[ScopeStats]:
    """Statistics for tickets created in [start, end): each community first, then its grids
    (by code). ``community`` limits to the community of that name. Tickets with no grid
    (no known building) belong to no scope and are left out.

    Two statements: the grids in scope, and the period's tickets (``ROW_COLUMNS``; by
    ``ix_ticket_grid_created`` for one community, ``ix_ticket_created_at`` for all), grouped
    by grid in one pass; a community's figures are those of its grids' tickets together."""
    start, end = as_utc(start), as_utc(end)
    grids_q = select(Grid.id, Grid.code, Grid.name, Community.name).join(
        Community, Community.id == Grid.community_id)
    tickets_q = select(*ROW_COLUMNS).where(Ticket.created_at >= start, Ticket.created_at < end,
                                           col(Ticket.grid_id).is_not(None))
    if community:
        grids_q = grids_q.where(Community.name == community)
        tickets_q = tickets_q.join(Grid, Grid.id == Ticket.grid_id).join(
            Community, Community.id == Grid.community_id).where(Community.name == community)
    grids = sorted(session.exec(grids_q).all(), key=lambda g: (g[3], g[1]))
    by_grid: dict[int, list] = defaultdict(list)
    for row in session.exec(tickets_q):
        by_grid[row.grid_id].append(row)
    out: list[ScopeStats] = []
    for c, members in groupby(grids, key=lambda g: g[3]):
        members = list(members)
        out.append(summarise(ScopeStats("community", c, c),
                             [t for g in members for t in by_grid.get(g[0], ())], now))
        out += [summarise(ScopeStats("grid", f"{code} {name}", c), by_grid.get(gid, []), now)
                for gid, code, name, _ in members]
    return out
