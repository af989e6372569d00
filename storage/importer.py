"""`gridbot import FILE`: load a community's structure and staff from YAML or CSV, all or
nothing.

YAML (one community per file)::

    street: 和平街道
    community: 幸福新社区
    phone: 024-12345678              # optional, shown to residents
    estates: [阳光小区, 阳光花园]      # optional: the 小区 names residents use (Community.estates)
    grids:
      - code: G01                    # unique within the community
        name: 第一网格
        buildings: [1, 2, 3, "4-6", A栋]   # numbers, ranges, lettered names; or mappings
                                     # {number: 7, lat: 41.80, lng: 123.43}, {number: 101,
                                     # name: A栋}, {label: B座}
        workers:                     # role: English code or 网格员/网格长/社区管理员/部门/驿站管理员
          - {name: 王芳, openid: oWorker1, phone: "13800000001"}   # role defaults to grid_worker
          - {name: 李强, openid: oLeader1, role: 网格长}
          - {name: 刘洋, openid: oWorker9, left: 是}    # left the staff: open tickets handed over
    places:                          # optional: public places, each covered by one grid
      - {name: 东门, grid: G01, aliases: [东大门], lat: 41.801, lng: 123.432}  # lat/lng optional
    staff:                           # community-level staff (no grid)
      - {name: 赵敏, openid: oAdmin1, role: community_admin}
    departments:                     # optional: 网格吹哨、部门报到 (转派 targets, 督办 level 3)
      - name: 物业公司                # unique within the community
        phone: 024-88886666
        members:                     # role defaults to department
          - {name: 孙工, openid: oDept1}
      - {name: 城管, scope: 街道}      # a 街道部门: no community, serves all (name unique
                                     # among them); scope 社区 (the default) or 街道
    residents:                       # optional: care levels 红橙黄蓝绿 (or 无) of followers,
      - {resident: 3-2-501, level: 红}  # named by address, phone tail or OpenID

CSV (UTF-8, header row; one row per grid worker, or a grid with no name/openid)::

    street,community,grid_code,grid_name,buildings,name,openid,phone,role
    和平街道,幸福新社区,G01,第一网格,1-4;A栋,王芳,oWorker1,13800000001,网格员

Optional columns: ``department`` (the row's person is a member; ``grid_code`` may be empty;
``department_scope`` 街道 makes it a street-level department),
``places`` (``东门=东大门/东侧门;健身区``: names, aliases after ``=``), ``wecom_userid``,
``left`` (是/yes: left the staff), ``resident`` + ``level`` (a care level).

Rows are matched by name (street, community), code within the community (grid), number or
name within the community (building), name within the community (place, department; a
street-level department by name among those) and OpenID (staff); importing the same file
again changes nothing. Coordinates are WGS-84.

Nothing is written unless the whole file is right: ``import_file`` lists *every* problem
(``ImportProblems``, each with file and line) — bad values, unknown roles, bad phone numbers,
duplicate codes, a building in two grids, an unknown grid, a grid that would change
community — and, unless ``allow_moves``, every move (a building, place or member of staff
changing grid or community). ``dry_run`` checks everything, writes inside a
savepoint and rolls it back. Writes are bulk statements: a few per table, whatever the size.

Files are operator input, checked before they cost anything: at most ``MAX_FILE_BYTES``
(read no further), UTF-8 (else the line and byte offset of the first bad byte), YAML with no
aliases and no nesting deeper than ``import_parse.MAX_YAML_DEPTH``; messages quote values
cut to ~80 characters.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import UniqueConstraint, insert, update
from sqlmodel import Session, col, select

from storage import ImportFormatError, NotFound, import_parse
from storage.import_parse import (
    BUILDING_MAX,
    WORDS,
    Parsed,
    Problem,
)
from storage.models import (
    Building,
    Community,
    Department,
    DepartmentMember,
    Grid,
    GridWorker,
    Place,
    Resident,
    Street,
)
from storage.vulnerability import AmbiguousResident, find_resident

if TYPE_CHECKING:
    from storage.services_import import ServicesReport

MAX_FILE_BYTES = 2 * 1024 * 1024
"""Largest import file accepted. A community's file is tens of KB; PyYAML needs about 2 s
and 60 MB of memory per MB of YAML, so a larger file is refused before it is parsed."""
LABEL_NUMBERS_FROM = BUILDING_MAX + 1
"""Lettered buildings given by name only ({label: A栋}) are numbered from here, out of the
range residents write, so ``storage.org.find_building`` finds them by name."""
BATCH_ROWS = 1000
"""Rows per bulk insert: a few statements for a city's file, and a moving progress bar."""
DEFAULT_STREET: str = WORDS["defaults"]["street"]
_quote = ImportFormatError.quote
Progress = Callable[[int, int], None]
"""progress(done, total): records written so far of all the file's records."""


