"""Exports for staff (导出): tickets, loans, care rosters and notice deliveries as tables with
Chinese column headers, written as CSV that Excel opens with Chinese intact, or as XLSX.

- ``tickets``: tickets created in the period (``Filters.start``/``end``, aware UTC);
  community/grid: the ticket's grid.
- ``loans``: loans (工具借用) made in the period; community: the station's; grid: the
  borrower's building's.
- ``care``: the roster (托管名单) of every care session running during the period (its dates
  overlap the period's local days; open-ended sessions always do), all its enrollments with
  their status and attendance counts; community: the programme's; grid: the family's building's.
- ``notices``: one row per recipient of each notice sent in the period, with how far the push
  got; community/grid: the resident's building's (or the community the resident is known to
  live in when no building is known).

A ``Table`` holds raw values (aware UTC datetimes, dates, bools, numbers, text); the writers
format them: ``to_csv`` — UTF-8 with a BOM, CRLF line ends, times as "YYYY-MM-DD HH:MM" in
``Table.tz``; ``to_xlsx`` — bold header row, fitted column widths, frozen header, times as real
Excel datetimes in ``Table.tz``. Text a spreadsheet would run as a formula (a resident's
"=HYPERLINK(…)") stays text: prefixed with ' in CSV, typed as a string in XLSX.

Phones: staff in ``FULL_PHONE_ROLES`` — street admins and community staff, who call residents
back and run the stations and classes — get full numbers; every other role gets them masked
("138****5678", ``storage.phones.masked`` through ``Limits.phone``).

Scope (``for_staff``): staff with the "export" capability export what ``services.scope`` lets
them see — tickets by ``services.scope.ticket_filter``; loans of the stations of their scope
(``Scope.station_ids``); care rosters and notice deliveries of the communities they see whole
and of the families living in their further grids. Errors: NotAllowed (no "export"
capability, or a chosen community outside the scope), Invalid (an unknown export name).
Headers and value labels are data: ``services/exports.toml``.
"""

from __future__ import annotations

import csv
import io
import tomllib
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import case, false, func, or_
from sqlmodel import Session, col, select

from services.errors import Invalid
from services.permissions import require_may
from services.scope import Scope, scope_of, ticket_filter
from storage.care import CareAttendance, CareSession, Enrollment, Programme
from storage.lending import LendItem, Loan, LoanStatus, Station
from storage.models import (
    Building,
    Community,
    Department,
    Grid,
    GridWorker,
    Notice,
    NoticeDelivery,
    Outbox,
    Place,
    Resident,
    Role,
    Ticket,
)
from storage.phones import masked
from storage.stats import is_overdue
from storage.times import as_utc, local

LABELS_FILE = Path(__file__).with_name("exports.toml")
EXPORTS = ("tickets", "loans", "care", "notices")
"""The export names, in the order the console lists them."""
FULL_PHONE_ROLES = frozenset({Role.STREET_ADMIN, Role.COMMUNITY_ADMIN})
"""Roles that see residents' and guardians' phones in full; all others get them masked (``Limits.phone``)."""
CSV_ENCODING = "utf-8-sig"
"""UTF-8 with a byte-order mark: Excel reads the file as UTF-8 only with it."""
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
"""A text cell starting with one of these would run as a formula in a spreadsheet (OWASP's
CSV injection list; the full-width forms, which Chinese input methods type, are taken as
formulas by some spreadsheet programs too)."""
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
MAX_COLUMN_WIDTH = 50
"""XLSX column width cap, in characters (a CJK character counts two)."""


@cache
def labels() -> dict[str, dict[str, str]]:
    """``services/exports.toml``: per export its title and column headers, and the value
    labels (ticket_status, loan_status, enrollment_status, outbox_status, channel, boolean)."""
    return tomllib.loads(LABELS_FILE.read_text(encoding="utf-8"))


@dataclass
class Table:
    """One export: ``name`` (tickets | loans | care | notices), ``title`` (Chinese: the sheet
    and file name), ``headers`` (Chinese column headers) and ``rows`` of raw values in column
    order; datetimes are aware UTC, shown in ``tz``."""

    name: str
    title: str
    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    tz: str = "Asia/Shanghai"


