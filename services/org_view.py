"""The organisation as staff see it on the configuration pages: read-only listings of the
communities, grids, buildings, staff, public places, departments, lending stations and care
programmes within a staff member's scope.

    organisation(session, community_ids)   -> Organisation   (communities … departments)
    communities(session, community_ids)    -> [(id, name)]   (a picker's options)
    stations(session, community_ids)       -> list[StationView]
    programmes(session, community_ids)     -> list[ProgrammeView]

``community_ids`` is ``services.scope.Scope.community_ids``: a set of ids, or None for every
community of the account (a 街道 admin). Rows of no community (a station or programme made
before communities, a street-level member of staff) are shown only with None. Each listing
is a handful of queries, whatever the size. Nothing here writes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.care_notify import weekdays_text
from storage.care import CareSession, Enrollment, EnrollmentStatus, Programme
from storage.import_parse import WORDS
from storage.lending import LendItem, LendWait, Loan, LoanStatus, Station, WaitStatus
from storage.models import (
    Building,
    Community,
    Department,
    DepartmentMember,
    Grid,
    GridWorker,
    Place,
    Role,
    Street,
)
from storage.phones import masked

Ids = Collection[int] | None
"""Community ids in scope; None: all."""


@dataclass
class CommunityView:
    """A 社区 with its counts."""

    id: int
    street: str
    name: str
    phone: str | None
    estates: list[str]
    grids: int = 0
    buildings: int = 0
    staff: int = 0
    """Active staff of the community (grid workers included)."""


@dataclass
class BuildingRun:
    """Buildings ``first``..``last`` with default names, or one building (first == last)
    with its own ``name``."""

    first: int
    last: int
    name: str | None = None


@dataclass
class GridView:
    """A 网格: its buildings as runs (``building_ranges``), its workers and leaders by name."""

    id: int
    community_id: int
    community: str
    code: str
    name: str
    buildings: list[BuildingRun] = field(default_factory=list)
    building_count: int = 0
    workers: list[str] = field(default_factory=list)
    leaders: list[str] = field(default_factory=list)


@dataclass
class BuildingView:
    id: int
    community_id: int
    community: str
    number: int
    name: str
    grid_code: str
    grid_name: str
    latitude: float | None
    longitude: float | None


@dataclass
class StaffView:
    """A member of staff; ``phone`` is masked (``storage.phones.masked``), ``role`` the Role code."""

    id: int
    name: str
    role: str
    community: str | None
    grid_code: str | None
    phone: str | None
    active: bool
    has_password: bool
    login: str | None
    openid: str


@dataclass
class PlaceView:
    id: int
    community: str
    name: str
    aliases: list[str]
    grid_code: str


@dataclass
class DepartmentView:
    id: int
    community: str | None
    name: str
    phone: str | None
    members: list[str] = field(default_factory=list)


@dataclass
class Organisation:
    """Everything of the organisation in scope, each list in a stable order (community,
    then code / number / name)."""

    communities: list[CommunityView]
    grids: list[GridView]
    buildings: list[BuildingView]
    staff: list[StaffView]
    places: list[PlaceView]
    departments: list[DepartmentView]


def communities(session: Session, community_ids: Ids) -> list[tuple[int, str]]:
    """(id, name) of the communities ``community_ids`` (None: all), by street then id: a
    picker's options, without the rest of the organisation."""
    return [(i, name) for i, name in session.exec(
        select(Community.id, Community.name).join(Street, Street.id == Community.street_id)
        .where(_in(Community.id, community_ids)).order_by(Street.name, Community.id))]


def _in(column, ids: Ids):
    """The WHERE clause keeping rows of the communities ``ids`` (True for None)."""
    return True if ids is None else col(column).in_(list(ids))


