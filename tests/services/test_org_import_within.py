"""An import restricted to some communities (``import_org(..., within=ids)``, the console's
import by community staff): a file naming another community, a new community or staff of
another community is refused with every problem of the file, and nothing changes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import func, select

from services.org_import import import_org
from storage.importer import ImportProblems
from storage.models import Building, Community, Grid, GridWorker
from tests.org_support import demo_communities

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
YG = """\
street: 和平街道
community: 阳光社区
grids:
  - code: G01
    name: 阳光一网格
    buildings: "1-3"
    workers:
      - {name: 陈静, openid: yg-worker-g1, phone: "13800000021"}
  - code: G03
    name: 阳光三网格
    buildings: [7, 8]
    workers:
      - {name: 新人, openid: yg-new, phone: "13800000099"}
"""


def _file(tmp_path: Path, text: str, name: str = "org.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _counts(session) -> tuple[int, int, int]:
    return tuple(session.exec(select(func.count()).select_from(m)).one()
                 for m in (Grid, Building, GridWorker))


def test_own_community_imports(session, tmp_path):
    ids = demo_communities(session)
    report = import_org(session, _file(tmp_path, YG), NOW, within={ids["阳光社区"]})
    assert (report.created["grids"], report.created["buildings"], report.created["staff"]) == (
        1, 2, 1)


def test_another_community_is_refused_with_all_problems(session, tmp_path):
    ids = demo_communities(session)
    before = _counts(session)
    bad = YG.replace('phone: "13800000099"', 'phone: "1390000abc"')
    with pytest.raises(ImportProblems) as caught:
        import_org(session, _file(tmp_path, bad), NOW, within={ids["幸福新社区"]})
    keys = [p.key for p in caught.value.problems]
    assert keys == ["outside_community", "outside_staff", "bad_phone"]
    assert caught.value.problems[0].fields == {"community": "阳光社区", "allowed": "幸福新社区"}
    assert caught.value.problems[1].where == "org.yaml line 8"
    assert _counts(session) == before


def test_dry_run_is_refused_too(session, tmp_path):
    ids = demo_communities(session)
    with pytest.raises(ImportProblems) as caught:
        import_org(session, _file(tmp_path, YG), NOW, dry_run=True, within={ids["和谐社区"]})
    assert {p.key for p in caught.value.problems} == {"outside_community", "outside_staff"}


def test_a_new_community_is_outside(session, tmp_path):
    ids = demo_communities(session)
    text = YG.replace("community: 阳光社区", "community: 新社区").replace("yg-worker-g1", "x1")
    before = _counts(session)
    with pytest.raises(ImportProblems) as caught:
        import_org(session, _file(tmp_path, text), NOW, within=set(ids.values()))
    assert [p.key for p in caught.value.problems] == ["outside_community"]
    assert _counts(session) == before
    assert session.exec(select(Community).where(Community.name == "新社区")).first() is None


def test_staff_of_another_community_cannot_be_taken_over(session, tmp_path):
    """A file of one's own community listing another community's worker (a move even with
    allow_moves) is refused: only staff over that community may change them."""
    ids = demo_communities(session)
    text = YG.replace("openid: yg-new", "openid: hx-worker-g1")
    with pytest.raises(ImportProblems) as caught:
        import_org(session, _file(tmp_path, text), NOW, allow_moves=True,
                   within={ids["阳光社区"]})
    assert [p.key for p in caught.value.problems] == ["outside_staff"]
    hx = session.exec(select(GridWorker).where(GridWorker.openid == "hx-worker-g1")).one()
    assert hx.community_id == ids["和谐社区"]


def test_csv_with_two_communities(session, tmp_path):
    ids = demo_communities(session)
    text = ("street,community,grid_code,grid_name,buildings,name,openid,phone,role\n"
            "和平街道,阳光社区,G01,阳光一网格,1-3,陈静,yg-worker-g1,13800000021,网格员\n"
            "和平街道,和谐社区,G01,,1-4,,,,\n")
    with pytest.raises(ImportProblems) as caught:
        import_org(session, _file(tmp_path, text, "org.csv"), NOW, within={ids["阳光社区"]})
    assert [(p.key, p.where) for p in caught.value.problems] == [
        ("outside_community", "org.csv line 3")]
    import_org(session, _file(tmp_path, text, "org.csv"), NOW,
               within={ids["阳光社区"], ids["和谐社区"]})


# ------------------------------------------------------------------- import_by (console)
STATION_ONLY = """\
street: 和平街道
community: {community}
stations:
  - name: 阳光驿站
    items:
      - {{name: 梯子, count: 1}}
