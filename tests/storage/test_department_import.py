"""`gridbot import` and departments scoped to their community: two communities each with a
物业公司, a street-level 城管 (scope 街道) shared by every community's file, the problems in
Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from bot.import_report import problem_line
from storage.importer import ImportProblems, import_file
from storage.models import Community, Department, DepartmentMember, GridWorker


def _file(street: str, community: str, grid: str, departments: str) -> str:
    return f"""
street: {street}
community: {community}
grids:
  - code: G01
    buildings: [1, 2]
    workers:
      - {{name: 网格员{grid}, openid: w-{grid}}}
departments:
{departments}
"""


XINGFU = _file("和平街道", "幸福新社区", "xf", """
  - name: 物业公司
    phone: 024-88886666
    members:
      - {name: 孙工, openid: wy-xf}
  - name: 城管
    scope: 街道
    phone: 024-12319000
    members:
      - {name: 城管老李, openid: cg-1}
""")
YANGGUANG = _file("和平街道", "阳光社区", "yg", """
  - name: 物业公司
    phone: 024-77775555
    members:
      - {name: 钱工, openid: wy-yg}
  - name: 城管
    scope: street
    members:
      - {name: 城管小赵, openid: cg-2}
""")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _departments(session) -> dict[tuple[str | None, str], tuple[str | None, list[str]]]:
    names = {c.id: c.name for c in session.exec(select(Community))}
    out = {}
    for d in session.exec(select(Department)):
        members = sorted(w.openid for w in session.exec(
            select(GridWorker).join(DepartmentMember, DepartmentMember.worker_id == GridWorker.id)
            .where(DepartmentMember.department_id == d.id)))
        out[(names.get(d.community_id), d.name)] = (d.phone, members)
    return out


def test_two_communities_each_have_a_物业公司_and_share_the_street_城管(session, tmp_path):
    first = import_file(session, _write(tmp_path, "xf.yaml", XINGFU))
    second = import_file(session, _write(tmp_path, "yg.yaml", YANGGUANG))
    session.commit()
    assert first.created["departments"] == 2
    # 阳光社区's 物业公司 is new; the 城管 is the street's one, already there
    assert (second.created["departments"], second.unchanged["departments"]) == (1, 1)
    assert _departments(session) == {
        ("幸福新社区", "物业公司"): ("024-88886666", ["wy-xf"]),
        ("阳光社区", "物业公司"): ("024-77775555", ["wy-yg"]),
        (None, "城管"): ("024-12319000", ["cg-1", "cg-2"]),
    }
    # importing both again changes nothing
    again = import_file(session, _write(tmp_path, "yg.yaml", YANGGUANG), dry_run=True)
    assert (again.created["departments"], again.unchanged["departments"]) == (0, 2)
    assert again.created["members"] == 0


def test_a_community_and_a_street_department_may_share_a_name_in_one_file(session, tmp_path):
    text = _file("和平街道", "和谐社区", "hx", """
  - {name: 城管, scope: 街道}
  - {name: 城管}
""")
    import_file(session, _write(tmp_path, "hx.yaml", text))
    session.commit()
    assert set(_departments(session)) == {(None, "城管"), ("和谐社区", "城管")}


def test_csv_department_scope_column(session, tmp_path):
    csv = ("street,community,grid_code,grid_name,buildings,name,openid,phone,role,department,"
           "department_scope\n"
           "和平街道,幸福新社区,G01,一网格,1-2,王芳,w1,,,,\n"
           "和平街道,幸福新社区,,,,孙工,wy1,,,物业公司,\n"
           "和平街道,幸福新社区,,,,老李,cg1,,,城管,街道\n")
    import_file(session, _write(tmp_path, "c.csv", csv))
    session.commit()
    assert _departments(session) == {("幸福新社区", "物业公司"): (None, ["wy1"]),
                                      (None, "城管"): (None, ["cg1"])}


def test_a_bad_scope_and_a_duplicate_are_listed_in_chinese(session, tmp_path):
    text = _file("和平街道", "幸福新社区", "xf", """
  - {name: 物业公司}
  - {name: 物业公司}
  - {name: 城管, scope: 区里}
""")
    with pytest.raises(ImportProblems) as caught:
        import_file(session, _write(tmp_path, "bad.yaml", text))
    assert [problem_line(p) for p in caught.value.problems] == [
        "bad.yaml 第12行：部门 物业公司 重复了（第一次在 bad.yaml 第11行）",
        "bad.yaml 第13行：部门的范围（scope）只能写 社区 或 街道，现在是 '区里'",
    ]
    assert session.exec(select(Department)).all() == []