@dataclass(frozen=True)
class Filters:
    """What to export: the period [start, end) (aware; ``storage.stats.period`` makes it
    from local days) and optionally one community and/or one grid (ids)."""

    start: datetime
    end: datetime
    community_id: int | None = None
    grid_id: int | None = None


EVERYTHING = Scope(community_ids=None, station_ids=None, gridless=True)
"""The scope of an export with no limit (a street admin's; the default)."""


@dataclass(frozen=True)
class Limits:
    """What the exporting member of staff may see: ``scope`` (``services.scope.Scope``) and
    whether phones are shown in full (``full_phones``)."""

    scope: Scope = EVERYTHING
    full_phones: bool = True

    def phone(self, phone: str | None) -> str | None:
        """``phone`` as this member of staff may see it: in full, or masked
        (``storage.phones.masked``: 「138****5678」, 「024-****5678」); None stays None."""
        return phone if self.full_phones else masked(phone)


def _table(name: str, keys: Iterable[str], tz: str) -> Table:
    words = labels()[name]
    return Table(name=name, title=words["title"], headers=[words[k] for k in keys], tz=tz)


def _label(section: str, code: str | None) -> str | None:
    return labels()[section].get(code, code) if code is not None else None


def _kind(code: str) -> str:
    from services.messages import catalogue

    return catalogue().get(f"kind.{code}", code)


def _in(column: Any, ids: frozenset[int] | None) -> Any:
    return col(column).in_(sorted(ids)) if ids is not None else None


def _area(scope: Scope, community: Any, grid: Any) -> Any:
    """A where-clause keeping rows of ``community`` (a column or expression of community ids)
    seen whole by ``scope``, of its further grids (``grid``: a grid-id column), and — for
    community-wide roles — rows of no community; None when the scope sees everything."""
    if scope.everything:
        return None
    parts = []
    if scope.community_ids:
        parts.append(community.in_(sorted(scope.community_ids)))
    if scope.grid_ids:
        parts.append(col(grid).in_(sorted(scope.grid_ids)))
    if scope.gridless:
        parts.append(community.is_(None))
    return or_(*parts) if parts else false()


def _where(query: Any, *clauses: Any) -> Any:
    for clause in clauses:
        if clause is not None:
            query = query.where(clause)
    return query


def _one(value: int | None) -> frozenset[int] | None:
    return frozenset({value}) if value is not None else None


# -- tickets -------------------------------------------------------------------------------

TICKET_COLUMNS = ("number", "kind", "category", "status", "urgent", "community", "grid",
                  "building", "unit", "room", "place", "description", "phone", "assignee",
                  "department", "created_at", "first_response_at", "resolved_at", "closed_at",
                  "response_due_at", "resolve_due_at", "response_met", "resolve_met", "overdue",
                  "escalation_level", "reopened_count", "resolution", "rating", "rating_comment",
                  "auto_closed")


