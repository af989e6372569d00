"""`gridbot import FILE`: staff-written YAML/CSV becomes the organisation, idempotently."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from storage import ImportFormatError
from storage.importer import import_file, parse_buildings
from storage.models import Building, Community, Grid, GridWorker, Role

YAML = """
street: 和平街道
community: 幸福新社区
grids:
  - code: G01
    name: 第一网格
    buildings: [1, 2, "3-4"]
    workers:
      - {name: 王芳, openid: oW1, phone: "13800000001"}
      - {name: 周杰, openid: oL1, role: grid_leader}
staff:
  - {name: 赵敏, openid: oA1, role: community_admin}
"""

CSV = """street,community,grid_code,grid_name,buildings,name,openid,phone,role
和平街道,幸福新社区,G02,第二网格,5-6;8,李强,oW2,13800000002,grid_worker
和平街道,幸福新社区,G03,第三网格,9,,,,
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_then_csv_build_the_hierarchy(session, tmp_path):
    report = import_file(session, _write(tmp_path, "c.yaml", YAML))
    assert (report.streets, report.communities, report.grids, report.buildings, report.workers) == (
        1, 1, 1, 4, 3)
    import_file(session, _write(tmp_path, "c.csv", CSV))
    session.commit()
    assert len(session.exec(select(Community)).all()) == 1
    grids = {g.code: g for g in session.exec(select(Grid))}
    assert set(grids) == {"G01", "G02", "G03"}
    by_number = {b.number: b.grid_id for b in session.exec(select(Building))}
    assert by_number == {1: grids["G01"].id, 2: grids["G01"].id, 3: grids["G01"].id,
                         4: grids["G01"].id, 5: grids["G02"].id, 6: grids["G02"].id,
                         8: grids["G02"].id, 9: grids["G03"].id}
    staff = {w.openid: w for w in session.exec(select(GridWorker))}
    assert staff["oL1"].role == Role.GRID_LEADER and staff["oA1"].grid_id is None
    assert staff["oW2"].grid_id == grids["G02"].id


def test_reimport_updates_instead_of_duplicating(session, tmp_path):
    path = _write(tmp_path, "c.yaml", YAML)
    import_file(session, path)
    moved = YAML.replace('buildings: [1, 2, "3-4"]', "buildings: [1, 2]").replace("王芳", "王芳芳")
    report = import_file(session, _write(tmp_path, "c2.yaml", moved))
    assert (report.grids, report.buildings, report.workers) == (0, 0, 0)
    assert session.exec(select(GridWorker).where(GridWorker.openid == "oW1")).one().name == "王芳芳"


@pytest.mark.parametrize("name, text, fragment", [
    ("bad.yaml", "community: [unclosed", "line"),
    ("bad.yaml", "- just a list", "expected a mapping"),
    ("bad.yaml", "community: 社区\ngrids:\n  - name: 无编号\n", "grids[1]: a grid needs a code"),
    ("bad.yaml", "community: 社区\ngrids:\n  - code: G1\n    buildings: [x]\n", "bad building"),
    ("bad.yaml",
     "community: 社区\ngrids:\n  - code: G1\n    workers:\n      - {name: 甲, openid: o1, role: boss}\n",
     "unknown role 'boss'"),
    ("bad.csv", "street,community\n街道,社区\n", "line 1: missing column(s) grid_code"),
    ("bad.csv", CSV.replace("5-6;8", "5-x"), "bad.csv line 2"),
    ("bad.txt", "whatever", "use a .yaml"),
])
def test_bad_files_name_the_problem(session, tmp_path, name, text, fragment):
    with pytest.raises(ImportFormatError) as err:
        import_file(session, _write(tmp_path, name, text))
    assert fragment in str(err.value)


def test_building_ranges():
    assert parse_buildings("1-3;7号楼", "x") == [1, 2, 3, 7]
    assert parse_buildings([1, "4-5"], "x") == [1, 4, 5]
    with pytest.raises(ImportFormatError):
        parse_buildings("5-1", "x")
