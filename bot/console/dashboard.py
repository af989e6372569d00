"""数据看板: GET /console/dashboard (charts and the same figures as a table) and
GET /console/dashboard.json (the figures and chart series as JSON).

A thin adapter over ``services.dashboard.for_staff``: query parameters ``days`` (7 or 30,
default 30: the last N local days, today included) or ``from``/``to`` (YYYY-MM-DD, local days
of settings.timezone, both included; ``from`` alone runs to today), and ``community`` (an id;
a street admin's per-community view). The chart data goes into the page as JSON
(``<script type="application/json" id="dashboard-data">``) that static/dashboard.js draws with
the vendored Chart.js; the figures are also a table (what screen readers and tests read).
Staff without the "dashboard" capability get 403.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from bot.cli_ops import duration
from bot.console.web import ConsoleError, DbDep, NowDep, SettingsDep, StaffDep, render, templates
from services import dashboard as board_service
from services.messages import catalogue, msg
from services.permissions import require_may
from services.scope import scope_of
from storage.stats import ScopeStats

router = APIRouter()

HOURS_PER_MINUTE = 1 / 60


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:g}%"


templates.env.filters["minutes"] = duration
templates.env.filters["pct"] = _pct


def parse_day(text: str | None, what: str) -> date | None:
    """A YYYY-MM-DD query value (None or "" → None); ConsoleError 422 else, naming ``what``
    ("first" or "last": the catalogue's ``console.period.<what>``, 开始日期 / 结束日期)."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConsoleError(422, msg("console.period.bad_day",
                                    what=msg(f"console.period.{what}"))) from None


def parse_id(text: str | None) -> int | None:
    """An id query value ("" → None); ConsoleError 422 for anything but digits."""
    if not text:
        return None
    if not text.isdigit():
        raise ConsoleError(422)
    return int(text)


def _kind_label(code: str) -> str:
    return catalogue().get(f"kind.{code}", code)


def _hours(minutes: float | None) -> float | None:
    return None if minutes is None else round(minutes * HOURS_PER_MINUTE, 1)


def chart_data(board: board_service.Dashboard) -> dict[str, Any]:
    """The series the charts draw (JSON-able): daily tickets per kind, and per row (each
    community when there are several, else each grid) response/resolution hours (median,
    P90), SLA met % and satisfaction %, and the period's top categories."""
    rows: list[ScopeStats] = board.communities if len(board.communities) > 1 else board.grids
    labels = [r.name if r.scope == "community" or len(board.communities) <= 1
              else f"{r.community} {r.name}" for r in rows]
    categories = sorted(board.total.by_category.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    return {
        "days": [d.strftime("%m-%d") for d in board.days],
        "per_day": [{"label": _kind_label(kind), "data": counts}
                    for kind, counts in board.per_day.items()],
        "rows": labels,
        "response": {"median": [_hours(r.response_median_min) for r in rows],
                     "p90": [_hours(r.response_p90_min) for r in rows]},
        "resolve": {"median": [_hours(r.resolve_median_min) for r in rows],
                    "p90": [_hours(r.resolve_p90_min) for r in rows]},
        "sla": {"response": [r.response_met_pct for r in rows],
                "resolve": [r.resolve_met_pct for r in rows]},
        "satisfaction": [r.satisfied_pct for r in rows],
        "categories": {"labels": [c for c, _ in categories], "data": [n for _, n in categories]},
    }


def parse_days(text: str | None) -> int:
    """The ``days`` query value: one of ``PERIOD_DAYS`` (default 30); ConsoleError 422 else."""
    if not text:
        return board_service.PERIOD_DAYS[-1]
    if not text.isdigit() or int(text) not in board_service.PERIOD_DAYS:
        raise ConsoleError(422, msg("console.period.bad_days"))
    return int(text)


def _board(request: Request, db, me, now, settings, days: str | None, first: str | None,
           last: str | None, community: str | None) -> board_service.Dashboard:
    require_may(db, me, "dashboard")
    try:
        return board_service.for_staff(
            db, me, now, settings.timezone, first=parse_day(first, "first"),
            last=parse_day(last, "last"), days=parse_days(days),
            community_id=parse_id(community))
    except ValueError as exc:  # the first day after the last (storage.stats.period)
        raise ConsoleError(422, msg("console.period.reversed")) from exc


@router.get("/dashboard")
def dashboard_page(request: Request, db: DbDep, me: StaffDep, now: NowDep, settings: SettingsDep,
                   days: str | None = None, first: str | None = Query(None, alias="from"),
                   last: str | None = Query(None, alias="to"),
                   community: str | None = None) -> Response:
    """The dashboard page of the logged-in member of staff."""
    board = _board(request, db, me, now, settings, days, first, last, community)
    return render(request, "dashboard.html", {
        "board": board, "charts": chart_data(board),
        "areas": board_service.areas(db, scope_of(db, me)),
        "days": None if (first or last) else parse_days(days),
        "community": parse_id(community), "kind_label": _kind_label,
    })


@router.get("/dashboard.json")
def dashboard_json(request: Request, db: DbDep, me: StaffDep, now: NowDep, settings: SettingsDep,
                   days: str | None = None, first: str | None = Query(None, alias="from"),
                   last: str | None = Query(None, alias="to"),
                   community: str | None = None) -> Response:
    """The same figures as JSON: ``period`` {from, to, timezone}, ``scopes`` (the rows of
    ``gridbot stats --csv``), ``total``, ``charts`` (``chart_data``) and ``overdue``."""
    board = _board(request, db, me, now, settings, days, first, last, community)
    return JSONResponse({
        "period": {"from": board.first.isoformat(), "to": board.last.isoformat(),
                   "timezone": board.tz},
        "scopes": [s.row() for s in board.scopes],
        "total": board.total.row(),
        "charts": chart_data(board),
        "overdue": [{"number": o.number, "kind": o.kind, "category": o.category,
                     "status": o.status, "community": o.community, "grid": o.grid,
                     "assignee": o.assignee, "due_at": o.due_at.isoformat(),
                     "late_min": o.late_min} for o in board.overdue],
    })