def tickets(session: Session, filters: Filters, now: datetime, tz: str,
            limits: Limits = Limits()) -> Table:
    """Tickets created in the period, oldest first (see the module doc); ``now`` (aware UTC)
    decides 「当前超时」."""
    table = _table("tickets", TICKET_COLUMNS, tz)
    query = (select(Ticket, Grid.code, Grid.name, Community.name, Building.name, Place.name,
                    Resident.phone, GridWorker.name, Department.name)
             .outerjoin(Grid, Grid.id == Ticket.grid_id)
             .outerjoin(Community, Community.id == Grid.community_id)
             .outerjoin(Building, Building.id == Ticket.building_id)
             .outerjoin(Place, Place.id == Ticket.place_id)
             .outerjoin(Resident, Resident.id == Ticket.resident_id)
             .outerjoin(GridWorker, GridWorker.id == Ticket.assignee_id)
             .outerjoin(Department, Department.id == Ticket.department_id))
    query = _where(query, Ticket.created_at >= as_utc(filters.start),
                   Ticket.created_at < as_utc(filters.end),
                   None if limits.scope.everything else ticket_filter(limits.scope),
                   _in(Grid.community_id, _one(filters.community_id)),
                   _in(Ticket.grid_id, _one(filters.grid_id)))
    for t, code, grid, community, building, place, resident_phone, assignee, department in (
            session.exec(query.order_by(Ticket.created_at, Ticket.id))):
        values = {
            "number": t.number, "kind": _kind(t.kind), "category": t.category,
            "status": _label("ticket_status", t.status), "urgent": t.urgent,
            "community": community, "grid": f"{code} {grid}" if code else None,
            "building": building, "unit": t.unit, "room": t.room,
            "place": place or t.location, "description": t.description,
            "phone": limits.phone(resident_phone), "assignee": assignee, "department": department,
            "created_at": t.created_at, "first_response_at": t.first_response_at,
            "resolved_at": t.resolved_at, "closed_at": t.closed_at,
            "response_due_at": t.response_due_at, "resolve_due_at": t.resolve_due_at,
            "response_met": t.response_met, "resolve_met": t.resolve_met,
            "overdue": is_overdue(t, now), "escalation_level": t.escalation_level,
            "reopened_count": t.reopened_count, "resolution": t.resolution, "rating": t.rating,
            "rating_comment": t.rating_comment, "auto_closed": t.auto_closed,
        }
        table.rows.append([values[k] for k in TICKET_COLUMNS])
    return table


# -- loans ---------------------------------------------------------------------------------

LOAN_COLUMNS = ("number", "community", "station", "item", "quantity", "status", "phone",
                "building", "created_at", "hold_expires_at", "out_at", "due_at", "returned_at",
                "renewals", "overdue", "return_condition", "return_note")


def loans(session: Session, filters: Filters, now: datetime, tz: str,
          limits: Limits = Limits()) -> Table:
    """Loans made in the period, oldest first (see the module doc); 「逾期未还」: out and past
    its due time at ``now`` (aware UTC)."""
    table = _table("loans", LOAN_COLUMNS, tz)
    query = (select(Loan, LendItem.name, Station.name, Community.name, Resident.phone,
                    Building.name)
             .join(LendItem, LendItem.id == Loan.item_id)
             .join(Station, Station.id == LendItem.station_id)
             .outerjoin(Community, Community.id == Station.community_id)
             .outerjoin(Resident, Resident.id == Loan.resident_id)
             .outerjoin(Building, Building.id == Resident.building_id))
    query = _where(query, Loan.created_at >= as_utc(filters.start),
                   Loan.created_at < as_utc(filters.end),
                   _in(Station.id, limits.scope.station_ids),
                   _in(Station.community_id, _one(filters.community_id)),
                   _in(Building.grid_id, _one(filters.grid_id)))
    now = as_utc(now)
    for loan, item, station, community, resident_phone, building in session.exec(
            query.order_by(Loan.created_at, Loan.id)):
        late = (loan.status == LoanStatus.OUT and loan.due_at is not None
                and as_utc(loan.due_at) < now)
        values = {
            "number": loan.number, "community": community, "station": station, "item": item,
            "quantity": loan.quantity, "status": _label("loan_status", loan.status),
            "phone": limits.phone(resident_phone), "building": building, "created_at": loan.created_at,
            "hold_expires_at": loan.hold_expires_at, "out_at": loan.out_at,
            "due_at": loan.due_at, "returned_at": loan.returned_at, "renewals": loan.renewals,
            "overdue": late, "return_condition": loan.return_condition,
            "return_note": loan.return_note,
        }
        table.rows.append([values[k] for k in LOAN_COLUMNS])
    return table


# -- care rosters --------------------------------------------------------------------------

CARE_COLUMNS = ("number", "community", "programme", "session", "child_name", "grade", "age",
                "phone", "status", "created_at", "enrolled_at", "first_session_on", "present",
                "absent", "notes")


