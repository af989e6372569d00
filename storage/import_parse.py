"""From an import file's text to records with their place in the file, and every problem
that needs no database (``storage.importer`` checks the rest against the database).

    parse(text, name, suffix) -> Parsed      records of each kind + ``problems``

Each record carries ``where`` ("c.yaml line 12", "c.csv line 3"). A problem never stops
parsing: all of a file's problems are listed at once. Only a file that cannot be read as
YAML/CSV at all raises ``storage.ImportFormatError`` (one line, bounded length).
The formats are documented in ``storage.importer``.
"""

from __future__ import annotations

import csv
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from storage import ImportFormatError, phones
from storage.models import Role
from storage.vulnerability import BadLevel, parse_level

MAX_YAML_DEPTH = 32
"""Deepest nesting of YAML lists and mappings accepted (the format itself needs 4)."""
BUILDING_MAX = 9999
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed
_quote = ImportFormatError.quote
WORDS = tomllib.loads((Path(__file__).with_name("import_words.toml")).read_text("utf-8"))
ROLE_NAMES: dict[str, str] = {**{r: r for r in Role.ALL}, **WORDS["roles"]}
"""Role as written (English code or a Chinese name in import_words.toml) → Role."""
_SUFFIXES = "|".join(map(re.escape, WORDS["buildings"]["suffixes"]))
_LABEL = re.compile(rf"[A-Za-z][A-Za-z0-9]{{0,3}}(?:{_SUFFIXES})")
"""A lettered building written bare in a list or CSV cell: 「A栋」, 「B座」, 「C5幢」."""
_NUMBER_SUFFIX = re.compile(rf"(?:{_SUFFIXES})$")


PROBLEMS = {
    "bad_building": "bad building number or range {value} (numbers 1..{max}, or a name like A栋)",
    "bad_building_number": "bad building number {value} (1..{max})",
    "building_needs_number": "a building needs a number or a label, not {value}",
    "bad_coordinates": "lat and lng must be numbers (degrees), not {lat}, {lng}",
    "off_earth": "lat {lat}, lng {lng} is not on Earth",
    "bad_phone": "bad phone number {value} (a mobile 1xxxxxxxxxx or a landline like 024-12345678)",
    "not_staff": "expected {{name, openid}}, not {value}",
    "staff_needs_name": "a staff member needs name and openid",
    "unknown_role": "unknown role {value} (one of {roles})",
    "bad_left": "left must be yes or no, not {value}",
    "not_level": "expected {{resident, level}}, not {value}",
    "bad_level": "care level {value} is not one of 红/橙/黄/蓝/绿 or none",
    "bad_estates": "estates must be a list of 小区 names, not {value}",
    "grid_needs_code": "a grid needs a code",
    "department_needs_name": "a department needs a name",
    "bad_department_scope": "a department's scope is 社区/community (the default) or "
                            "街道/street, not {value}",
    "not_list": "{key} must be a list, not {value}",
    "place_needs_grid": "a place needs a name and a grid (code), not {value}",
    "community_empty": "community is empty",
    "needs_grid_code": "buildings and places need a grid_code",
    "duplicate_grid": "duplicate grid code {code} in {community} (first at {first})",
    "grid_elsewhere": "grid {code} belongs to {other}; it cannot move to {community} (grid codes "
                      "are still unique across communities in this database)",
    "unknown_grid": "unknown grid {code}: not in the database and no buildings in the file "
                    "(give its buildings to create it)",
    "building_two_grids": "building {building} is in two grids: {first_grid} ({first}) and {grid}",
    "place_twice": "place {place} is given twice, differently (first at {first})",
    "place_unknown_grid": "unknown grid {grid} for place {place} (grids of {community}: {known})",
    "staff_twice": "openid {openid} is listed twice, differently (first at {first})",
    "duplicate_department": "duplicate department {department} (first at {first})",
    "no_resident": "no resident {ref} in {community} (address 3-2-501, phone tail or OpenID of "
                   "a follower)",
    "ambiguous_resident": "{ref} fits {count} residents; give the full phone number or the OpenID",
    "move_building": "building {building} moves from grid {old} to {grid} (a move: run with "
                     "--allow-moves to make it)",
    "move_place": "place {place} moves to grid {grid} (a move: run with --allow-moves to make it)",
    "move_staff": "{name} ({openid}) moves to {target} (a move: run with --allow-moves to make it)",
    "outside_community": "community {community} is not one you may import (yours: {allowed})",
    "outside_staff": "{name} ({openid}) is staff of another community or of the 街道; only "
                     "staff over it may change them",
    "outside_department": "street-level department {department} is the 街道's: only its staff may "
                          "create it or change its phone",
}
"""Problem kinds and their English text (logs, exceptions); the CLI shows staff the Chinese
of the same key and fields from the message catalogue (``import_problem.<key>``)."""