class ImportProblems(ImportFormatError):
    """The file has ``problems`` (a list of ``import_parse.Problem``, in file order); nothing
    was written. ``str()`` is the first few, one line; print ``problems`` for all."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__("; ".join(map(str, problems[:3])) + more)


@dataclass
class StaffChange:
    """A member of staff who left or changed grid: their open tickets of ``from_grid_id``
    need a new handler (``services.org_import``)."""

    worker_id: int
    from_grid_id: int | None
    left: bool


@dataclass
class MissingStaff:
    """An active member of staff of ``grid`` (a code) of ``community`` that the file's list
    of that grid's workers leaves out."""

    community: str
    grid: str
    name: str
    openid: str


@dataclass
class ImportReport:
    """What the import did (or, dry run, would do): rows per table ("grids", "buildings",
    "staff" …) created, updated, left unchanged and moved (to another grid or street), staff
    who left, and the staff changes whose tickets need handing over."""

    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    moved: Counter = field(default_factory=Counter)
    left: int = 0
    dry_run: bool = False
    staff_changes: list[StaffChange] = field(default_factory=list)
    """Also on a dry run (the workers exist already: only existing staff leave or move)."""
    handed_over: int = 0
    """Open tickets handed to another handler, or on a dry run that would be (set by
    ``services.org_import``)."""
    notes: list[str] = field(default_factory=list)
    missing: list[MissingStaff] = field(default_factory=list)
    """Active staff of a grid whose list in the file leaves them out: not changed, listed
    so staff mark a leaver ``left: 是`` (nothing is deleted silently)."""
    services: ServicesReport | None = None
    """Stations, items, programmes and sessions created or updated (or, dry run, that would
    be), when the file has ``stations``/``programmes``."""

    streets = property(lambda self: self.created["streets"])
    communities = property(lambda self: self.created["communities"])
    grids = property(lambda self: self.created["grids"])
    buildings = property(lambda self: self.created["buildings"])
    places = property(lambda self: self.created["places"])
    workers = property(lambda self: self.created["staff"])
    departments = property(lambda self: self.created["departments"])

    def __str__(self) -> str:
        def line(label: str, counts: Counter) -> str:
            return f"{label} " + (", ".join(f"{k} {v}" for k, v in counts.items() if v) or "0")
        parts = [line("created", self.created), line("updated", self.updated),
                 line("unchanged", self.unchanged), line("moved", self.moved)]
        if self.left:
            parts.append(f"left {self.left}")
        if self.handed_over:
            parts.append(f"tickets handed over {self.handed_over}")
        return "; ".join(parts + self.notes)


def import_file(session: Session, path: Path, *, dry_run: bool = False,
                allow_moves: bool = False, progress: Progress | None = None) -> ImportReport:
    """Import ``path`` (.yaml/.yml or .csv) into ``session``, flushed, not committed (the
    caller's transaction holds it all). ``dry_run``: check and count only, the session is
    left as it was.

    Raises ImportFormatError (one line) for a file of another type, too large, not UTF-8 or
    not YAML/CSV; ImportProblems listing every problem (moves too, unless ``allow_moves``).
    """
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".csv"):
        raise ImportFormatError(f"{path.name}: use a .yaml, .yml or .csv file", "wrong_type",
                                file=path.name, line=None)
    parsed = import_parse.parse(read_text(path), path.name, suffix)
    plan = _Plan(session, parsed, allow_moves)
    problems = parsed.problems + plan.problems
    if problems:
        raise ImportProblems(sorted(problems, key=_file_order))
    plan.report.dry_run = dry_run
    savepoint = session.begin_nested()
    try:
        plan.apply(progress)
        if parsed.services is not None:
            from storage.services_import import import_services

            plan.report.services = import_services(session, parsed.services)
            plan.report.notes.append(str(plan.report.services))
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    return plan.report


def _file_order(problem: Problem) -> tuple[int, str]:
    line = problem.where.rpartition(" line ")[2]
    return (int(line) if line.isdigit() else 0), problem.where