def care(session: Session, filters: Filters, now: datetime, tz: str,
         limits: Limits = Limits()) -> Table:
    """The rosters of the care sessions running during the period's local days (in ``tz``),
    by programme, session, then sign-up order (see the module doc). ``now`` is unused (the
    common signature of the exports)."""
    table = _table("care", CARE_COLUMNS, tz)
    first = local(filters.start, tz).date()
    last = local(filters.end, tz).date() - timedelta(days=1)
    present = (select(CareAttendance.enrollment_id,
                      func.sum(case((col(CareAttendance.present), 1), else_=0)).label("present"),
                      func.count().label("days"))
               .group_by(CareAttendance.enrollment_id).subquery())
    query = (select(Enrollment, CareSession.name, Programme.name, Community.name,
                    present.c.present, present.c.days)
             .join(CareSession, CareSession.id == Enrollment.session_id)
             .join(Programme, Programme.id == CareSession.programme_id)
             .outerjoin(Community, Community.id == Programme.community_id)
             .outerjoin(Resident, Resident.id == Enrollment.resident_id)
             .outerjoin(Building, Building.id == Resident.building_id)
             .outerjoin(present, present.c.enrollment_id == Enrollment.id))
    query = _where(query,
                   or_(col(CareSession.starts_on).is_(None), CareSession.starts_on <= last),
                   or_(col(CareSession.ends_on).is_(None), CareSession.ends_on >= first),
                   _area(limits.scope, col(Programme.community_id), Building.grid_id),
                   _in(Programme.community_id, _one(filters.community_id)),
                   _in(Building.grid_id, _one(filters.grid_id)))
    for e, session_name, programme, community, came, days in session.exec(
            query.order_by(Programme.name, CareSession.name, Enrollment.created_at,
                           Enrollment.id)):
        values = {
            "number": e.number, "community": community, "programme": programme,
            "session": session_name, "child_name": e.child_name, "grade": e.grade, "age": e.age,
            "phone": limits.phone(e.guardian_phone), "status": _label("enrollment_status", e.status),
            "created_at": e.created_at, "enrolled_at": e.enrolled_at,
            "first_session_on": e.first_session_on, "present": int(came or 0),
            "absent": int((days or 0) - (came or 0)), "notes": e.notes,
        }
        table.rows.append([values[k] for k in CARE_COLUMNS])
    return table


# -- notice deliveries ---------------------------------------------------------------------

NOTICE_COLUMNS = ("notice", "notice_title", "audience", "sender", "sent_at", "community",
                  "building", "unit", "room", "phone", "delivery", "channel", "delivered_at",
                  "attempts", "last_error")


def notices(session: Session, filters: Filters, now: datetime, tz: str,
            limits: Limits = Limits()) -> Table:
    """One row per recipient of each notice sent in the period, by notice then resident (see
    the module doc). ``now`` is unused (the common signature of the exports)."""
    table = _table("notices", NOTICE_COLUMNS, tz)
    community_id = func.coalesce(Building.community_id, Resident.community_id)
    query = (select(NoticeDelivery, Notice, Outbox, Resident, Building.name, Community.name)
             .join(Notice, Notice.id == NoticeDelivery.notice_id)
             .join(Outbox, Outbox.id == NoticeDelivery.outbox_id)
             .join(Resident, Resident.id == NoticeDelivery.resident_id)
             .outerjoin(Building, Building.id == Resident.building_id)
             .outerjoin(Community, Community.id == community_id))
    query = _where(query, Notice.created_at >= as_utc(filters.start),
                   Notice.created_at < as_utc(filters.end),
                   _area(limits.scope, community_id, Building.grid_id),
                   community_id.in_({filters.community_id}) if filters.community_id is not None
                   else None,
                   _in(Building.grid_id, _one(filters.grid_id)))
    for _, notice, push, resident, building, community in session.exec(
            query.order_by(Notice.created_at, Notice.id, NoticeDelivery.id)):
        values = {
            "notice": notice.id, "notice_title": notice.title, "audience": notice.scope,
            "sender": notice.sender, "sent_at": notice.created_at, "community": community,
            "building": building, "unit": resident.unit, "room": resident.room,
            "phone": limits.phone(resident.phone), "delivery": _label("outbox_status", push.status),
            "channel": _label("channel", push.channel), "delivered_at": push.sent_at,
            "attempts": push.attempts, "last_error": push.last_error,
        }
        table.rows.append([values[k] for k in NOTICE_COLUMNS])
    return table