"""


def _worker(session, openid: str) -> GridWorker:
    return session.exec(select(GridWorker).where(GridWorker.openid == openid)).one()


def test_import_by_needs_configure_org(session, tmp_path):
    from services.errors import NotAllowed
    from services.org_import import import_by

    demo_communities(session)
    with pytest.raises(NotAllowed):
        import_by(session, _worker(session, "yg-worker-g1"), _file(tmp_path, YG), NOW,
                  dry_run=True)
    report = import_by(session, _worker(session, "yg-admin"), _file(tmp_path, YG), NOW)
    assert report.created["grids"] == 1
    with pytest.raises(ImportProblems):
        import_by(session, _worker(session, "admin-1"), _file(tmp_path, YG), NOW)


def test_street_admin_imports_any_community(session, tmp_path):
    from services.org_import import import_by, within_of

    demo_communities(session)
    admin = GridWorker(openid="street-1", name="街道办", role="street_admin")
    session.add(admin)
    session.flush()
    assert within_of(session, admin) is None
    report = import_by(session, admin, _file(tmp_path, YG), NOW, dry_run=True)
    assert (report.dry_run, report.created["grids"]) == (True, 1)


def test_station_staff_import_stations_of_their_community_only(session, tmp_path):
    from services.errors import NotAllowed
    from services.org_import import import_by
    from storage.lending import Station

    ids = demo_communities(session)
    keeper = _worker(session, "station-1")  # 幸福新社区
    report = import_by(session, keeper, _file(tmp_path, STATION_ONLY.format(community="幸福新社区")),
                       NOW)
    assert report.notes == ["ServicesReport(stations=1, items=1, programmes=0, sessions=0, "
                            "notes=[])"]
    assert session.exec(select(Station).where(Station.name == "阳光驿站")).one().community_id == \
        ids["幸福新社区"]
    with pytest.raises(ImportProblems) as caught:
        import_by(session, keeper, _file(tmp_path, STATION_ONLY.format(community="阳光社区")), NOW)
    assert [p.key for p in caught.value.problems] == ["outside_community"]
    with pytest.raises(NotAllowed):  # grids are the organisation: configure_org
        import_by(session, keeper, _file(tmp_path, YG), NOW, dry_run=True)


def test_street_level_departments_are_the_streets(session, tmp_path):
    """A community's file may add its staff to a 街道部门 as it is, not create one or change
    its phone."""
    from storage.models import Department

    ids = demo_communities(session)
    session.add(Department(name="城管", community_id=None, phone="024-11110000"))
    session.commit()
    mine = {ids["阳光社区"]}
    base = YG + "departments:\n  - {name: 城管, scope: 街道, members: [{name: 小城, openid: yg-cg}]}\n"
    report = import_org(session, _file(tmp_path, base), NOW, dry_run=True, within=mine)
    assert report.created["members"] == 1
    phone = base.replace("scope: 街道,", "scope: 街道, phone: 024-22220000,")
    new = base.replace("城管", "环卫")
    for text in (phone, new):
        with pytest.raises(ImportProblems) as caught:
            import_org(session, _file(tmp_path, text), NOW, within=mine)
        assert [(p.key, p.where) for p in caught.value.problems] == [
            ("outside_department", "org.yaml line 15")]
    assert import_org(session, _file(tmp_path, new), NOW, dry_run=True).created["departments"] == 1
