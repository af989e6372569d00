"""Configuration pages over HTTP: the organisation within one's communities, and the import
with its dry run — every problem listed and nothing changed, the confirmation importing
exactly the checked text, a wrong token refused, a grid worker refused, community staff
kept to their own community."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, func, select

from bot.demo import COMMUNITY_FILE, MORE_COMMUNITY_FILES, SERVICES_FILE
from storage.accounts import AuditEntry
from storage.db import session_scope
from storage.importer import import_file
from storage.lending import Station
from storage.models import Building, Grid, GridWorker, Place
from tests.console.conftest import login, post

TOKEN = re.compile(r'name="token" value="([0-9a-f]{64})"')
NEW_GRID = """\
street: 和平街道
community: 幸福新社区
grids:
  - code: G04
    name: 第四网格
    buildings: [13, 14]
    workers:
      - {name: 新网格员, openid: worker-g4, phone: "13800000004"}
"""
BAD = """\
street: 和平街道
community: 幸福新社区
grids:
  - code: G04
    name: 第四网格
    buildings: [13, 14]
    workers:
      - {name: 新网格员, openid: worker-g4, phone: "1390000abc"}
      - {name: 另一位, openid: worker-g5, role: 保安}
  - code: G05
    buildings: [14]
"""


def _counts(engine) -> tuple[int, ...]:
    with Session(engine) as s:
        return tuple(s.exec(select(func.count()).select_from(m)).one()
                     for m in (Grid, Building, GridWorker, Place, Station))


def _audit(engine) -> list[tuple[str, dict]]:
    with Session(engine) as s:
        return [(a.action, a.detail) for a in s.exec(select(AuditEntry).order_by(AuditEntry.id))
                if a.action.startswith("config.")]


def _check(console, text: str, **form):
    return post(console, "/console/config/import/check", {"text": text, **form})


@pytest.fixture
def street(community):
    """The demo's 街道: 幸福新社区 (with its station and programmes), 阳光社区, 和谐社区."""
    with session_scope(community) as session:
        for path in (SERVICES_FILE, *MORE_COMMUNITY_FILES):
            import_file(session, path)
    return community


def test_overview_shows_the_own_community(console, street):
    login(console, "admin-1")
    page = console.get("/console/config")
    assert page.status_code == 200
    assert "幸福新社区" in page.text and "阳光社区" not in page.text
    assert "/console/config/import" in page.text
    grids = console.get("/console/config", params={"tab": "grids"}).text
    assert "第一网格" in grids and "1–4号楼" in grids and "王芳" in grids and "周杰" in grids
    staff = console.get("/console/config", params={"tab": "staff"}).text
    assert "138****0001" in staff and "13800000001" not in staff and "网格长" in staff
    assert "陈静" not in staff  # 阳光社区's worker
    stations = console.get("/console/config", params={"tab": "stations"}).text
    assert "幸福新社区便民服务驿站" in stations and "梯子" in stations
    care = console.get("/console/config", params={"tab": "programmes"}).text
    assert "四点半课堂" in care and "常年班" in care and "周一至周五" in care


def test_street_admin_sees_every_community_and_may_narrow(console, street):
    with session_scope(street) as s:
        s.add(GridWorker(openid="street-1", name="街道办", role="street_admin", phone="13800000999"))
    login(console, "street-1")
    page = console.get("/console/config", params={"tab": "grids"}).text
    assert "阳光一网格" in page and "第一网格" in page
    with Session(street) as s:
        yg = s.exec(select(Grid.community_id).where(Grid.name == "阳光一网格")).one()
    narrowed = console.get("/console/config", params={"tab": "grids", "community": yg}).text
    assert "阳光一网格" in narrowed and "第一网格" not in narrowed
    assert f'<option value="{yg}" selected>阳光社区</option>' in narrowed


def test_a_grid_worker_is_refused(console, street):
    login(console, "worker-g1")
    assert console.get("/console/config").status_code == 403
    assert console.get("/console/config/import").status_code == 403
    before = _counts(street)
    assert _check(console, NEW_GRID).status_code == 403
    assert _counts(street) == before


