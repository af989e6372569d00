"""`gridbot import FILE`: load a community's structure and staff from YAML or CSV.

YAML (one community per file)::

    street: 和平街道
    community: 幸福新社区
    phone: 024-12345678              # optional, shown to residents
    grids:
      - code: G01
        name: 第一网格
        buildings: [1, 2, 3, "4-6"]  # numbers or ranges; {number: 7, lat: 41.80, lng: 123.43}
        workers:
          - {name: 王芳, openid: oWorker1, phone: "13800000001"}            # role defaults to grid_worker
          - {name: 李强, openid: oLeader1, role: grid_leader}
    places:                          # optional: public places, each covered by one grid
      - {name: 东门, grid: G01, aliases: [东大门], lat: 41.801, lng: 123.432}  # lat/lng optional
    staff:                           # community-level staff (no grid)
      - {name: 赵敏, openid: oAdmin1, role: community_admin}
    departments:                     # optional: 网格吹哨、部门报到 (转派 targets, 督办 level 3)
      - name: 物业公司
        phone: 024-88886666
        members:                     # role defaults to department
          - {name: 孙工, openid: oDept1}

CSV (UTF-8, header row; one row per grid worker, or a grid with no name/openid)::

    street,community,grid_code,grid_name,buildings,name,openid,phone,role
    和平街道,幸福新社区,G01,第一网格,1-4,王芳,oWorker1,13800000001,grid_worker

An optional ``department`` column makes the row's person a member of that department
(created when new); such rows may leave ``grid_code`` empty. An optional ``places`` column
gives public places of the row's grid, ``;``-separated, each a name with optional aliases
after ``=``, ``/``-separated: ``东门=东大门/东侧门;健身区`` (no coordinates in CSV).

Importing is idempotent: rows are matched by name (street, community), code (grid), number
(building), name within the community (place) and OpenID (staff) and updated. A place's
``grid`` must be a grid code of the same community (in the file or imported before).
Coordinates are WGS-84 degrees (what a WeChat location message carries).
Raises ImportFormatError naming the line.

Files are operator input, checked before they cost anything: at most ``MAX_FILE_BYTES``
(read no further), UTF-8 (else the line and byte offset of the first bad byte), YAML with no
aliases (``*name``: an alias bomb expands a few hundred bytes into gigabytes) and no nesting
deeper than ``MAX_YAML_DEPTH``; error messages quote values cut to ~80 characters.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, select

from storage import ImportFormatError
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

MAX_FILE_BYTES = 2 * 1024 * 1024
"""Largest import file accepted. A community's file is tens of KB; PyYAML needs about 2 s
and 60 MB of memory per MB of YAML, so a larger file is refused before it is parsed."""
MAX_YAML_DEPTH = 32
"""Deepest nesting of YAML lists and mappings accepted (the format itself needs 4)."""
BUILDING_MAX = 9999
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed
_quote = ImportFormatError.quote


@dataclass
class ImportReport:
    """Counts of rows created or updated, per table."""

    streets: int = 0
    communities: int = 0
    grids: int = 0
    buildings: int = 0
    workers: int = 0
    departments: int = 0
    places: int = 0
    notes: list[str] = field(default_factory=list)


def parse_buildings(spec: Any, where: str) -> list[int]:
    """[1, "3-5", "7;8"] or "1-4;7" → [1, 3, 4, 5, 7, 8], each 1..BUILDING_MAX; an item
    ``{number: 7, lat: …, lng: …}`` counts as its number (``building_coordinates``).
    Raises ImportFormatError."""
    items = spec if isinstance(spec, list) else str(spec).replace("；", ";").split(";")
    numbers: list[int] = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("number", "")
        text = str(item).strip().removesuffix("号楼").removesuffix("栋")
        if not text:
            continue
        try:
            if "-" in text:
                lo, hi = (int(x) for x in text.split("-", 1))
            else:
                lo = hi = int(text)
            if lo < 1 or hi < lo or hi > BUILDING_MAX or hi - lo > 500:
                raise ValueError
            numbers.extend(range(lo, hi + 1))
        except ValueError:
            raise ImportFormatError(f"{where}: bad building number or range {_quote(item)} "
                                    f"(numbers 1..{BUILDING_MAX})") from None
    return numbers


def building_coordinates(spec: Any, where: str) -> dict[int, tuple[float, float]]:
    """{number: (lat, lng)} of the ``{number, lat, lng}`` items of a grid's buildings.
    Raises ImportFormatError."""
    items = spec if isinstance(spec, list) else []
    return {int(parse_buildings([item], where)[0]): _coordinates(item, where)
            for item in items if isinstance(item, dict)}


def _coordinates(spec: dict, where: str) -> tuple[float, float]:
    """(lat, lng) of a mapping with lat and lng in WGS-84 degrees. Raises ImportFormatError."""
    try:
        lat, lng = float(spec["lat"]), float(spec["lng"])
    except (KeyError, TypeError, ValueError):
        raise ImportFormatError(f"{where}: lat and lng must be numbers (degrees), not "
                                f"{_quote(spec.get('lat'))}, {_quote(spec.get('lng'))}") from None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise ImportFormatError(f"{where}: lat {lat}, lng {lng} is not on Earth")
    return lat, lng


def import_file(session: Session, path: Path) -> ImportReport:
    """Import ``path`` (.yaml/.yml or .csv) into ``session`` (caller commits).

    Raises ImportFormatError (one line, bounded length) for a file of another type, too
    large, not UTF-8 or malformed."""
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".csv"):
        raise ImportFormatError(f"{path.name}: use a .yaml, .yml or .csv file")
    text = read_text(path)
    if suffix == ".csv":
        return _import_csv(session, text, path.name)
    return _import_yaml(session, text, path.name)


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
                                f"limit of an import file; split it into several files")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFormatError(f"{path.name} line {line} (byte {exc.start}): not UTF-8 "
                                f"(byte 0x{data[exc.start]:02x}); save the file as UTF-8") from None
    if (nul := data.find(b"\0")) >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ImportFormatError(f"{path.name} line {line} (byte {nul}): a NUL byte; "
                                f"save the file as UTF-8 text")
    return text.removeprefix("\ufeff")


class _Loader:
    def __init__(self, session: Session) -> None:
        self.s = session
        self.report = ImportReport()

    def street(self, name: str) -> Street:
        row = self.s.exec(select(Street).where(Street.name == name)).first()
        if row is None:
            row = Street(name=name)
            self.s.add(row)
            self.s.flush()
            self.report.streets += 1
        return row

    def community(self, street: Street, name: str, phone: str | None) -> Community:
        row = self.s.exec(select(Community).where(Community.name == name)).first()
        if row is None:
            row = Community(name=name, street_id=street.id)
            self.s.add(row)
            self.report.communities += 1
        row.street_id = street.id
        if phone:
            row.phone = phone
        self.s.flush()
        return row

    def grid(self, community: Community, code: str, name: str) -> Grid:
        row = self.s.exec(select(Grid).where(Grid.code == code)).first()
        if row is None:
            row = Grid(code=code, name=name or code, community_id=community.id)
            self.s.add(row)
            self.report.grids += 1
        row.community_id = community.id
        if name:
            row.name = name
        self.s.flush()
        return row

    def building(self, community: Community, grid: Grid, number: int) -> Building:
        row = self.s.exec(
            select(Building).where(Building.community_id == community.id, Building.number == number)
        ).first()
        if row is None:
            row = Building(community_id=community.id, grid_id=grid.id, number=number,
                           name=f"{number}号楼")
            self.s.add(row)
            self.report.buildings += 1
        row.grid_id = grid.id
        self.s.flush()
        return row

    def place(self, where: str, community: Community, spec: Any) -> Place:
        if not isinstance(spec, dict) or not spec.get("name") or not spec.get("grid"):
            raise ImportFormatError(f"{where}: a place needs a name and a grid (code), "
                                    f"not {_quote(spec)}")
        grids = {g.code: g for g in self.s.exec(
            select(Grid).where(Grid.community_id == community.id).order_by(Grid.code))}
        grid = grids.get(str(spec["grid"]))
        if grid is None:
            raise ImportFormatError(
                f"{where}: unknown grid {_quote(spec['grid'])} for place {_quote(spec['name'])} "
                f"(grids of {community.name}: {', '.join(grids) or 'none'})")
        aliases = spec.get("aliases") or []
        if not isinstance(aliases, list):
            aliases = str(aliases).replace("，", ",").split(",")
        name = str(spec["name"]).strip()
        row = self.s.exec(select(Place).where(Place.community_id == community.id,
                                              Place.name == name)).first()
        if row is None:
            row = Place(community_id=community.id, grid_id=grid.id, name=name)
            self.s.add(row)
            self.report.places += 1
        row.grid_id = grid.id
        row.aliases = list(dict.fromkeys(a for a in (str(x).strip() for x in aliases)
                                         if a and a != name))
        has_coordinates = spec.get("lat") is not None or spec.get("lng") is not None
        row.latitude, row.longitude = (_coordinates(spec, where) if has_coordinates
                                       else (None, None))
        self.s.flush()
        return row

    def worker(self, where: str, community: Community, grid: Grid | None, spec: dict) -> GridWorker:
        if not isinstance(spec, dict):
            raise ImportFormatError(f"{where}: expected {{name, openid}}, not {_quote(spec)}")
        name, openid = spec.get("name"), spec.get("openid")
        if not name or not openid:
            raise ImportFormatError(f"{where}: a staff member needs name and openid")
        role = spec.get("role") or Role.GRID_WORKER
        if role not in Role.ALL:
            raise ImportFormatError(
                f"{where}: unknown role {_quote(role)} (one of {', '.join(Role.ALL)})")
        row = self.s.exec(select(GridWorker).where(GridWorker.openid == str(openid))).first()
        if row is None:
            row = GridWorker(openid=str(openid), name=str(name))
            self.s.add(row)
            self.report.workers += 1
        row.name = str(name)
        row.phone = str(spec["phone"]) if spec.get("phone") else row.phone
        row.role = role
        row.grid_id = grid.id if grid else None
        row.community_id = community.id
        row.wecom_userid = spec.get("wecom_userid") or row.wecom_userid
        row.active = True
        self.s.flush()
        return row

    def department(self, community: Community, name: str, phone: str | None) -> Department:
        row = self.s.exec(select(Department).where(Department.name == name)).first()
        if row is None:
            row = Department(name=name)
            self.s.add(row)
            self.report.departments += 1
        row.community_id = community.id
        if phone:
            row.phone = str(phone)
        self.s.flush()
        return row

    def member(self, department: Department, worker: GridWorker) -> None:
        exists = self.s.exec(select(DepartmentMember).where(
            DepartmentMember.department_id == department.id,
            DepartmentMember.worker_id == worker.id)).first()
        if exists is None:
            self.s.add(DepartmentMember(department_id=department.id, worker_id=worker.id))
            self.s.flush()


def _check_yaml_events(text: str, name: str) -> None:
    """Refuse aliases and deep nesting by scanning the parser's events, before anything is
    composed (libyaml composes aliases in C, where no hook can stop the expansion)."""
    depth = 0
    for event in yaml.parse(text, Loader=_YAML_LOADER):
        line = event.start_mark.line + 1 if event.start_mark else "?"
        if isinstance(event, yaml.AliasEvent):
            raise ImportFormatError(
                f"{name} line {line}: YAML aliases (*{_quote(event.anchor)[1:-1]}) are not "
                f"allowed in an import file; write the value out")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise ImportFormatError(f"{name} line {line}: nested deeper than "
                                        f"{MAX_YAML_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _import_yaml(session: Session, text: str, name: str) -> ImportReport:
    try:
        _check_yaml_events(text, name)
        doc = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ImportFormatError(f"{name}{line}: not valid YAML ({problem})") from None
    if not isinstance(doc, dict) or not doc.get("community"):
        raise ImportFormatError(f"{name}: expected a mapping with 'street', 'community' and 'grids'")
    load = _Loader(session)
    street = load.street(str(doc.get("street") or "未命名街道"))
    community = load.community(street, str(doc["community"]), doc.get("phone"))
    for i, g in enumerate(doc.get("grids") or [], start=1):
        where = f"{name} grids[{i}]"
        if not isinstance(g, dict) or not g.get("code"):
            raise ImportFormatError(f"{where}: a grid needs a code")
        grid = load.grid(community, str(g["code"]), str(g.get("name") or ""))
        for number in parse_buildings(g.get("buildings") or [], where):
            load.building(community, grid, number)
        for number, (lat, lng) in building_coordinates(g.get("buildings"), where).items():
            row = load.building(community, grid, number)
            row.latitude, row.longitude = lat, lng
        for j, w in enumerate(g.get("workers") or [], start=1):
            load.worker(f"{where}.workers[{j}]", community, grid, w)
    for j, p in enumerate(doc.get("places") or [], start=1):
        load.place(f"{name} places[{j}]", community, p)
    for j, w in enumerate(doc.get("staff") or [], start=1):
        load.worker(f"{name} staff[{j}]", community, None, w)
    for i, d in enumerate(doc.get("departments") or [], start=1):
        where = f"{name} departments[{i}]"
        if not isinstance(d, dict) or not d.get("name"):
            raise ImportFormatError(f"{where}: a department needs a name")
        department = load.department(community, str(d["name"]), d.get("phone"))
        for j, m in enumerate(d.get("members") or [], start=1):
            if not isinstance(m, dict):
                raise ImportFormatError(f"{where}.members[{j}]: expected {{name, openid}}")
            person = load.worker(f"{where}.members[{j}]", community, None,
                                 {"role": Role.DEPARTMENT, **m})
            load.member(department, person)
    if doc.get("stations") or doc.get("programmes"):
        from storage.services_import import import_services

        load.report.notes.append(str(import_services(session, doc)))
    return load.report


CSV_COLUMNS = ("street", "community", "grid_code", "grid_name", "buildings", "name", "openid",
               "phone", "role")


def _csv_rows(text: str, name: str) -> Iterator[tuple[int, dict[str, str | None]]]:
    """(line number, row) of a CSV text with a header; csv.Error → ImportFormatError."""
    reader = csv.DictReader(text.splitlines())
    try:
        missing = [c for c in ("community", "grid_code") if c not in (reader.fieldnames or [])]
        if missing:
            raise ImportFormatError(f"{name} line 1: missing column(s) {', '.join(missing)}")
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise ImportFormatError(f"{name} line {reader.line_num + 1}: not valid CSV ({exc})") from None


def _csv_places(cell: str, grid_code: str) -> list[dict[str, Any]]:
    """「东门=东大门/东侧门;健身区」 → place specs of the grid ``grid_code``."""
    specs = []
    for item in cell.replace("；", ";").split(";"):
        place, _, aliases = item.partition("=")
        if place.strip():
            specs.append({"name": place.strip(), "grid": grid_code,
                          "aliases": [a for a in aliases.split("/") if a.strip()]})
    return specs


def _import_csv(session: Session, text: str, name: str) -> ImportReport:
    rows = _csv_rows(text, name)
    load = _Loader(session)
    for line, row in rows:
        where = f"{name} line {line}"
        row = {k: (v or "").strip() for k, v in row.items() if k}
        if not row.get("community"):
            raise ImportFormatError(f"{where}: community is empty")
        street = load.street(row.get("street") or "未命名街道")
        community = load.community(street, row["community"], None)
        grid = None
        if row.get("grid_code"):
            grid = load.grid(community, row["grid_code"], row.get("grid_name", ""))
            for number in parse_buildings(row.get("buildings", ""), where):
                load.building(community, grid, number)
            for spec in _csv_places(row.get("places", ""), grid.code):
                load.place(where, community, spec)
        if row.get("name") or row.get("openid"):
            spec = dict(row)
            if row.get("department") and not row.get("role"):
                spec["role"] = Role.DEPARTMENT
            person = load.worker(where, community, grid, spec)
            if row.get("department"):
                load.member(load.department(community, row["department"], None), person)
    return load.report