@dataclass
class Problem:
    """One thing wrong with the file: ``where`` ("c.yaml line 12"), its kind ``key`` (one of
    PROBLEMS) and the ``fields`` of its text (values already quoted)."""

    where: str
    key: str
    fields: dict[str, object] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """What is wrong, in English."""
        return PROBLEMS[self.key].format(**self.fields)

    @property
    def file_line(self) -> tuple[str, int | None]:
        """(file name, line) of ``where``; line None when unknown."""
        name, _, line = self.where.rpartition(" line ")
        return (name, int(line)) if line.isdigit() else (self.where, None)

    def __str__(self) -> str:
        return f"{self.where}: {self.text}"


@dataclass
class CommunityRec:
    """A community; ``street`` None when the file names none (then the community is matched
    by name alone, and a new one goes to the street ``[defaults] street``)."""

    name: str
    street: str | None
    phone: str | None
    where: str
    estates: list[str] | None = None


@dataclass
class GridRec:
    community: str
    code: str
    name: str
    where: str


@dataclass
class BuildingRec:
    """A building by ``number`` (1..BUILDING_MAX), or a lettered one by ``name`` only
    (number None: the importer numbers it)."""

    community: str
    grid: str
    number: int | None
    name: str | None
    where: str
    lat: float | None = None
    lng: float | None = None


@dataclass
class StaffRec:
    community: str
    grid: str | None
    openid: str
    name: str
    role: str
    where: str
    phone: str | None = None
    wecom_userid: str | None = None
    left: bool = False


@dataclass
class PlaceRec:
    community: str
    grid: str
    name: str
    aliases: list[str]
    where: str
    lat: float | None = None
    lng: float | None = None


@dataclass
class DepartmentRec:
    """A department of ``community``, or with ``street_level`` a 街道部门 (no community: it
    serves every community, its name unique among the street-level ones) that the file of
    ``community`` lists."""

    community: str
    name: str
    phone: str | None
    where: str
    members: list[str] = field(default_factory=list)
    """OpenIDs."""
    street_level: bool = False

    @property
    def key(self) -> tuple[str, str]:
        """(community name, or "" for a street-level department; department name)."""
        return ("" if self.street_level else self.community), self.name


@dataclass
class LevelRec:
    """A resident's care level: ``ref`` as ``storage.vulnerability.find_resident`` reads it."""

    community: str
    ref: str
    level: str | None
    where: str


@dataclass
class Parsed:
    """Everything a file says, in file order, and the problems found reading it."""

    communities: list[CommunityRec] = field(default_factory=list)
    grids: list[GridRec] = field(default_factory=list)
    buildings: list[BuildingRec] = field(default_factory=list)
    staff: list[StaffRec] = field(default_factory=list)
    places: list[PlaceRec] = field(default_factory=list)
    departments: list[DepartmentRec] = field(default_factory=list)
    levels: list[LevelRec] = field(default_factory=list)
    building_specs: set[tuple[str, str]] = field(default_factory=set)
    """(community, grid code) of grids whose file entry lists buildings (valid or not)."""
    services: dict[str, Any] | None = None
    """The YAML document when it has stations/programmes (``storage.services_import``)."""
    problems: list[Problem] = field(default_factory=list)

    def problem(self, where: str, key: str, **fields: object) -> None:
        """Note a problem of kind ``key`` (PROBLEMS) at ``where``."""
        self.problems.append(Problem(where, key, fields))

    @property
    def size(self) -> int:
        """Records in all (the unit of the progress bar)."""
        return (len(self.grids) + len(self.buildings) + len(self.staff) + len(self.places)
                + len(self.departments) + len(self.levels))


def parse(text: str, name: str, suffix: str) -> Parsed:
    """Records of the file ``name`` (``suffix`` ".csv", else YAML). Raises ImportFormatError
    for a file that is not YAML/CSV, or not the expected shape at its top."""
    return _csv(text, name) if suffix == ".csv" else _yaml(text, name)


