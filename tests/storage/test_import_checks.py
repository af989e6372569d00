"""`gridbot import` never corrupts: every problem of a file is listed with its line and nothing
is written; a real import counts created/updated/unchanged/moved, refuses moves unless asked,
and writes with a few bulk statements whatever the size."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from handlers.location import building_label
from storage import org
from storage.importer import ImportProblems, import_file
from storage.models import Building, Community, Grid, GridWorker, Resident, Street
from tests.conftest import counting

BASE = """\
street: 和平街道
community: 阳光社区
grids:
  - code: G01
    name: 第一网格
    buildings: [1, 2, 3]
    workers:
      - {name: 王芳, openid: oW1, phone: "13800000001"}
      - {name: 李强, openid: oL1, role: 网格长}
  - code: G02
    buildings: "4-5"
    workers:
      - {name: 周杰, openid: oW2, role: 网格员, phone: 024-12345678}
staff:
  - {name: 赵敏, openid: oA1, role: 社区管理员}
departments:
  - name: 物业公司
    members: [{name: 孙工, openid: oD1, role: 部门}]
"""

BAD = """\
street: 和平街道
community: 阳光社区
phone: 12345678901234
grids:
  - code: G01
    buildings: [1, 2, 3]
    workers:
      - {name: 王芳, openid: oW1, phone: 1390000abc}
      - {name: 李强, openid: oL1, role: boss}
  - code: G01
    buildings: [9]
  - code: G02
    buildings: [3, 4]
    workers:
      - {name: 周杰, openid: oW1, role: 网格员}
  - code: G09
    workers:
      - {name: 吴磊, openid: oW9}
places:
  - {name: 东门, grid: G07}
staff:
  - {name: 赵敏, openid: oA1, role: 驿站管理员}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _rows(session: Session) -> tuple[int, ...]:
    return tuple(session.exec(select(func.count()).select_from(m)).one()
                 for m in (Street, Community, Grid, Building, GridWorker))


def test_every_problem_is_listed_with_its_line_and_nothing_changes(session, tmp_path):
    with pytest.raises(ImportProblems) as err:
        import_file(session, _write(tmp_path, "bad.yaml", BAD), dry_run=True)
    assert [str(p) for p in err.value.problems] == [
        "bad.yaml line 1: bad phone number '12345678901234' (a mobile 1xxxxxxxxxx or a landline "
        "like 024-12345678)",
        "bad.yaml line 8: bad phone number '1390000abc' (a mobile 1xxxxxxxxxx or a landline like "
        "024-12345678)",
        "bad.yaml line 9: unknown role 'boss' (one of 网格员, 专职网格员, 网格长, 社区管理员, "
        "社区工作人员, 部门, 部门人员, 驿站管理员, 驿站工作人员, 街道管理员, 街道工作人员, "
        "grid_worker, grid_leader, community_admin, station_staff, department, street_admin)",
        "bad.yaml line 10: duplicate grid code G01 in 阳光社区 (first at bad.yaml line 5)",
        "bad.yaml line 13: building 3 is in two grids: G01 (bad.yaml line 6) and G02",
        "bad.yaml line 15: openid oW1 is listed twice, differently (first at bad.yaml line 8)",
        "bad.yaml line 16: unknown grid G09: not in the database and no buildings in the file "
        "(give its buildings to create it)",
        "bad.yaml line 20: unknown grid 'G07' for place '东门' (grids of 阳光社区: G01, G02, G09)",
    ]
    assert _rows(session) == (0, 0, 0, 0, 0)
    with pytest.raises(ImportProblems):  # a real import refuses the same file, writing nothing
        import_file(session, _write(tmp_path, "bad.yaml", BAD))
    assert _rows(session) == (0, 0, 0, 0, 0)