def test_community_admin_may_not_look_at_another_community(console, street):
    login(console, "admin-1")
    with Session(street) as s:
        yg = s.exec(select(Grid.community_id).where(Grid.name == "阳光一网格")).one()
    assert console.get("/console/config", params={"community": yg}).status_code == 403


def test_dry_run_lists_every_problem_and_changes_nothing(console, street):
    login(console, "admin-1")
    before = _counts(street)
    page = _check(console, BAD)
    assert page.status_code == 422
    assert "发现 3 个问题" in page.text
    assert "粘贴内容.yaml 第8行：电话号码 &#39;1390000abc&#39; 不对" in page.text
    assert "粘贴内容.yaml 第9行：不认识的角色" in page.text
    assert "粘贴内容.yaml 第11行：楼栋 14 同时写在两个网格：G04（粘贴内容.yaml 第6行）和 G05" \
        in page.text
    assert TOKEN.search(page.text) is None and "确认导入" not in page.text and "允许调动" not in page.text
    assert _counts(street) == before
    assert _audit(street)[-1][0] == "config.import_check"
    assert _audit(street)[-1][1]["ok"] is False and _audit(street)[-1][1]["problems"] == 3


def test_check_then_apply_imports_exactly_the_checked_text(console, street):
    login(console, "admin-1")
    before = _counts(street)
    page = _check(console, NEW_GRID)
    assert page.status_code == 200, page.text
    assert "检查通过" in page.text and "确认导入" in page.text
    assert re.search(r"<td>网格</td><td>1</td><td>0</td><td>0</td><td>0</td>", page.text)
    assert re.search(r"<td>楼栋</td><td>2</td><td>0</td><td>0</td><td>0</td>", page.text)
    assert _counts(street) == before  # the dry run wrote nothing
    token = TOKEN.search(page.text).group(1)
    done = post(console, "/console/config/import/apply", {"token": token})
    assert done.status_code == 200 and done.url.path == "/console/config"
    assert "已导入 粘贴内容.yaml" in done.text
    after = _counts(street)
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (1, 2, 1)
    action, detail = _audit(street)[-1]
    assert action == "config.import" and detail["created"] == {"grids": 1, "buildings": 2,
                                                                "staff": 1}
    again = post(console, "/console/config/import/apply", {"token": token})
    assert again.status_code == 409  # applied already: the token is spent
    assert _counts(street) == after


def test_a_wrong_token_is_refused(console, street):
    login(console, "admin-1")
    token = TOKEN.search(_check(console, NEW_GRID).text).group(1)
    before = _counts(street)
    forged = "0" * 64
    assert post(console, "/console/config/import/apply", {"token": forged}).status_code == 409
    assert post(console, "/console/config/import/apply", {"token": ""}).status_code == 409
    console.cookies.clear()
    login(console, "leader-g1")  # another member of staff, with no import rights
    assert post(console, "/console/config/import/apply", {"token": token}).status_code == 403
    assert _counts(street) == before


def test_another_admins_token_is_not_theirs(console, street):
    with session_scope(street) as s:
        s.add(GridWorker(openid="street-1", name="街道办", role="street_admin", phone="13800000999"))
    login(console, "admin-1")
    token = TOKEN.search(_check(console, NEW_GRID).text).group(1)
    console.cookies.clear()
    login(console, "street-1")
    before = _counts(street)
    assert post(console, "/console/config/import/apply", {"token": token}).status_code == 409
    assert _counts(street) == before


def test_csrf_is_required(console, street):
    login(console, "admin-1")
    response = console.post("/console/config/import/check", data={"text": NEW_GRID})
    assert response.status_code == 403


def test_community_staff_cannot_import_another_community(console, street):
    login(console, "admin-1")
    before = _counts(street)
    text = MORE_COMMUNITY_FILES[0].read_text(encoding="utf-8")
    page = post(console, "/console/config/import/check", files={
        "file": ("yangguang.yaml", text.encode("utf-8"), "application/x-yaml")})
    assert page.status_code == 422
    assert "社区 阳光社区 不在您的管理范围内" in page.text
    assert "yangguang.yaml 第1行：社区 阳光社区" in page.text
    assert "陈静（yg-worker-g1）是其他社区或街道的工作人员" in page.text
    assert _counts(street) == before