# ------------------------------------------------------------------------------- values
def buildings(spec: Any, community: str, grid: str, where: str, out: Parsed) -> None:
    """Append the buildings of a grid's ``buildings`` spec to ``out.buildings``: numbers,
    ranges ("3-5"), ";"-separated text, lettered names (「A栋」), and mappings
    ``{number: 7, lat: …, lng: …}``, ``{number: 101, name: A栋}``, ``{label: A栋}``."""
    items = spec if isinstance(spec, list) else str(spec).replace("；", ";").split(";")
    if any(str(item).strip() for item in items):
        out.building_specs.add((community, grid))
    lines = getattr(spec, "lines", [])
    for i, item in enumerate(items):
        if i < len(lines):
            where = f"{where.split(' line ')[0]} line {lines[i]}"
        if isinstance(item, dict):
            _building_map(item, community, grid, where, out)
            continue
        text = str(item).strip()
        if not text:
            continue
        if _LABEL.fullmatch(text) and not text[0].isdigit():
            out.buildings.append(BuildingRec(community, grid, None, text, where))
            continue
        numbers = numbers_of(text)
        if numbers is None:
            out.problem(where, "bad_building", value=_quote(item), max=BUILDING_MAX)
        for number in numbers or ():
            out.buildings.append(BuildingRec(community, grid, number, None, where))


def numbers_of(text: str) -> list[int] | None:
    """"7", "7号楼", "3-5" → building numbers (1..BUILDING_MAX, a range of at most 501), or
    None when ``text`` is none of these."""
    text = _NUMBER_SUFFIX.sub("", text.strip())
    try:
        lo, hi = (int(x) for x in text.split("-", 1)) if "-" in text else (int(text),) * 2
    except ValueError:
        return None
    if lo < 1 or hi < lo or hi > BUILDING_MAX or hi - lo > 500:
        return None
    return list(range(lo, hi + 1))


def _building_map(item: dict, community: str, grid: str, where: str, out: Parsed) -> None:
    label = str(item.get("label") or item.get("name") or "").strip() or None
    number = None
    if item.get("number") is not None:
        found = numbers_of(str(item["number"]))
        if found is None or len(found) != 1:
            out.problem(where, "bad_building_number", value=_quote(item["number"]),
                        max=BUILDING_MAX)
            return
        number = found[0]
    elif label is None:
        out.problem(where, "building_needs_number", value=_quote(item))
        return
    lat, lng = coordinates(item, where, out)
    out.buildings.append(BuildingRec(community, grid, number, label, where, lat, lng))


def coordinates(spec: dict, where: str, out: Parsed) -> tuple[float | None, float | None]:
    """(lat, lng) in WGS-84 degrees of a mapping, (None, None) when it has neither; a problem
    for anything else."""
    if spec.get("lat") is None and spec.get("lng") is None:
        return None, None
    try:
        lat, lng = float(spec["lat"]), float(spec["lng"])
    except (KeyError, TypeError, ValueError):
        out.problem(where, "bad_coordinates", lat=_quote(spec.get("lat")),
                    lng=_quote(spec.get("lng")))
        return None, None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        out.problem(where, "off_earth", lat=lat, lng=lng)
        return None, None
    return lat, lng


def phone(value: Any, where: str, out: Parsed) -> str | None:
    """The checked phone number, None when empty; a problem when it is not one."""
    if value is None or str(value).strip() == "":
        return None
    try:
        return phones.normalise(str(value))
    except ValueError:
        out.problem(where, "bad_phone", value=_quote(str(value)))
        return None


def staff(spec: Any, community: str, grid: str | None, where: str, out: Parsed,
          default_role: str = Role.GRID_WORKER) -> StaffRec | None:
    """A staff record from ``{name, openid, phone, role, wecom_userid, left}``; problems for
    a missing name/OpenID, an unknown role, a bad phone or ``left`` value."""
    if not isinstance(spec, dict):
        out.problem(where, "not_staff", value=_quote(spec))
        return None
    name, openid = str(spec.get("name") or "").strip(), str(spec.get("openid") or "").strip()
    if not name or not openid:
        out.problem(where, "staff_needs_name")
        return None
    written = str(spec.get("role") or "").strip()
    role = ROLE_NAMES.get(written) or ROLE_NAMES.get(written.lower()) if written else default_role
    if role is None:
        out.problem(where, "unknown_role", value=_quote(written),
                    roles=", ".join(dict.fromkeys([*WORDS["roles"], *Role.ALL])))
        role = default_role
    left = str(spec.get("left") if spec.get("left") is not None else "").strip().lower()
    if left not in WORDS["left"]["yes"] + WORDS["left"]["no"]:
        out.problem(where, "bad_left", value=_quote(spec.get("left")))
    return StaffRec(community, grid, openid, name, role, where,
                    phone=phone(spec.get("phone"), where, out),
                    wecom_userid=str(spec.get("wecom_userid") or "").strip() or None,
                    left=left in WORDS["left"]["yes"])


