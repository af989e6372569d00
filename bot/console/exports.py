"""导出: GET /console/exports (the page: the four exports, the period, community and grid) and
GET /console/exports/{what}.{csv|xlsx} (the file).

A thin adapter over ``services.exports``: query parameters ``from``/``to`` (YYYY-MM-DD local
days of settings.timezone, both included; default the last 30 days), ``community`` and
``grid`` (ids). The file comes with ``Content-Disposition: attachment`` naming it in Chinese
(RFC 6266 / RFC 5987 ``filename*``, e.g. 工单_2026-11-01_2026-11-30.xlsx) with an ASCII
``filename`` fallback (tickets_2026-11-01_2026-11-30.xlsx), and ``Cache-Control: no-store``
(it holds residents' data). Every download is audited ("export.<what>"). Staff without the
"export" capability get 403; an unknown export or format 404.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from bot.console.dashboard import parse_day, parse_id
from bot.console.web import ConsoleError, DbDep, NowDep, SettingsDep, StaffDep, audit, render
from services import exports as export_service
from services.dashboard import areas
from services.messages import msg
from services.permissions import require_may
from services.scope import scope_of
from storage.stats import period

router = APIRouter()

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
WRITERS = {"csv": export_service.to_csv, "xlsx": export_service.to_xlsx}


def content_disposition(title: str, fallback: str) -> str:
    """``attachment`` with the Chinese name as RFC 5987 ``filename*`` (UTF-8, percent-encoded)
    and ``fallback`` (ASCII) as ``filename`` for old clients."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(title, safe='')}"


def _filters(db, me, now, settings, first: str | None, last: str | None, community: str | None,
             grid: str | None) -> tuple[export_service.Filters, date, date]:
    try:
        start, end = period(parse_day(first, "first"), parse_day(last, "last"), now,
                            settings.timezone)
    except ValueError as exc:
        raise ConsoleError(422, msg("console.period.reversed")) from exc
    filters = export_service.Filters(start, end, community_id=parse_id(community),
                                     grid_id=parse_id(grid))
    return filters, start.date(), (end - timedelta(days=1)).date()


@router.get("/exports")
def exports_page(request: Request, db: DbDep, me: StaffDep, now: NowDep, settings: SettingsDep,
                 first: str | None = Query(None, alias="from"),
                 last: str | None = Query(None, alias="to"),
                 community: str | None = None, grid: str | None = None) -> Response:
    """The exports page: pick the period, community and grid, then a file per export."""
    require_may(db, me, "export")
    filters, first_day, last_day = _filters(db, me, now, settings, first, last, community, grid)
    require_may(db, me, "export", filters.community_id)  # no other community preselected
    return render(request, "exports.html", {
        "first": first_day, "last": last_day, "areas": areas(db, scope_of(db, me)),
        "community": filters.community_id, "grid": filters.grid_id,
        "exports": [(name, export_service.labels()[name]["title"])
                    for name in export_service.EXPORTS],
        "full_phones": me.role in export_service.FULL_PHONE_ROLES,
    })


@router.get("/exports/{what}.{fmt}")
def export_file(what: str, fmt: str, request: Request, db: DbDep, me: StaffDep, now: NowDep,
                settings: SettingsDep, first: str | None = Query(None, alias="from"),
                last: str | None = Query(None, alias="to"),
                community: str | None = None, grid: str | None = None) -> Response:
    """One export as a CSV or XLSX file (see the module doc)."""
    require_may(db, me, "export")
    if what not in export_service.EXPORTS or fmt not in WRITERS:
        raise ConsoleError(404)
    filters, first_day, last_day = _filters(db, me, now, settings, first, last, community, grid)
    table = export_service.for_staff(db, me, what, filters, now, settings.timezone)
    body = WRITERS[fmt](table)
    audit(db, request, me, f"export.{what}", "export", what, format=fmt, rows=len(table.rows),
          first=first_day.isoformat(), last=last_day.isoformat(),
          community_id=filters.community_id, grid_id=filters.grid_id)
    db.commit()
    stem = f"{first_day.isoformat()}_{last_day.isoformat()}.{fmt}"
    return Response(body, media_type=MEDIA_TYPES[fmt], headers={
        "Content-Disposition": content_disposition(f"{table.title}_{stem}", f"{what}_{stem}"),
        "Cache-Control": "no-store",
    })