def read_text(path: Path) -> str:
    """The text of an import file: at most MAX_FILE_BYTES bytes of UTF-8 (a BOM is dropped).

    Raises ImportFormatError naming the limit, or the line and byte offset of the first byte
    that is not UTF-8 or is NUL (no database column takes it). Never reads more than
    MAX_FILE_BYTES + 1 bytes.
    """
    with path.open("rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ImportFormatError(f"{path.name}: larger than the {MAX_FILE_BYTES // 2**20} MB "
                                f"limit of an import file; split it into several files",
                                "too_large", file=path.name, line=None,
                                mb=MAX_FILE_BYTES // 2**20)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFormatError(f"{path.name} line {line} (byte {exc.start}): not UTF-8 "
                                f"(byte 0x{data[exc.start]:02x}); save the file as UTF-8",
                                "not_utf8", file=path.name, line=line, byte=exc.start,
                                value=f"0x{data[exc.start]:02x}") from None
    if (nul := data.find(b"\0")) >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ImportFormatError(f"{path.name} line {line} (byte {nul}): a NUL byte; "
                                f"save the file as UTF-8 text", "nul_byte", file=path.name,
                                line=line, byte=nul)
    return text.removeprefix("\ufeff")


def _global_codes(model: type, column: str) -> bool:
    """Whether ``model.column`` is unique across all communities in this schema (before
    codes became unique within their parent)."""
    table = model.__table__  # type: ignore[attr-defined]
    return bool(table.c[column].unique) or any(
        isinstance(c, UniqueConstraint) and [x.name for x in c.columns] == [column]
        for c in table.constraints)


GridKey = tuple[str, str]
"""(community name, grid code)."""


class _Plan:
    """The file compared with the database: problems, counts, and the rows to write.

    Reads the rows of the file's communities with one query per table; ``apply`` writes
    with one bulk statement per table and kind of change.
    """

    def __init__(self, session: Session, parsed: Parsed, allow_moves: bool) -> None:
        self.s, self.p, self.allow_moves = session, parsed, allow_moves
        self.problems: list[Problem] = []
        self.report = ImportReport()
        names = {c.name for c in parsed.communities}
        self.streets = {r.name: r for r in session.exec(select(Street).where(
            col(Street.name).in_({c.street or DEFAULT_STREET for c in parsed.communities})))}
        found: dict[str, list[tuple[Community, str]]] = {}
        for row, street in session.exec(select(Community, Street.name).join(
                Street, Street.id == Community.street_id).where(col(Community.name).in_(names))):
            found.setdefault(row.name, []).append((row, street))
        self.communities: dict[str, Community] = {}
        for rec in parsed.communities:  # same street; or, no street named, the only one
            match = [row for row, street in found.get(rec.name, []) if street == rec.street]
            if rec.street is None and len(found.get(rec.name, [])) == 1:
                match = [found[rec.name][0][0]]
            if match:
                self.communities[rec.name] = match[0]
        ids = [c.id for c in self.communities.values()]
        by_id = {c.id: c.name for c in self.communities.values()}
        self.grids: dict[GridKey, Grid] = {
            (by_id[g.community_id], g.code): g
            for g in session.exec(select(Grid).where(col(Grid.community_id).in_(ids)))}
        self.grid_key = {g.id: k for k, g in self.grids.items()}
        self.buildings = list(session.exec(select(Building).where(
            col(Building.community_id).in_(ids))))
        self.places = {(by_id[r.community_id], r.name): r for r in session.exec(
            select(Place).where(col(Place.community_id).in_(ids)))}
        self.staff = {r.openid: r for r in session.exec(select(GridWorker).where(
            col(GridWorker.openid).in_({s.openid for s in parsed.staff})))}
        self.departments = {(by_id.get(r.community_id, ""), r.name): r for r in session.exec(
            select(Department).where(col(Department.name).in_({d.name for d in parsed.departments}),
                                     col(Department.community_id).in_(ids)
                                     | col(Department.community_id).is_(None)))}
        """{(community name, or "" for a street-level one; name): row} (``DepartmentRec.key``)."""
        self._check()

    # ------------------------------------------------------------------------- checks
    def problem(self, where: str, key: str, **fields: object) -> None:
        """Note a problem of kind ``key`` (``import_parse.PROBLEMS``) at ``where``."""
        self.problems.append(Problem(where, key, fields))

    def move(self, table: str, where: str, key: str, **fields: object) -> None:
        """Count a move; without ``allow_moves`` it is a problem of kind ``key``."""
        self.report.moved[table] += 1
        if not self.allow_moves:
            self.problem(where, key, **fields)

    def _check(self) -> None:
        self._check_communities()
        self._check_grids()
        self._check_buildings()
        self._check_places()
        self._check_staff()
        self._check_missing_staff()
        self._check_departments()
        self._check_levels()

    def _tally(self, table: str, row: object | None, values: dict) -> bool:
        """Count ``row`` as created (None), updated or unchanged given the new ``values``;
        True when it needs writing."""
        if row is None:
            self.report.created[table] += 1
            return True
        if any(getattr(row, k) != v for k, v in values.items()):
            self.report.updated[table] += 1
            return True
        self.report.unchanged[table] += 1
        return False

    def _check_communities(self) -> None:
        wanted = {c.street or DEFAULT_STREET for c in self.p.communities
                  if c.name not in self.communities}
        self.new_streets = sorted(wanted - set(self.streets))
        self.report.created["streets"] += len(self.new_streets)
        self.community_rows: list[tuple[str, str | None, dict]] = []
        for rec in self.p.communities:
            row = self.communities.get(rec.name)
            values = {"phone": rec.phone or (row.phone if row else None),
                      "estates": rec.estates if rec.estates is not None else (
                          row.estates if row else [])}
            if self._tally("communities", row, values):
                self.community_rows.append((rec.name, rec.street, values))

    def _check_grids(self) -> None:
        seen: dict[GridKey, str] = {}
        self.grid_writes: list[tuple[GridKey, str]] = []
        built = {(b.community, b.grid) for b in self.p.buildings} | self.p.building_specs
        global_codes = _global_codes(Grid, "code")
        elsewhere: dict[str, str] = {}
        if global_codes:
            ids = [c.id for c in self.communities.values()]
            elsewhere = {g.code: name for g, name in self.s.exec(
                select(Grid, Community.name).join(Community, Community.id == Grid.community_id)
                .where(col(Grid.code).in_({g.code for g in self.p.grids}),
                       col(Grid.community_id).not_in(ids)))}
        for rec in self.p.grids:
            key = (rec.community, rec.code)
            if key in seen:
                self.problem(rec.where, "duplicate_grid", code=rec.code, community=rec.community,
                             first=seen[key])
                continue
            seen[key] = rec.where
            row = self.grids.get(key)
            if row is None and rec.code in elsewhere:
                self.problem(rec.where, "grid_elsewhere", code=rec.code,
                             other=elsewhere[rec.code], community=rec.community)
                continue
            if row is None and key not in built:
                self.problem(rec.where, "unknown_grid", code=rec.code)
                continue
            name = rec.name or (row.name if row else rec.code)
            if self._tally("grids", row, {"name": name}):
                self.grid_writes.append((key, name))
        self.file_grids = set(seen)

    def _check_buildings(self) -> None:
        mine = [b for b in self.buildings if b.grid_id in self.grid_key]
        by_number = {(self.grid_key[b.grid_id][0], b.number): b for b in mine}
        by_name = {(self.grid_key[b.grid_id][0], b.name.strip().upper()): b for b in mine}
        next_number: dict[str, int] = {}
        for b in mine:
            c = self.grid_key[b.grid_id][0]
            next_number[c] = max(next_number.get(c, LABEL_NUMBERS_FROM), b.number + 1)
        seen: dict[tuple[str, object], tuple[import_parse.BuildingRec, dict]] = {}
        planned: list[tuple[Building | None, dict, str]] = []
        for rec in self.p.buildings:
            key = (rec.community, rec.number if rec.number is not None else rec.name.upper())
            if key in seen:
                first, values = seen[key]
                if first.grid != rec.grid:
                    self.problem(rec.where, "building_two_grids", building=rec.number or rec.name,
                                 first_grid=first.grid, first=first.where, grid=rec.grid)
                elif rec.lat is not None:
                    values["latitude"], values["longitude"] = rec.lat, rec.lng
                continue
            row = (by_number.get(key) if rec.number is not None else by_name.get(key))
            number = rec.number if rec.number is not None else (
                row.number if row else next_number.get(rec.community, LABEL_NUMBERS_FROM))
            if row is None and rec.number is None:
                next_number[rec.community] = number + 1
            name = rec.name or (row.name if row else
                                WORDS["buildings"]["default_name"].format(number=number))
            values = {"number": number, "name": name, "grid": (rec.community, rec.grid)}
            if rec.lat is not None or row is None:
                values["latitude"], values["longitude"] = rec.lat, rec.lng
            seen[key] = (rec, values)
            planned.append((row, values, rec.where))
        self.building_writes = []
        for row, values, where in planned:
            compare = {k: v for k, v in values.items() if k != "grid"}
            if row is not None:
                compare["grid_id"] = self.grids.get(values["grid"], Grid(id=-1)).id
                if row.grid_id != compare["grid_id"]:
                    old = self.grid_key.get(row.grid_id, ("", "?"))[1]
                    self.move("buildings", where, "move_building", building=row.name, old=old,
                              grid=values["grid"][1])
                    self.report.updated["buildings"] -= 1  # counted as moved, not updated
            if self._tally("buildings", row, compare):
                self.building_writes.append((row, values))

    def _grid_known(self, key: GridKey) -> bool:
        return key in self.file_grids or key in self.grids

    def _check_places(self) -> None:
        seen: dict[tuple[str, str], import_parse.PlaceRec] = {}
        self.place_writes: list[tuple[Place | None, dict]] = []
        for rec in self.p.places:
            key = (rec.community, rec.name)
            if key in seen:  # a CSV repeats its grid's places on each worker's row
                if (seen[key].grid, seen[key].aliases) != (rec.grid, rec.aliases):
                    self.problem(rec.where, "place_twice", place=rec.name,
                                 first=seen[key].where)
                continue
            seen[key] = rec
            if not self._grid_known((rec.community, rec.grid)):
                known = sorted({c for k, c in [*self.file_grids, *self.grids] if k == rec.community})
                self.problem(rec.where, "place_unknown_grid", grid=_quote(rec.grid),
                             place=_quote(rec.name), community=rec.community,
                             known=", ".join(known) or "-")
                continue
            row = self.places.get(key)
            if row is not None and self.grid_key.get(row.grid_id) != (rec.community, rec.grid):
                self.move("places", rec.where, "move_place", place=rec.name, grid=rec.grid)
            values = {"name": rec.name, "aliases": rec.aliases, "latitude": rec.lat, "longitude": rec.lng,
                      "grid": (rec.community, rec.grid)}
            compare = {k: v for k, v in values.items() if k != "grid"}
            if row is not None:
                compare["grid_id"] = self.grids.get(values["grid"], Grid(id=-1)).id
            if self._tally("places", row, compare):
                self.place_writes.append((row, values))

    def _check_staff(self) -> None:
        seen: dict[str, import_parse.StaffRec] = {}
        self.staff_writes: list[tuple[GridWorker | None, import_parse.StaffRec]] = []
        self.changes: list[StaffChange] = []
        for rec in self.p.staff:
            first = seen.get(rec.openid)
            if first is not None:
                if (first.community, first.grid, first.role, first.left) != (
                        rec.community, rec.grid, rec.role, rec.left):
                    self.problem(rec.where, "staff_twice", openid=rec.openid, first=first.where)
                continue
            seen[rec.openid] = rec
            if rec.grid is not None and not self._grid_known((rec.community, rec.grid)):
                continue  # reported with the grid
            row = self.staff.get(rec.openid)
            if rec.left:
                if row is not None and row.active:
                    self.report.left += 1
                    self.changes.append(StaffChange(row.id, row.grid_id, True))  # type: ignore[arg-type]
                    self.staff_writes.append((row, rec))
                else:
                    self.report.unchanged["staff"] += 1
                continue
            if row is not None and row.active:
                old = self.grid_key.get(row.grid_id) if row.grid_id else None
                new = (rec.community, rec.grid) if rec.grid else None
                community = self.communities.get(rec.community)
                if (old != new or community is None or row.community_id != community.id) and (
                        row.grid_id is not None or row.community_id is not None):
                    self.move("staff", rec.where, "move_staff", name=rec.name, openid=rec.openid,
                              target=f"{rec.community} {rec.grid or ''}".rstrip())
                    self.report.updated["staff"] -= 1
                    if row.grid_id is not None:
                        self.changes.append(StaffChange(row.id, row.grid_id, False))  # type: ignore[arg-type]
            values = {"name": rec.name, "role": rec.role, "active": True,
                      "phone": rec.phone or (row.phone if row else None),
                      "wecom_userid": rec.wecom_userid or (row.wecom_userid if row else None)}
            if row is not None:
                grid = self.grids.get((rec.community, rec.grid)) if rec.grid else None
                values["grid_id"] = grid.id if grid else (-1 if rec.grid else None)
                community = self.communities.get(rec.community)
                values["community_id"] = community.id if community else -1
            if self._tally("staff", row, values):
                self.staff_writes.append((row, rec))

    def _check_missing_staff(self) -> None:
        """Active staff of each grid whose workers the file lists, who are not in the file
        at all: reported (``ImportReport.missing``), never changed."""
        listed = {s.openid for s in self.p.staff}
        grids = {self.grids[(s.community, s.grid)].id: (s.community, s.grid)
                 for s in self.p.staff if s.grid is not None and (s.community, s.grid) in self.grids}
        if not grids:
            return
        for row in self.s.exec(select(GridWorker).where(
                GridWorker.active, col(GridWorker.grid_id).in_(grids),
                col(GridWorker.openid).not_in(listed)).order_by(col(GridWorker.id))):
            community, grid = grids[row.grid_id]
            self.report.missing.append(MissingStaff(community, grid, row.name, row.openid))

    def _check_departments(self) -> None:
        self.department_writes: list[tuple[Department | None, import_parse.DepartmentRec,
                                           bool]] = []
        seen: dict[tuple[str, str], str] = {}
        for rec in self.p.departments:
            if rec.key in seen:
                self.problem(rec.where, "duplicate_department", department=rec.name,
                             first=seen[rec.key])
                continue
            seen[rec.key] = rec.where
            row = self.departments.get(rec.key)
            values = {"phone": rec.phone or (row.phone if row else None)}
            changed = self._tally("departments", row, values)
            self.department_writes.append((row, rec, changed))  # members may still be new

    def _check_levels(self) -> None:
        self.level_writes: list[tuple[int, str | None]] = []
        for rec in self.p.levels:
            try:
                resident = find_resident(self.s, rec.ref, rec.community)
            except NotFound:
                self.problem(rec.where, "no_resident", ref=_quote(rec.ref), community=rec.community)
                continue
            except AmbiguousResident as exc:
                self.problem(rec.where, "ambiguous_resident", ref=_quote(rec.ref),
                             count=len(exc.candidates))
                continue
            if self._tally("levels", resident, {"vulnerability": rec.level}):
                self.level_writes.append((resident.id, rec.level))

    # ------------------------------------------------------------------------- writes
    def apply(self, progress: Progress | None) -> None:
        """Write the plan: a few bulk statements per table (inserts in batches of
        ``BATCH_ROWS``, the progress moving after each). Flushes; the caller commits."""
        self._progress, self._done, self._end = progress, 0, 0
        s = self.s
        s.flush()
        for name in self.new_streets:
            street = Street(name=name)
            s.add(street)
            s.flush()
            self.streets[name] = street
        for name, street, values in self.community_rows:
            row = self.communities.get(name) or Community(
                name=name, street_id=self.streets[street or DEFAULT_STREET].id)
            row.phone, row.estates = values["phone"], values["estates"]
            s.add(row)
            s.flush()
            self.communities[name] = row
        cid = {name: row.id for name, row in self.communities.items()}
        with self._phase(len(self.p.grids)):
            self._write_grids(cid)
        gid = {key: row.id for key, row in self.grids.items()}
        with self._phase(len(self.p.buildings)):
            self._upsert(Building, [(row, {"community_id": cid[v["grid"][0]],
                                           "grid_id": gid[v["grid"]],
                                           **{k: x for k, x in v.items() if k != "grid"}})
                                    for row, v in self.building_writes])
        with self._phase(len(self.p.places)):
            self._upsert(Place, [(row, {"community_id": cid[v["grid"][0]], "grid_id": gid[v["grid"]],
                                        **{k: x for k, x in v.items() if k != "grid"}})
                                 for row, v in self.place_writes])
        with self._phase(len(self.p.staff)):
            self._write_staff(cid, gid)
        with self._phase(len(self.p.departments)):
            self._write_departments(cid)
        with self._phase(len(self.p.levels)):
            if self.level_writes:
                s.execute(update(Resident), [{"id": i, "vulnerability": v}
                                             for i, v in self.level_writes])
        s.expire_all()

    @contextlib.contextmanager
    def _phase(self, records: int) -> Iterator[None]:
        """Writing ``records`` of the file: the progress reaches their end when done."""
        self._end = self._done + records
        yield
        self._advance(records)

    def _advance(self, rows: int) -> None:
        self._done = min(self._done + rows, self._end)
        if self._progress:
            self._progress(self._done, max(self.p.size, 1))

    def _upsert(self, model: type, rows: list[tuple[object | None, dict]],
                key: tuple[str, ...] = ()) -> dict[tuple, int]:
        """Insert the rows whose object is None (an executemany per ``BATCH_ROWS``), update
        the others by primary key (an executemany per set of columns); returns {values of
        the ``key`` columns: id} of the inserted rows (nothing asked for when ``key`` is
        empty, so SQLite batches the insert too)."""
        new = [values for row, values in rows if row is None]
        old = [{"id": row.id, **values} for row, values in rows if row is not None]  # type: ignore[attr-defined]
        ids: dict[tuple, int] = {}
        # NULLs written out, so rows with and without a phone go in one batch
        statement = insert(model).execution_options(render_nulls=True)
        if key:
            statement = statement.returning(model.id, *(getattr(model, k) for k in key))  # type: ignore[attr-defined]
        for start in range(0, len(new), BATCH_ROWS):
            batch = new[start:start + BATCH_ROWS]
            result = self.s.execute(statement, batch)
            if key:
                ids.update({tuple(r[1:]): r[0] for r in result})
            self._advance(len(batch))
        for keys in {tuple(sorted(v)) for v in old}:
            self.s.execute(update(model), [v for v in old if tuple(sorted(v)) == keys])
        return ids

    def _write_grids(self, cid: dict[str, int]) -> None:
        rows = [(self.grids.get(key), {"community_id": cid[key[0]], "code": key[1], "name": name})
                for key, name in self.grid_writes]
        ids = self._upsert(Grid, rows, key=("community_id", "code"))
        for key, _ in self.grid_writes:
            if key not in self.grids:
                grid_id = ids[(cid[key[0]], key[1])]
                self.grids[key] = Grid(id=grid_id, community_id=cid[key[0]], code=key[1], name="")

    def _write_staff(self, cid: dict[str, int], gid: dict[GridKey, int]) -> None:
        rows = []
        for row, rec in self.staff_writes:
            if rec.left:
                rows.append((row, {"active": False}))
                continue
            rows.append((row, {
                "openid": rec.openid, "name": rec.name, "role": rec.role, "active": True,
                "phone": rec.phone or (row.phone if row else None),
                "wecom_userid": rec.wecom_userid or (row.wecom_userid if row else None),
                "grid_id": gid[(rec.community, rec.grid)] if rec.grid else None,
                "community_id": cid[rec.community]}))
        ids = self._upsert(GridWorker, [(r, {k: v for k, v in values.items()
                                             if r is None or k != "openid"})
                                        for r, values in rows], key=("openid",))
        self.staff_ids = {openid: row.id for openid, row in self.staff.items()}
        self.staff_ids.update({openid: i for (openid,), i in ids.items()})
        self.report.staff_changes = self.changes

    def _write_departments(self, cid: dict[str, int]) -> None:
        def community_id(rec: import_parse.DepartmentRec) -> int | None:
            return None if rec.street_level else cid[rec.community]

        rows = [(row, {"name": rec.name, "community_id": community_id(rec),
                       "phone": rec.phone or (row.phone if row else None)})
                for row, rec, changed in self.department_writes if changed]
        ids = self._upsert(Department, rows, key=("community_id", "name"))
        dept_ids = [row.id if row is not None else ids[(community_id(rec), rec.name)]
                    for row, rec, _ in self.department_writes]
        members = set(self.s.exec(select(DepartmentMember.department_id, DepartmentMember.worker_id)
                                  .where(col(DepartmentMember.department_id).in_(
                                      [i for i in dept_ids if i is not None]))))
        wanted = []
        for dept_id, (_, rec, _) in zip(dept_ids, self.department_writes, strict=True):
            for openid in dict.fromkeys(rec.members):
                worker_id = self.staff_ids.get(openid)
                if worker_id is not None and (dept_id, worker_id) not in members:
                    members.add((dept_id, worker_id))
                    wanted.append({"department_id": dept_id, "worker_id": worker_id})
        if wanted:
            self.s.execute(insert(DepartmentMember), wanted)
            self.report.created["members"] += len(wanted)