def department_scope(value: Any, where: str, out: Parsed) -> bool:
    """Whether a department's ``scope`` (YAML) / ``department_scope`` (CSV) makes it a
    street-level one (街道/street); empty or 社区/community: the file's community. A problem
    for anything else (then: the community)."""
    text = str(value if value is not None else "").strip().lower()
    if text in WORDS["department_scope"]["street"]:
        return True
    if text not in WORDS["department_scope"]["community"]:
        out.problem(where, "bad_department_scope", value=_quote(value))
    return False


def level(spec: Any, community: str, where: str, out: Parsed) -> None:
    """A ``{resident, level}`` entry (resident: OpenID, phone tail or "3-2-501")."""
    if not isinstance(spec, dict) or not str(spec.get("resident") or "").strip():
        out.problem(where, "not_level", value=_quote(spec))
        return
    try:
        value = parse_level(str(spec.get("level") or ""))
    except BadLevel as exc:
        out.problem(where, "bad_level", value=_quote(exc.text))
        return
    out.levels.append(LevelRec(community, str(spec["resident"]).strip(), value, where))


# ------------------------------------------------------------------------------- YAML
class _LineList(list):
    """A YAML sequence that knows the line of each item (1-based)."""

    lines: list[int] = []


class _LineLoader(_YAML_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader whose sequences are ``_LineList`` (each item's line)."""


def _construct_seq(loader: Any, node: yaml.SequenceNode) -> Any:
    data = _LineList()
    data.lines = [item.start_mark.line + 1 for item in node.value]
    yield data
    data.extend(loader.construct_sequence(node))


_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _check_yaml_events(text: str, name: str) -> None:
    """Refuse aliases and deep nesting by scanning the parser's events, before anything is
    composed (libyaml composes aliases in C, where no hook can stop the expansion)."""
    depth = 0
    for event in yaml.parse(text, Loader=_YAML_LOADER):
        line = event.start_mark.line + 1 if event.start_mark else "?"
        if isinstance(event, yaml.AliasEvent):
            anchor = _quote(event.anchor)[1:-1]
            raise ImportFormatError(
                f"{name} line {line}: YAML aliases (*{anchor}) are not "
                f"allowed in an import file; write the value out", "alias", file=name,
                line=line, anchor=anchor)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise ImportFormatError(f"{name} line {line}: nested deeper than "
                                        f"{MAX_YAML_DEPTH} levels", "too_deep", file=name,
                                        line=line, max=MAX_YAML_DEPTH)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _yaml(text: str, name: str) -> Parsed:
    try:
        _check_yaml_events(text, name)
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ImportFormatError(f"{name}{line}: not valid YAML ({problem})", "not_yaml",
                                file=name, line=mark.line + 1 if mark else None,
                                problem=problem) from None
    if not isinstance(doc, dict) or not doc.get("community"):
        raise ImportFormatError(f"{name}: expected a mapping with 'street', 'community' and 'grids'",
                                "not_mapping", file=name, line=None)
    out = Parsed()
    top = f"{name} line 1"
    community = str(doc["community"]).strip()
    estates = doc.get("estates")
    if estates is not None and not isinstance(estates, list):
        out.problem(top, "bad_estates", value=_quote(estates))
        estates = None
    out.communities.append(CommunityRec(
        community, str(doc.get("street") or "").strip() or None, phone(doc.get("phone"), top, out),
        top, [str(e).strip() for e in estates if str(e).strip()] if estates is not None else None))
    for g, where in _list(doc, "grids", top, out):
        if not isinstance(g, dict) or not str(g.get("code") or "").strip():
            out.problem(where, "grid_needs_code")
            continue
        code = str(g["code"]).strip()
        out.grids.append(GridRec(community, code, str(g.get("name") or "").strip(), where))
        buildings(g.get("buildings") or [], community, code, where, out)
        for w, at in _list(g, "workers", where, out):
            if rec := staff(w, community, code, at, out):
                out.staff.append(rec)
    for p, at in _list(doc, "places", top, out):
        _place(p, community, at, out)
    for w, at in _list(doc, "staff", top, out):
        if rec := staff(w, community, None, at, out):
            out.staff.append(rec)
    for d, where in _list(doc, "departments", top, out):
        if not isinstance(d, dict) or not str(d.get("name") or "").strip():
            out.problem(where, "department_needs_name")
            continue
        dept = DepartmentRec(community, str(d["name"]).strip(), phone(d.get("phone"), where, out),
                             where, street_level=department_scope(d.get("scope"), where, out))
        out.departments.append(dept)
        for m, at in _list(d, "members", where, out):
            if rec := staff(m, community, None, at, out, Role.DEPARTMENT):
                out.staff.append(rec)
                dept.members.append(rec.openid)
    for r, at in _list(doc, "residents", top, out):
        level(r, community, at, out)
    if doc.get("stations") or doc.get("programmes"):
        out.services = doc
    return out


def _list(doc: dict, key: str, where: str, out: Parsed) -> list[tuple[Any, str]]:
    """(item, "<file> line N") of the list ``doc[key]``; a problem when it is no list."""
    value = doc.get(key) or []
    if not isinstance(value, list):
        out.problem(where, "not_list", key=key, value=_quote(value))
        return []
    lines = getattr(value, "lines", [])
    file = where.split(" line ")[0]
    return [(item, f"{file} line {lines[i]}" if i < len(lines) else where)
            for i, item in enumerate(value)]


def _place(spec: Any, community: str, where: str, out: Parsed) -> None:
    if not isinstance(spec, dict) or not spec.get("name") or not spec.get("grid"):
        out.problem(where, "place_needs_grid", value=_quote(spec))
        return
    aliases = spec.get("aliases") or []
    if not isinstance(aliases, list):
        aliases = str(aliases).replace("，", ",").split(",")
    name = str(spec["name"]).strip()
    lat, lng = coordinates(spec, where, out)
    out.places.append(PlaceRec(community, str(spec["grid"]).strip(), name,
                               list(dict.fromkeys(a for a in (str(x).strip() for x in aliases)
                                                  if a and a != name)), where, lat, lng))


# ------------------------------------------------------------------------------- CSV
CSV_COLUMNS = ("street", "community", "grid_code", "grid_name", "buildings", "name", "openid",
               "phone", "role")
"""The usual columns; optional: department, department_scope, places, wecom_userid, left,
resident, level."""


def _csv(text: str, name: str) -> Parsed:
    out = Parsed()
    reader = csv.DictReader(text.splitlines())
    communities: dict[str, CommunityRec] = {}
    grids: set[tuple[str, str]] = set()
    departments: dict[tuple[str, str], DepartmentRec] = {}
    try:
        missing = [c for c in ("community", "grid_code") if c not in (reader.fieldnames or [])]
        if missing:
            raise ImportFormatError(f"{name} line 1: missing column(s) {', '.join(missing)}",
                                    "missing_columns", file=name, line=1,
                                    columns=", ".join(missing))
        for raw in reader:
            where = f"{name} line {reader.line_num}"
            row = {k: (v or "").strip() for k, v in raw.items() if k}
            community = row.get("community", "")
            if not community:
                out.problem(where, "community_empty")
                continue
            if community not in communities:
                communities[community] = CommunityRec(community, row.get("street") or None,
                                                      None, where)
                out.communities.append(communities[community])
            code = row.get("grid_code", "")
            if code and (community, code) not in grids:
                grids.add((community, code))
                out.grids.append(GridRec(community, code, row.get("grid_name", ""), where))
            if code:
                buildings(row.get("buildings", ""), community, code, where, out)
                for spec in _csv_places(row.get("places", ""), code):
                    _place(spec, community, where, out)
            elif row.get("buildings") or row.get("places"):
                out.problem(where, "needs_grid_code")
            if row.get("name") or row.get("openid"):
                spec = dict(row)
                department = row.get("department")
                rec = staff(spec, community, code or None, where, out,
                            Role.DEPARTMENT if department else Role.GRID_WORKER)
                if rec:
                    out.staff.append(rec)
                    if department:
                        street_level = department_scope(row.get("department_scope"), where, out)
                        key = ("" if street_level else community, department)
                        if key not in departments:
                            departments[key] = DepartmentRec(community, department, None, where,
                                                             street_level=street_level)
                            out.departments.append(departments[key])
                        departments[key].members.append(rec.openid)
            if row.get("resident"):
                level(row, community, where, out)
    except csv.Error as exc:
        raise ImportFormatError(f"{name} line {reader.line_num + 1}: not valid CSV ({exc})",
                                "not_csv", file=name, line=reader.line_num + 1,
                                problem=str(exc)) from None
    return out


def _csv_places(cell: str, grid_code: str) -> list[dict[str, Any]]:
    """「东门=东大门/东侧门;健身区」 → place specs of the grid ``grid_code``."""
    specs = []
    for item in cell.replace("；", ";").split(";"):
        place, _, aliases = item.partition("=")
        if place.strip():
            specs.append({"name": place.strip(), "grid": grid_code,
                          "aliases": [a for a in aliases.split("/") if a.strip()]})
    return specs
