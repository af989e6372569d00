"""The console dashboard (数据看板): the figures of ``gridbot stats`` for one member of staff's
scope, plus what the charts draw.

Every figure comes from ``storage.stats.summarise`` over the same ticket columns
(``ROW_COLUMNS``) and the same rule for which tickets count (created in [start, end), with a
grid) as ``storage.stats.compute``: the dashboard of a street admin lists exactly the rows
``gridbot stats`` prints for the same period. Staff limited to some grids (a grid leader, a
grid worker) get those grids' rows only, never their community's total (it would show other
grids' work).

Shapes (``Dashboard``):

- ``scopes``: ``ScopeStats`` rows, each community first, then its grids by code (as
  ``compute``); ``total``: all of them together (scope "all", name "全部");
- ``days`` (local dates of the period, in ``tz``) and ``per_day`` {kind: [tickets created that
  local day]} (zeros included; the sums equal ``total.by_kind``);
- ``top_categories``: per grid row, its ``TOP_CATEGORIES`` largest categories [(name, n)];
- ``overdue``: the open tickets in scope that are past a running due time *now*, whatever day
  they were created (an old ticket still open is the one to chase), most overdue first, at most
  ``OVERDUE_LIMIT``. The ``overdue`` figure of a scope counts the period's tickets only, as in
  ``gridbot stats``.

Errors: ``for_staff`` raises ``services.errors.NotAllowed`` for staff without the "dashboard"
capability and ValueError when the first day is after the last.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy import or_
from sqlmodel import Session, col, select

from services.messages import msg
from services.permissions import require_may
from services.scope import Scope, scope_of
from storage.models import Community, Grid, GridWorker, Ticket, TicketStatus
from storage.stats import ROW_COLUMNS, ScopeStats, is_overdue, period, summarise
from storage.times import as_utc, local

TOP_CATEGORIES = 5
"""How many categories each grid's 「高发问题」 list shows."""
OVERDUE_LIMIT = 200
"""At most this many overdue tickets are listed (the count in the figures is exact)."""
PERIOD_DAYS = (7, 30)
"""The quick periods the page offers: the last 7 or 30 local days, today included."""
TOTAL_NAME = msg("console.dashboard.total")
"""The name of the row of all the staff member's tickets together (全部)."""


@dataclass(frozen=True)
class OverdueTicket:
    """One open ticket past its due time: ``due_at`` is the first due time it missed (aware
    UTC), ``late_min`` minutes past it at ``now`` (or at the pause, when waiting for the
    resident)."""

    number: str
    kind: str
    category: str | None
    status: str
    community: str
    grid: str
    assignee: str | None
    created_at: datetime
    due_at: datetime
    late_min: int


@dataclass
class Dashboard:
    """The dashboard of one scope and period (see the module doc). ``start``/``end`` are the
    aware [start, end) of the period; ``first``/``last`` its local days."""

    start: datetime
    end: datetime
    first: date
    last: date
    tz: str
    scopes: list[ScopeStats] = field(default_factory=list)
    total: ScopeStats = field(default_factory=lambda: ScopeStats("all", TOTAL_NAME, ""))
    days: list[date] = field(default_factory=list)
    per_day: dict[str, list[int]] = field(default_factory=dict)
    top_categories: list[tuple[str, list[tuple[str, int]]]] = field(default_factory=list)
    overdue: list[OverdueTicket] = field(default_factory=list)

    @property
    def communities(self) -> list[ScopeStats]:
        """The community rows (several for a street admin: the per-community breakdown)."""
        return [s for s in self.scopes if s.scope == "community"]

    @property
    def grids(self) -> list[ScopeStats]:
        """The grid rows."""
        return [s for s in self.scopes if s.scope == "grid"]


EVERYTHING = Scope(community_ids=None, station_ids=None, gridless=True)
"""The scope of ``gridbot stats``: every community."""


def _grids(session: Session, scope: Scope) -> list[tuple[int, str, str, str, int, bool]]:
    """(grid id, code, name, community name, community id, whole) of the grids in ``scope`` —
    those of the communities it sees whole (``whole`` True) and its further grids — by
    community name and code."""
    query = select(Grid.id, Grid.code, Grid.name, Community.name, Grid.community_id).join(
        Community, Community.id == Grid.community_id)
    if scope.community_ids is not None:
        seen = [col(Grid.community_id).in_(sorted(scope.community_ids))] if scope.community_ids else []
        if scope.grid_ids:
            seen.append(col(Grid.id).in_(sorted(scope.grid_ids)))
        if not seen:
            return []
        query = query.where(or_(*seen))
    rows = [(gid, code, name, community, community_id, scope.covers_community(community_id))
            for gid, code, name, community, community_id in session.exec(query)]
    return sorted(rows, key=lambda g: (g[3], g[4], g[1]))


@dataclass(frozen=True)
class Area:
    """A community in a member of staff's scope, for the period pickers of the dashboard and
    the exports: ``whole`` when the scope sees it whole; ``grids`` (id, "G01 第一网格") those
    of its grids in scope."""

    community_id: int
    community: str
    whole: bool
    grids: tuple[tuple[int, str], ...]


def areas(session: Session, scope: Scope) -> list[Area]:
    """The communities and grids of ``scope``, by community name then grid code."""
    out: list[Area] = []
    for gid, code, name, community, community_id, whole in _grids(session, scope):
        if not out or out[-1].community_id != community_id:
            out.append(Area(community_id, community, whole, ()))
        last = out[-1]
        out[-1] = replace(last, grids=(*last.grids, (gid, f"{code} {name}")))
    return out