def test_chinese_role_names_and_counts_of_a_reimport(session, tmp_path):
    path = _write(tmp_path, "c.yaml", BASE)
    dry = import_file(session, path, dry_run=True)
    assert dry.dry_run and _rows(session) == (0, 0, 0, 0, 0)
    report = import_file(session, path)
    assert report.created == dry.created
    assert (report.grids, report.buildings, report.workers, report.departments) == (2, 5, 5, 1)
    roles = dict(session.exec(select(GridWorker.openid, GridWorker.role)).all())
    assert roles == {"oW1": "grid_worker", "oL1": "grid_leader", "oW2": "grid_worker",
                     "oA1": "community_admin", "oD1": "department"}
    again = import_file(session, path)
    assert sum(again.created.values()) == sum(again.updated.values()) == 0
    assert again.unchanged["buildings"] == 5 and again.unchanged["staff"] == 5
    changed = import_file(session, _write(tmp_path, "c2.yaml", BASE.replace("13800000001",
                                                                            "+86 138 0000 0009")))
    assert (changed.updated["staff"], changed.unchanged["staff"]) == (1, 4)
    assert session.exec(select(GridWorker.phone).where(GridWorker.openid == "oW1")).one() == \
        "13800000009"


def test_moves_are_refused_unless_allowed(session, tmp_path):
    import_file(session, _write(tmp_path, "c.yaml", BASE))
    moved = BASE.replace("buildings: [1, 2, 3]", "buildings: [1, 2]").replace(
        'buildings: "4-5"', 'buildings: "3-5"').replace(
        "{name: 周杰, openid: oW2, role: 网格员", "{name: 周杰, openid: oW3, role: 网格员").replace(
        "{name: 王芳, openid: oW1,", "{name: 王芳, openid: oW2,")
    path = _write(tmp_path, "moved.yaml", moved)
    with pytest.raises(ImportProblems) as err:
        import_file(session, path)
    assert [str(p) for p in err.value.problems] == [
        "moved.yaml line 8: 王芳 (oW2) moves to 阳光社区 G01 (a move: run with --allow-moves to "
        "make it)",
        "moved.yaml line 10: building 3号楼 moves from grid G01 to G02 (a move: run with "
        "--allow-moves to make it)"]
    g01, g02 = (session.exec(select(Grid.id).where(Grid.code == c)).one() for c in ("G01", "G02"))
    assert session.exec(select(Building.grid_id).where(Building.number == 3)).one() == g01
    report = import_file(session, path, allow_moves=True)
    assert (report.moved["buildings"], report.moved["staff"]) == (1, 1)
    assert session.exec(select(Building.grid_id).where(Building.number == 3)).one() == g02
    assert [c.from_grid_id for c in report.staff_changes] == [g02]


def test_two_communities_keep_their_own_g01_and_building_1(session, tmp_path):
    import_file(session, _write(tmp_path, "a.yaml", BASE))
    other = BASE.replace("阳光社区", "和谐社区").replace("oW1", "hW1").replace("oL1", "hL1").replace(
        "oW2", "hW2").replace("oA1", "hA1").replace("oD1", "hD1").replace("物业公司", "和谐物业")
    report = import_file(session, _write(tmp_path, "b.yaml", other))
    assert (report.grids, report.buildings, sum(report.moved.values())) == (2, 5, 0)
    by_community = {name: org_id for org_id, name in session.exec(select(Community.id,
                                                                          Community.name))}
    for name, openid in (("阳光社区", "oW1"), ("和谐社区", "hW1")):
        building = org.find_building(session, "1", by_community[name])
        grid = session.get(Grid, building.grid_id)
        worker = session.exec(select(GridWorker).where(GridWorker.openid == openid)).one()
        assert (grid.code, grid.community_id, worker.grid_id) == ("G01", by_community[name],
                                                                  grid.id)


def test_lettered_buildings_are_found_by_their_letter(session, tmp_path):
    text = BASE.replace("buildings: [1, 2, 3]",
                        "buildings: [1, {number: 101, name: A栋}, {label: B座}, C幢]")
    path = _write(tmp_path, "c.yaml", text)
    report = import_file(session, path)
    assert report.buildings == 6
    community = session.exec(select(Community)).one()
    found = {label: org.find_building(session, label, community.id, building_label)  # as the chat reads
             for label in "ABC"}
    assert found["A"].number == 101 and found["A"].name == "A栋"
    assert (found["B"].name, found["C"].name) == ("B座", "C幢")
    assert min(found["B"].number, found["C"].number) > 9999  # out of the numbers residents write
    assert sum(import_file(session, path).created.values()) == 0  # matched by name again