def organisation(session: Session, community_ids: Ids) -> Organisation:
    """The communities ``community_ids`` (None: all) with their grids, buildings, staff,
    places and departments. Inactive staff are listed (``active`` False) after the others."""
    rows = session.exec(select(Community, Street.name).join(Street, Street.id == Community.street_id)
                        .where(_in(Community.id, community_ids))
                        .order_by(Street.name, Community.id)).all()
    communities = {c.id: CommunityView(c.id, street, c.name, c.phone, list(c.estates or []))
                   for c, street in rows}
    names = {i: v.name for i, v in communities.items()}
    grid_rows = session.exec(select(Grid).where(_in(Grid.community_id, community_ids))
                             .order_by(Grid.community_id, Grid.code)).all()
    grids = {g.id: GridView(g.id, g.community_id, names.get(g.community_id, ""), g.code, g.name)
             for g in grid_rows}
    buildings: list[BuildingView] = []
    by_grid: dict[int, list[BuildingView]] = defaultdict(list)
    for b in session.exec(select(Building).where(_in(Building.community_id, community_ids))
                          .order_by(Building.community_id, Building.number)):
        grid = grids.get(b.grid_id)
        view = BuildingView(b.id, b.community_id, names.get(b.community_id, ""), b.number, b.name,
                            grid.code if grid else "", grid.name if grid else "",
                            b.latitude, b.longitude)
        buildings.append(view)
        by_grid[b.grid_id].append(view)
    for grid_id, members in by_grid.items():
        if grid_id in grids:
            grids[grid_id].buildings = building_ranges(members)
            grids[grid_id].building_count = len(members)
    staff = _staff(session, community_ids, names, grids)
    for s, row in staff:
        if not s.active or row.grid_id not in grids:
            continue
        if row.role == Role.GRID_LEADER:
            grids[row.grid_id].leaders.append(s.name)
        elif row.role == Role.GRID_WORKER:
            grids[row.grid_id].workers.append(s.name)
    counts = {
        "grids": Counter(g.community_id for g in grids.values()),
        "buildings": Counter(b.community_id for b in buildings),
        "staff": Counter(row.community_id for s, row in staff if s.active),
    }
    for view in communities.values():
        view.grids, view.buildings = counts["grids"][view.id], counts["buildings"][view.id]
        view.staff = counts["staff"][view.id]
    places = [PlaceView(p.id, names.get(p.community_id, ""), p.name, list(p.aliases or []),
                        grids[p.grid_id].code if p.grid_id in grids else "")
              for p in session.exec(select(Place).where(_in(Place.community_id, community_ids))
                                    .order_by(Place.community_id, Place.name))]
    return Organisation(list(communities.values()), list(grids.values()), buildings,
                        [s for s, _ in staff], places, _departments(session, community_ids, names))


def _staff(session: Session, ids: Ids, names: dict[int, str],
           grids: dict[int, GridView]) -> list[tuple[StaffView, GridWorker]]:
    query = select(GridWorker)
    if ids is not None:
        query = query.where(col(GridWorker.community_id).in_(list(ids)))
    query = query.order_by(col(GridWorker.active).desc(), GridWorker.community_id,
                           GridWorker.grid_id, GridWorker.role, GridWorker.id)
    out = []
    for w in session.exec(query):
        grid = grids.get(w.grid_id) if w.grid_id else None
        out.append((StaffView(w.id, w.name, w.role, names.get(w.community_id) if w.community_id
                              else None, grid.code if grid else None, masked(w.phone),
                              w.active, bool(getattr(w, "password_hash", None)),
                              getattr(w, "login", None), w.openid), w))
    return out


def _departments(session: Session, ids: Ids, names: dict[int, str]) -> list[DepartmentView]:
    query = select(Department)
    if ids is not None:
        query = query.where(col(Department.community_id).in_(list(ids)))
    views = {d.id: DepartmentView(d.id, names.get(d.community_id) if d.community_id else None,
                                  d.name, d.phone)
             for d in session.exec(query.order_by(Department.community_id, Department.name))}
    if views:
        for dept_id, name in session.exec(
                select(DepartmentMember.department_id, GridWorker.name)
                .join(GridWorker, GridWorker.id == DepartmentMember.worker_id)
                .where(col(DepartmentMember.department_id).in_(list(views)), GridWorker.active)
                .order_by(GridWorker.id)):
            views[dept_id].members.append(name)
    return list(views.values())


def building_ranges(buildings: list[BuildingView]) -> list[BuildingRun]:
    """Runs of consecutive buildings with their default names (「3号楼」), and each
    building with a name of its own on its own, in number order: buildings 1, 2, 3, 4, 7 and
    A栋 (101) → [(1, 4, None), (7, 7, None), (101, 101, "A栋")]."""
    default = WORDS["buildings"]["default_name"]
    out: list[BuildingRun] = []
    for b in sorted(buildings, key=lambda b: b.number):
        if b.name != default.format(number=b.number):
            out.append(BuildingRun(b.number, b.number, b.name))
        elif out and out[-1].name is None and out[-1].last == b.number - 1:
            out[-1].last = b.number
        else:
            out.append(BuildingRun(b.number, b.number, None))
    return out


# ----------------------------------------------------------------------------- services
@dataclass
class ItemView:
    """One kind of thing a station lends: units in service, free, out, held, and the
    residents waiting."""

    id: int
    name: str
    total: int
    available: int
    out: int
    held: int
    waiting: int
    loan_days: int
    deposit_yuan: int
    needs_id: bool
    condition: str
    active: bool