MAKERS: dict[str, Callable[..., Table]] = {"tickets": tickets, "loans": loans, "care": care,
                                           "notices": notices}


# -- scope ---------------------------------------------------------------------------------

def limits_for(session: Session, worker: GridWorker) -> Limits:
    """The ``Limits`` of ``worker`` from ``services.scope`` (see the module doc)."""
    return Limits(scope_of(session, worker), full_phones=worker.role in FULL_PHONE_ROLES)


def for_staff(session: Session, worker: GridWorker, what: str, filters: Filters,
              now: datetime, tz: str) -> Table:
    """The export ``what`` (one of ``EXPORTS``) as ``worker`` may see it.

    Raises Invalid for an unknown ``what``, NotAllowed without the "export" capability (in
    ``filters.community_id``, when one is chosen)."""
    if what not in MAKERS:
        raise Invalid(f"unknown export {what!r}")
    require_may(session, worker, "export", filters.community_id)
    return MAKERS[what](session, filters, now, tz, limits_for(session, worker))


# -- writers -------------------------------------------------------------------------------

def _yes_no(value: bool) -> str:
    return labels()["boolean"]["yes" if value else "no"]


def _text_cell(value: Any, tz: str) -> str:
    """A value as CSV text (see the module doc)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _yes_no(value)
    if isinstance(value, datetime):
        return local(value, tz).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value
    return str(value)


def to_csv(table: Table) -> bytes:
    """The table as CSV bytes: UTF-8 with a BOM, CRLF line ends, a header row, then the rows
    (``csv`` module quoting)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow([_text_cell(v, table.tz) for v in row])
    return out.getvalue().encode(CSV_ENCODING)


def _width(value: Any) -> int:
    text = value if isinstance(value, str) else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _sheet_title(title: str) -> str:
    return "".join(ch for ch in title if ch not in "[]:*?/\\")[:31] or "Sheet1"


def _xlsx_value(value: Any, tz: str) -> Any:
    """A value as an XLSX cell value: booleans as 是/否, aware datetimes as naive local ones
    (Excel has no time zones), everything else unchanged."""
    if isinstance(value, bool):
        return _yes_no(value)
    if isinstance(value, datetime):
        return local(value, tz).replace(tzinfo=None)
    return value


def to_xlsx(table: Table) -> bytes:
    """The table as an XLSX workbook (bytes) of one sheet named ``table.title``: a bold,
    frozen header row with a filter, fitted column widths (at most ``MAX_COLUMN_WIDTH``),
    datetimes as Excel datetimes in ``table.tz`` (``DATETIME_FORMAT``), dates as dates,
    booleans as 是/否, text always as text (never a formula). Written in openpyxl's
    write-only mode: memory grows with the rows of ``table``, not with cell objects."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    rows = [[_xlsx_value(v, table.tz) for v in row] for row in table.rows]
    widths = [_width(h) for h in table.headers]
    for row in rows:
        for c, shown in enumerate(row):
            if shown is not None:
                width = len(DATETIME_FORMAT) if isinstance(shown, datetime) else _width(shown)
                widths[c] = max(widths[c], width)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_sheet_title(table.title))
    for c, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(c)].width = min(width + 2, MAX_COLUMN_WIDTH)
    sheet.freeze_panes = "A2"
    if table.headers:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(table.headers))}{len(rows) + 1}"
    bold = Font(bold=True)
    header = []
    for text in table.headers:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        cells = []
        for shown in row:
            cell = WriteOnlyCell(sheet, value=shown)
            if isinstance(shown, datetime):
                cell.number_format = DATETIME_FORMAT
            elif isinstance(shown, date):
                cell.number_format = DATE_FORMAT
            elif isinstance(shown, str):
                cell.data_type = "s"  # a resident's "=…" stays text
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