def test_moves_need_allow_moves_and_the_confirmation_keeps_it(console, street):
    login(console, "admin-1")
    text = COMMUNITY_FILE.read_text(encoding="utf-8").replace('buildings: "1-4"', 'buildings: "1-3"').replace(
        'buildings: "5-8"', 'buildings: "4-8"')
    refused = _check(console, text)
    assert refused.status_code == 422 and "4号楼要从网格 G01 调到 G02" in refused.text
    assert "勾选「允许调动」" in refused.text
    checked = _check(console, text, allow_moves="true")
    assert checked.status_code == 200 and "允许调动：是" in checked.text
    assert re.search(r"<td>楼栋</td><td>0</td><td>0</td><td>11</td><td>1</td>", checked.text)
    done = post(console, "/console/config/import/apply",
                {"token": TOKEN.search(checked.text).group(1)})
    assert done.status_code == 200
    with Session(street) as s:
        grid = s.exec(select(Grid.code).join(Building, Building.grid_id == Grid.id).where(
            Building.number == 4, Grid.name == "第二网格")).first()
    assert grid == "G02"


def test_upload_csv_and_unreadable_files(console, street):
    login(console, "admin-1")
    csv = ("street,community,grid_code,grid_name,buildings,name,openid,phone,role\n"
           "和平街道,幸福新社区,G04,第四网格,13-14,新网格员,worker-g4,13800000004,网格员\n")
    page = post(console, "/console/config/import/check", files={
        "file": ("../../网格 表.csv", csv.encode("utf-8-sig"), "text/csv")})
    assert page.status_code == 200 and "网格_表.csv" in page.text
    bad = post(console, "/console/config/import/check", files={
        "file": ("org.yaml", b"community: [\n", "application/x-yaml")})
    assert bad.status_code == 422 and "导入失败" in bad.text
    wrong = post(console, "/console/config/import/check", files={
        "file": ("org.txt", b"x", "text/plain")})
    assert wrong.status_code == 422 and ".yaml" in wrong.text
    empty = _check(console, "   ")
    assert empty.status_code == 422


def test_station_staff_import_stations_only(console, street):
    login(console, "station-1")
    page = console.get("/console/config")
    assert page.status_code == 200 and "驿站" in page.text and "tab=grids" not in page.text
    station = """\
street: 和平街道
community: 幸福新社区
stations:
  - name: 第二驿站
    items:
      - {name: 梯子, count: 1}
"""
    checked = _check(console, station)
    assert checked.status_code == 200 and "驿站 1 个、物品 1 种" in checked.text
    with Session(street) as s:
        assert s.exec(select(Station).where(Station.name == "第二驿站")).first() is None
    post(console, "/console/config/import/apply", {"token": TOKEN.search(checked.text).group(1)})
    with Session(street) as s:
        assert s.exec(select(Station).where(Station.name == "第二驿站")).first() is not None
    assert _check(console, NEW_GRID).status_code == 403  # grids: configure_org


def test_apply_checks_again_and_refuses_what_changed_since(console, street, tmp_path):
    """The confirmation imports the checked text, checked again against the database as it
    is now: building 13 given to G03 meanwhile makes the import a move, refused."""
    login(console, "admin-1")
    token = TOKEN.search(_check(console, NEW_GRID).text).group(1)
    text = COMMUNITY_FILE.read_text(encoding="utf-8").replace('"9-11"', '"9-11", 13')
    path = tmp_path / "org.yaml"
    path.write_text(text, encoding="utf-8")
    with session_scope(street) as s:
        import_file(s, path)
    before = _counts(street)
    page = post(console, "/console/config/import/apply", {"token": token})
    assert page.status_code == 409 and "导入失败" in page.text
    assert "13号楼要从网格 G03 调到 G04" in page.text
    assert _counts(street) == before
    assert [a for a, _ in _audit(street)] == ["config.import_check"]