@dataclass
class StationView:
    id: int
    community: str | None
    name: str
    address: str
    opening_hours: str
    phone: str | None
    max_open_per_resident: int
    hold_hours: int
    active: bool
    items: list[ItemView] = field(default_factory=list)


def stations(session: Session, community_ids: Ids) -> list[StationView]:
    """Lending stations of ``community_ids`` (None: all, stations of no community too) with
    their items and stock, active first."""
    names = dict(session.exec(select(Community.id, Community.name)).all())
    query = select(Station)
    if community_ids is not None:
        query = query.where(col(Station.community_id).in_(list(community_ids)))
    views = {s.id: StationView(s.id, names.get(s.community_id), s.name, s.address,
                               s.opening_hours, s.phone, s.max_open_per_resident, s.hold_hours,
                               s.active)
             for s in session.exec(query.order_by(col(Station.active).desc(), Station.id))}
    if not views:
        return []
    items = session.exec(select(LendItem).where(col(LendItem.station_id).in_(list(views)))
                         .order_by(col(LendItem.active).desc(), LendItem.id)).all()
    ids = [i.id for i in items]
    units: dict[tuple[int, str], int] = {
        (item_id, status): int(n or 0) for item_id, status, n in session.exec(
            select(Loan.item_id, Loan.status, func.sum(Loan.quantity))
            .where(col(Loan.item_id).in_(ids), col(Loan.status).in_(LoanStatus.OPEN))
            .group_by(Loan.item_id, Loan.status))}
    waiting = dict(session.exec(select(LendWait.item_id, func.count())
                                .where(col(LendWait.item_id).in_(ids),
                                       LendWait.status == WaitStatus.WAITING)
                                .group_by(LendWait.item_id)).all())
    for i in items:
        views[i.station_id].items.append(ItemView(
            i.id, i.name, i.total, i.available, units.get((i.id, LoanStatus.OUT), 0),
            units.get((i.id, LoanStatus.HELD), 0), int(waiting.get(i.id, 0)), i.loan_days,
            i.deposit_yuan, i.needs_id, i.condition, i.active))
    return list(views.values())


@dataclass
class SessionView:
    """A term or class: schedule as people read it, places and who holds or waits."""

    id: int
    name: str
    starts_on: date | None
    ends_on: date | None
    """Local dates; None: open-ended."""
    weekdays: str
    """「周一至周五」."""
    start_time: str
    end_time: str
    """Local HH:MM."""
    capacity: int
    enrolled: int
    offered: int
    waiting: int
    active: bool


@dataclass
class ProgrammeView:
    id: int
    community: str | None
    name: str
    kind: str
    location: str
    grade_min: int
    grade_max: int
    fee_yuan: int
    active: bool
    sessions: list[SessionView] = field(default_factory=list)


def programmes(session: Session, community_ids: Ids) -> list[ProgrammeView]:
    """Care programmes of ``community_ids`` (None: all) with their sessions: capacity,
    enrolled, offered (a place held for a family) and waiting-list counts."""
    names = dict(session.exec(select(Community.id, Community.name)).all())
    query = select(Programme)
    if community_ids is not None:
        query = query.where(col(Programme.community_id).in_(list(community_ids)))
    views = {p.id: ProgrammeView(p.id, names.get(p.community_id), p.name, p.kind, p.location,
                                 p.grade_min, p.grade_max, p.fee_yuan, p.active)
             for p in session.exec(query.order_by(col(Programme.active).desc(), Programme.id))}
    if not views:
        return []
    rows = session.exec(select(CareSession).where(col(CareSession.programme_id).in_(list(views)))
                        .order_by(CareSession.programme_id, CareSession.id)).all()
    counts: dict[tuple[int, str], int] = {
        (sid, status): int(n) for sid, status, n in session.exec(
            select(Enrollment.session_id, Enrollment.status, func.count())
            .where(col(Enrollment.session_id).in_([r.id for r in rows]),
                   col(Enrollment.status).in_(EnrollmentStatus.ACTIVE))
            .group_by(Enrollment.session_id, Enrollment.status))}
    for r in rows:
        views[r.programme_id].sessions.append(SessionView(
            r.id, r.name, r.starts_on, r.ends_on, weekdays_text(r),
            r.start_time, r.end_time, r.capacity,
            counts.get((r.id, EnrollmentStatus.ENROLLED), 0),
            counts.get((r.id, EnrollmentStatus.OFFERED), 0),
            counts.get((r.id, EnrollmentStatus.WAITING), 0), r.active))
    return list(views.values())
