"""The ticket queue (工单): GET /console/ and GET /console/tickets.

    GET /console/          the queue page (filters and search in the query string)
    GET /console/tickets   the same; an htmx request gets only the table (``_queue_table.html``)

Query parameters: ``grid`` (grid id), ``kind``, ``category``, ``state`` ("open" by default,
"done", "all" or a status), ``overdue`` ("1"), ``q`` (number, phone tail or words),
``page`` (1-based). A thin door over ``services.queue``: countdowns come computed (seconds
and colour); the template shows them and a few lines of JS tick them down. Staff without
the "queue" capability (station staff) get the start page at /console/ and 403 at
/console/tickets.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bot.console.web import DbDep, NowDep, StaffDep, render, service_errors, templates
from services import permissions
from services.messages import msg
from services.queue import QueueFilter, count_tickets, grid_choices, list_tickets
from storage import categories
from storage.models import TicketStatus

router = APIRouter()

PAGE_SIZE = 30
"""Tickets on one page of the queue."""


def duration(seconds: int | float | None) -> str:
    """Seconds as staff read a countdown: 「2天3小时」, 「3小时12分」, 「12分」, 「不到1分」 (the
    sign is dropped: the template says 剩 or 超时)."""
    if seconds is None:
        return "-"
    left = int(abs(seconds)) // 60
    days, hours, minutes = left // 1440, left % 1440 // 60, left % 60
    if days:
        return msg("console.duration.days_hours" if hours else "console.duration.days",
                   days=days, hours=hours)
    if hours:
        return msg("console.duration.hours_minutes" if minutes else "console.duration.hours",
                   hours=hours, minutes=minutes)
    return msg("console.duration.minutes", minutes=minutes) if minutes else msg(
        "console.duration.under_a_minute")


templates.env.filters["duration"] = duration

STATE_CHOICES = [(s, msg(f"console.queue_state.{s}")) for s in ("open", "done", "all")] + [
    (s, msg(f"status.{s}")) for s in (*TicketStatus.OPEN, TicketStatus.RESOLVED,
                                      *TicketStatus.FINAL)]
"""The state filter's options (value, label)."""


def _filter(grid: str, kind: str, category: str, state: str, overdue: str, q: str) -> QueueFilter:
    return QueueFilter(grid_id=int(grid) if grid.isdigit() else None, kind=kind or None,
                       category=category or None, state=state or "open",
                       overdue=overdue in ("1", "on", "true"), q=q.strip())


def _queue(request: Request, db, me, now, grid: str, kind: str, category: str,  # noqa: ANN001
           state: str, overdue: str, q: str, page: int) -> Response:
    with service_errors():
        permissions.require_may(db, me, "queue")
        flt = _filter(grid, kind, category, state, overdue, q)
        page = max(page, 1)
        rows = list_tickets(db, me, flt, now, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        total = count_tickets(db, me, flt, now)
    context = {
        "rows": rows, "total": total, "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)), "flt": flt,
        "grids": grid_choices(db, me), "kinds": [(k, msg(f"kind.{k}")) for k in categories.KINDS],
        "categories": sorted({name for k in categories.KINDS for name in categories.load().names(k)}),
        "states": STATE_CHOICES,
        "query": {"grid": grid, "kind": kind, "category": category, "state": state,
                  "overdue": overdue, "q": q},
    }
    if request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "queue":
        return render(request, "_queue_table.html", context)
    return render(request, "queue.html", context)


@router.get("/")
def queue_home(request: Request, db: DbDep, me: StaffDep, now: NowDep, grid: str = "",
               kind: str = "", category: str = "", state: str = "open", overdue: str = "",
               q: str = "", page: int = 1) -> Response:
    """The queue page, or the start page for staff without the "queue" capability."""
    if not permissions.may(db, me, "queue"):
        return render(request, "home.html", {})
    return _queue(request, db, me, now, grid, kind, category, state, overdue, q, page)


@router.get("/tickets")
def queue_page(request: Request, db: DbDep, me: StaffDep, now: NowDep, grid: str = "",
               kind: str = "", category: str = "", state: str = "open", overdue: str = "",
               q: str = "", page: int = 1) -> Response:
    """The queue (403 without the "queue" capability); the table alone for htmx."""
    return _queue(request, db, me, now, grid, kind, category, state, overdue, q, page)

