"""The configuration pages' listings (services.org_view): the organisation, stations and
programmes within a staff member's communities, with counts taken from the rows."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from services import org_view
from storage.care import CareSession, Enrollment, EnrollmentStatus
from storage.lending import LendItem, LendWait, Loan, LoanStatus, WaitStatus
from storage.models import GridWorker, Resident
from tests.org_support import demo_communities

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def test_organisation_of_one_community(session):
    ids = demo_communities(session)
    org = org_view.organisation(session, {ids["幸福新社区"]})
    assert [c.name for c in org.communities] == ["幸福新社区"]
    xf = org.communities[0]
    assert (xf.grids, xf.buildings, xf.phone) == (3, 12, "024-12345678")
    g1 = next(g for g in org.grids if g.code == "G01")
    assert (g1.workers, g1.leaders, g1.building_count) == (["王芳"], ["周杰"], 4)
    assert [(r.first, r.last, r.name) for r in g1.buildings] == [(1, 4, None)]
    assert {b.community for b in org.buildings} == {"幸福新社区"}
    assert [b.number for b in org.buildings] == list(range(1, 13))
    wang = next(s for s in org.staff if s.openid == "worker-g1")
    assert (wang.role, wang.grid_code, wang.phone, wang.has_password) == (
        "grid_worker", "G01", "138****0001", False)
    assert "yg-worker-g1" not in {s.openid for s in org.staff}  # 阳光社区's
    assert {p.name for p in org.places} >= {"正门", "东门"}
    assert next(p for p in org.places if p.name == "东门").grid_code == "G01"
    assert {d.name: d.members for d in org.departments}["物业公司"] == ["孙工"]


def test_all_communities_when_scope_is_none(session):
    demo_communities(session)
    org = org_view.organisation(session, None)
    assert [c.name for c in org.communities] == ["幸福新社区", "阳光社区", "和谐社区"]
    assert len([g for g in org.grids if g.code == "G01"]) == 3
    assert sum(c.buildings for c in org.communities) == len(org.buildings)


def test_inactive_staff_listed_last_and_grid_lists_only_active(session):
    ids = demo_communities(session)
    wang = session.exec(select(GridWorker).where(GridWorker.openid == "worker-g1")).one()
    wang.active = False
    session.add(wang)
    session.commit()
    org = org_view.organisation(session, [ids["幸福新社区"]])
    assert org.staff[-1].openid == "worker-g1" and not org.staff[-1].active
    assert next(g for g in org.grids if g.code == "G01").workers == []


def test_building_ranges_keep_named_buildings_apart():
    def b(number, name=None):
        return org_view.BuildingView(number, 1, "c", number, name or f"{number}号楼", "G01", "",
                                     None, None)
    runs = org_view.building_ranges([b(7), b(1), b(2), b(3), b(101, "A栋"), b(9)])
    assert [(r.first, r.last, r.name) for r in runs] == [
        (1, 3, None), (7, 7, None), (9, 9, None), (101, 101, "A栋")]


def test_stations_with_stock_and_waiting(session):
    ids = demo_communities(session)
    resident = Resident(openid="r1")
    session.add(resident)
    session.flush()
    ladder = session.exec(select(LendItem).where(LendItem.name == "梯子")).one()
    ladder.available = 0
    session.add(ladder)
    session.add(Loan(number="JY1", item_id=ladder.id, resident_id=resident.id, quantity=1,
                     status=LoanStatus.OUT, created_at=NOW))
    session.add(Loan(number="JY2", item_id=ladder.id, resident_id=resident.id, quantity=1,
                     status=LoanStatus.HELD, created_at=NOW))
    session.add(LendWait(item_id=ladder.id, resident_id=resident.id, created_at=NOW,
                         status=WaitStatus.WAITING))
    session.commit()
    [station] = org_view.stations(session, {ids["幸福新社区"]})
    assert station.name == "幸福新社区便民服务驿站" and station.community == "幸福新社区"
    item = next(i for i in station.items if i.name == "梯子")
    assert (item.total, item.available, item.out, item.held, item.waiting) == (2, 0, 1, 1, 1)
    assert org_view.stations(session, {ids["阳光社区"]}) == []


def test_programmes_with_places_and_waiting_list(session):
    ids = demo_communities(session)
    row = session.exec(select(CareSession).where(CareSession.name == "常年班")).one()
    for n, status in enumerate([EnrollmentStatus.ENROLLED, EnrollmentStatus.ENROLLED,
                                EnrollmentStatus.WAITING, EnrollmentStatus.CANCELLED]):
        session.add(Enrollment(number=f"BM{n}", session_id=row.id, child_name="小明",
                               guardian_phone="13800000009", status=status, created_at=NOW))
    session.commit()
    progs = org_view.programmes(session, {ids["幸福新社区"]})
    assert [p.name for p in progs] == ["四点半课堂", "寒假托管"]
    s = progs[0].sessions[0]
    assert (s.capacity, s.enrolled, s.waiting, s.offered) == (30, 2, 1, 0)
    assert (s.weekdays, s.start_time, s.end_time) == ("周一至周五", "16:30", "18:00")
    assert (progs[0].grade_min, progs[0].grade_max) == (1, 6)
    assert org_view.programmes(session, {ids["和谐社区"]}) == []


def test_communities_for_a_picker(session):
    ids = demo_communities(session)
    assert org_view.communities(session, None) == [
        (ids["幸福新社区"], "幸福新社区"), (ids["阳光社区"], "阳光社区"), (ids["和谐社区"], "和谐社区")]
    assert org_view.communities(session, [ids["和谐社区"]]) == [(ids["和谐社区"], "和谐社区")]
