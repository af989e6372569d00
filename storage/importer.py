"""`gridbot import FILE`: load a community's structure and staff from YAML or CSV.

YAML (one community per file)::

    street: 和平街道
    community: 幸福新社区
    phone: 024-12345678              # optional, shown to residents
    grids:
      - code: G01
        name: 第一网格
        buildings: [1, 2, 3, "4-6"]  # numbers or ranges
        workers:
          - {name: 王芳, openid: oWorker1, phone: "13800000001"}            # role defaults to grid_worker
          - {name: 李强, openid: oLeader1, role: grid_leader}
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
(created when new); such rows may leave ``grid_code`` empty.

Importing is idempotent: rows are matched by name (street, community), code (grid), number
(building) and OpenID (staff) and updated. Raises ImportFormatError naming the line.
"""

from __future__ import annotations

import csv
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
    Role,
    Street,
)


@dataclass
class ImportReport:
    """Counts of rows created or updated, per table."""

    streets: int = 0
    communities: int = 0
    grids: int = 0
    buildings: int = 0
    workers: int = 0
    departments: int = 0
    notes: list[str] = field(default_factory=list)


def parse_buildings(spec: Any, where: str) -> list[int]:
    """[1, "3-5", "7;8"] or "1-4;7" → [1, 3, 4, 5, 7, 8]. Raises ImportFormatError."""
    items = spec if isinstance(spec, list) else str(spec).replace("；", ";").split(";")
    numbers: list[int] = []
    for item in items:
        text = str(item).strip().removesuffix("号楼").removesuffix("栋")
        if not text:
            continue
        try:
            if "-" in text:
                lo, hi = (int(x) for x in text.split("-", 1))
                if hi < lo or hi - lo > 500:
                    raise ValueError
                numbers.extend(range(lo, hi + 1))
            else:
                numbers.append(int(text))
        except ValueError:
            raise ImportFormatError(f"{where}: bad building number or range {item!r}") from None
    return numbers


def import_file(session: Session, path: Path) -> ImportReport:
    """Import ``path`` (.yaml/.yml or .csv) into ``session`` (caller commits)."""
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8-sig")
    if suffix in (".yaml", ".yml"):
        return _import_yaml(session, text, path.name)
    if suffix == ".csv":
        return _import_csv(session, text, path.name)
    raise ImportFormatError(f"{path.name}: use a .yaml, .yml or .csv file")


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

    def worker(self, where: str, community: Community, grid: Grid | None, spec: dict) -> GridWorker:
        name, openid = spec.get("name"), spec.get("openid")
        if not name or not openid:
            raise ImportFormatError(f"{where}: a staff member needs name and openid")
        role = spec.get("role") or Role.GRID_WORKER
        if role not in Role.ALL:
            raise ImportFormatError(f"{where}: unknown role {role!r} (one of {', '.join(Role.ALL)})")
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


def _import_yaml(session: Session, text: str, name: str) -> ImportReport:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ImportFormatError(f"{name}{line}: not valid YAML ({exc})") from None
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
        for j, w in enumerate(g.get("workers") or [], start=1):
            load.worker(f"{where}.workers[{j}]", community, grid, w)
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


def _import_csv(session: Session, text: str, name: str) -> ImportReport:
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in ("community", "grid_code") if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportFormatError(f"{name} line 1: missing column(s) {', '.join(missing)}")
    load = _Loader(session)
    for row in reader:
        where = f"{name} line {reader.line_num}"
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
        if row.get("name") or row.get("openid"):
            spec = dict(row)
            if row.get("department") and not row.get("role"):
                spec["role"] = Role.DEPARTMENT
            person = load.worker(where, community, grid, spec)
            if row.get("department"):
                load.member(load.department(community, row["department"], None), person)
    return load.report