def test_care_levels_of_residents(session, tmp_path):
    import_file(session, _write(tmp_path, "c.yaml", BASE))
    building = session.exec(select(Building).where(Building.number == 3)).one()
    session.add(Resident(openid="oR1", building_id=building.id, unit=2, room="501",
                         phone="13900000001"))
    session.add(Resident(openid="oR2", phone="13900000002"))
    session.flush()
    levels = BASE + ("residents:\n  - {resident: 3-2-501, level: 红色}\n"
                     "  - {resident: '00000002', level: 橙}\n")
    report = import_file(session, _write(tmp_path, "l.yaml", levels))
    assert report.created["levels"] == 0 and report.updated["levels"] == 2
    assert dict(session.exec(select(Resident.openid, Resident.vulnerability)).all()) == {
        "oR1": "红", "oR2": "橙"}
    bad = BASE + "residents:\n  - {resident: 9-9-909, level: 红}\n  - {resident: oR1, level: 紫}\n"
    with pytest.raises(ImportProblems) as err:
        import_file(session, _write(tmp_path, "bad.yaml", bad))
    assert [p.text[:20] for p in err.value.problems] == ["no resident '9-9-909",
                                                        "care level '紫' is no"]


def test_csv_problems_name_their_lines(session, tmp_path):
    text = ("street,community,grid_code,grid_name,buildings,name,openid,phone,role\n"
            "和平街道,阳光社区,G01,第一网格,1-3,王芳,oW1,13800000001,网格员\n"
            "和平街道,阳光社区,G02,第二网格,3;A栋,李强,oL1,1390000abc,网格长\n"
            "和平街道,阳光社区,G03,第三网格,,吴磊,oW3,,保安\n")
    with pytest.raises(ImportProblems) as err:
        import_file(session, _write(tmp_path, "c.csv", text), dry_run=True)
    assert [str(p).split(" (")[0] for p in err.value.problems] == [
        "c.csv line 3: bad phone number '1390000abc'",
        "c.csv line 3: building 3 is in two grids: G01",
        "c.csv line 4: unknown role '保安'",
        "c.csv line 4: unknown grid G03: not in the database and no buildings in the file"]


def test_five_thousand_buildings_take_a_few_bulk_statements(session, tmp_path):
    rows = ["street,community,grid_code,grid_name,buildings,name,openid,phone,role"]
    for g in range(1, 251):  # 250 grids × 20 buildings, a worker and a leader each
        first = (g - 1) * 20 + 1
        rows.append(f"和平街道,大社区,G{g:03d},第{g}网格,{first}-{first + 19},网格员{g},oW{g},"
                    f"1380000{g:04d},网格员")
        rows.append(f"和平街道,大社区,G{g:03d},第{g}网格,,网格长{g},oL{g},,网格长")
    path = _write(tmp_path, "big.csv", "\n".join(rows) + "\n")
    seen: list[tuple[int, int]] = []
    with counting(session.get_bind()) as statements:
        report = import_file(session, path, progress=lambda done, total: seen.append((done, total)))
    assert (report.grids, report.buildings, report.workers) == (250, 5000, 500)
    assert len(statements) < 40, __import__("collections").Counter(s[:50] for s in statements)
    assert seen == sorted(seen) and seen[-1] == (5750, 5750)  # every record, in order
    assert len([done for done, _ in seen if 250 < done < 5250]) >= 4  # buildings in batches
    with counting(session.get_bind()) as statements:
        again = import_file(session, path)
    assert again.unchanged["buildings"] == 5000 and len(statements) < 20


def test_a_csv_repeats_its_grids_buildings_and_places_on_each_row(session, tmp_path):
    text = ("community,grid_code,buildings,places,name,openid,role\n"
            "阳光社区,G01,1-2,东门=东大门,王芳,oW1,网格员\n"
            "阳光社区,G01,1-2,东门=东大门,李强,oL1,网格长\n"
            "阳光社区,G02,3,东门,周杰,oW2,网格员\n")
    with pytest.raises(ImportProblems) as err:
        import_file(session, _write(tmp_path, "c.csv", text))
    assert [str(p) for p in err.value.problems] == [
        "c.csv line 4: place 东门 is given twice, differently (first at c.csv line 2)"]
    report = import_file(session, _write(tmp_path, "c.csv", text.rsplit("\n", 2)[0] + "\n"))
    assert (report.buildings, report.places, report.workers) == (2, 1, 2)