def build(session: Session, start: datetime, end: datetime, now: datetime, tz: str,
          scope: Scope = EVERYTHING) -> Dashboard:
    """The dashboard of tickets created in [start, end) (aware) in the grids of ``scope``
    (``services.scope.Scope``; default: every community, as ``gridbot stats``), at ``now``
    (aware UTC); days are counted in time zone ``tz``. A community seen whole gets its row
    before its grids; grids seen without their community (a grid leader's) get grid rows only.
    """
    grids = _grids(session, scope)
    ids = [g[0] for g in grids]
    by_grid: dict[int, list] = defaultdict(list)
    if ids:
        for row in session.exec(select(*ROW_COLUMNS).where(
                Ticket.created_at >= as_utc(start), Ticket.created_at < as_utc(end),
                col(Ticket.grid_id).in_(ids))):
            by_grid[row.grid_id].append(row)
    first = local(start, tz).date()
    last = local(end, tz).date() - timedelta(days=1)
    board = Dashboard(start=start, end=end, first=first, last=last, tz=tz)
    several = len({g[3] for g in grids}) > 1
    done: set[int] = set()
    for gid, code, name, community, community_id, whole in grids:
        if whole and community_id not in done:
            done.add(community_id)
            members = [t for g in grids if g[4] == community_id for t in by_grid.get(g[0], ())]
            board.scopes.append(summarise(ScopeStats("community", community, community), members,
                                          now))
        row = summarise(ScopeStats("grid", f"{code} {name}", community), by_grid.get(gid, []), now)
        board.scopes.append(row)
        top = sorted(row.by_category.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_CATEGORIES]
        board.top_categories.append((f"{community} {row.name}" if several else row.name, top))
    every = [t for gid in ids for t in by_grid.get(gid, ())]
    board.total = summarise(ScopeStats("all", TOTAL_NAME, ""), every, now)
    board.days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    index = {day: i for i, day in enumerate(board.days)}
    for kind in sorted({t.kind for t in every}):
        board.per_day[kind] = [0] * len(board.days)
    for t in every:
        board.per_day[t.kind][index[local(t.created_at, tz).date()]] += 1
    board.overdue = overdue_tickets(session, ids, now)
    return board


def overdue_tickets(session: Session, grid_ids: list[int], now: datetime,
                    limit: int = OVERDUE_LIMIT) -> list[OverdueTicket]:
    """The open tickets of ``grid_ids`` past a running due time at ``now`` (aware UTC; the rule
    of ``storage.stats.is_overdue``), created on any day, most overdue first, at most ``limit``."""
    if not grid_ids:
        return []
    now = as_utc(now)
    query = (select(Ticket, Grid.code, Grid.name, Community.name, GridWorker.name)
             .join(Grid, Grid.id == Ticket.grid_id)
             .join(Community, Community.id == Grid.community_id)
             .outerjoin(GridWorker, GridWorker.id == Ticket.assignee_id)
             .where(col(Ticket.grid_id).in_(grid_ids),
                    col(Ticket.status).in_(TicketStatus.OPEN),
                    (col(Ticket.response_due_at) < now) | (col(Ticket.resolve_due_at) < now)))
    out = []
    for ticket, code, grid_name, community, assignee in session.exec(query):
        if not is_overdue(ticket, now):
            continue
        at = as_utc(ticket.paused_at) if ticket.paused_at else now
        missed = [as_utc(d) for d in (ticket.response_due_at if ticket.responded_at is None
                                      else None, ticket.resolve_due_at) if d and as_utc(d) < at]
        due = min(missed)
        out.append(OverdueTicket(
            number=ticket.number, kind=ticket.kind, category=ticket.category,
            status=ticket.status, community=community, grid=f"{code} {grid_name}",
            assignee=assignee, created_at=as_utc(ticket.created_at), due_at=due,
            late_min=int((at - due).total_seconds() // 60)))
    out.sort(key=lambda o: (o.due_at, o.number))
    return out[:limit]


def for_staff(session: Session, worker: GridWorker, now: datetime, tz: str, *,
              first: date | None = None, last: date | None = None,
              days: int = PERIOD_DAYS[-1], community_id: int | None = None) -> Dashboard:
    """The dashboard ``worker`` may see: the local days ``first``…``last`` (defaults: the last
    ``days`` days up to today in ``tz``) over their scope (``services.scope.scope_of``),
    optionally narrowed to one community (``community_id``: a street admin's selector).

    Raises NotAllowed without the "dashboard" capability (in that community, when given),
    ValueError when ``first`` is after ``last``."""
    require_may(session, worker, "dashboard", community_id)
    start, end = period(first, last, now, tz, days)
    return build(session, start, end, now, tz, narrow(session, scope_of(session, worker),
                                                      community_id))


def narrow(session: Session, scope: Scope, community_id: int | None) -> Scope:
    """``scope`` limited to one community (None: unchanged): the community whole when the
    scope sees it whole, else the scope's grids within it."""
    if community_id is None:
        return scope
    if scope.covers_community(community_id):
        return replace(scope, community_ids=frozenset({community_id}), grid_ids=frozenset(),
                       gridless=False)
    grids = frozenset(session.exec(select(Grid.id).where(Grid.community_id == community_id,
                                                         col(Grid.id).in_(sorted(scope.grid_ids)))))
    return replace(scope, community_ids=frozenset(), grid_ids=grids, gridless=False)
