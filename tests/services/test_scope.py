"""Who sees which tickets (services.scope) and which console capabilities each role has
(services.permissions.may), in and out of their community: every role of Role.ALL."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from services.errors import NotAllowed
from services.permissions import CAPABILITIES, may, require_may
from services.scope import community_ids_seen, scope_of, ticket_filter
from storage.lending import Station
from storage.models import Community, Department, DepartmentMember, GridWorker, Role, Ticket
from tests.staff_support import report, staff, street_fixture  # noqa: F401 (fixture)

OTHER_ALL = {"queue": True, "dashboard": False, "export": False, "kept": False,
             "message_resident": True, "assign": False, "configure_org": False,
             "configure_sla": False, "configure_lexicon": False, "configure_lending": False,
             "audit": False}
TABLE = {  # role → capability → has it (within their own community)
    Role.STREET_ADMIN: dict.fromkeys(CAPABILITIES, True),
    Role.COMMUNITY_ADMIN: {**dict.fromkeys(CAPABILITIES, True), "configure_sla": False,
                           "configure_lexicon": False},
    Role.GRID_LEADER: {**OTHER_ALL, "dashboard": True, "export": True, "assign": True},
    Role.GRID_WORKER: OTHER_ALL,
    Role.DEPARTMENT: OTHER_ALL,
    Role.STATION_STAFF: {**dict.fromkeys(CAPABILITIES, False), "configure_lending": True},
}
OPENID = {Role.STREET_ADMIN: "street-1", Role.COMMUNITY_ADMIN: "admin-1",
          Role.GRID_LEADER: "leader-g1", Role.GRID_WORKER: "worker-g1",
          Role.DEPARTMENT: "dept-wy", Role.STATION_STAFF: "station-x"}


def _community(s: Session, name: str) -> int:
    return s.exec(select(Community.id).where(Community.name == name)).one()


@pytest.fixture
def world(street):  # noqa: F811
    """Two communities; a station worker of 幸福新社区; tickets: G01 / G02 of 幸福新社区, G01 of
    阳光社区, one transferred to 物业公司."""
    with Session(street, expire_on_commit=False) as s:
        home = _community(s, "幸福新社区")
        s.add(GridWorker(openid="station-x", name="驿站", role=Role.STATION_STAFF, community_id=home))
        s.add(Station(name="幸福驿站", community_id=home))
        s.add(Station(name="阳光驿站", community_id=_community(s, "阳光社区")))
        t = {"g1": report(s, 1), "g2": report(s, 5, "路灯不亮"),
             "yg": report(s, 1, "井盖丢了", community="阳光社区"),
             "dept": report(s, 9, "电梯坏了")}
        dept = s.exec(select(DepartmentMember.department_id).join(
            GridWorker, GridWorker.id == DepartmentMember.worker_id).where(
            GridWorker.openid == "dept-wy")).first()
        t["dept"].department_id = dept
        s.add(t["dept"])
        s.commit()
        yield s, {k: v.id for k, v in t.items()}


def _seen(s: Session, openid: str) -> set[int]:
    scope = scope_of(s, staff(s, openid))
    return set(s.exec(select(Ticket.id).where(ticket_filter(scope))))


def test_tickets_in_scope_by_role(world):
    s, t = world
    assert _seen(s, "street-1") == set(t.values())
    assert _seen(s, "admin-1") == {t["g1"], t["g2"], t["dept"]}
    assert _seen(s, "yg-admin") == {t["yg"]}
    assert _seen(s, "leader-g1") == {t["g1"]}
    assert _seen(s, "worker-g1") == {t["g1"]}
    assert _seen(s, "worker-g2") == {t["g2"]}
    assert _seen(s, "yg-worker-g1") == {t["yg"]}
    assert _seen(s, "dept-wy") == {t["dept"]}
    assert _seen(s, "dept-zj") == set()
    assert _seen(s, "station-x") == set()


def test_own_tickets_are_always_in_scope_and_inactive_staff_see_nothing(world):
    s, t = world
    worker = staff(s, "worker-g2")
    ticket = s.get(Ticket, t["g1"])
    ticket.assignee_id = worker.id
    s.add(ticket)
    s.flush()
    assert _seen(s, "worker-g2") == {t["g1"], t["g2"]}
    worker.active = False
    s.add(worker)
    s.flush()
    assert _seen(s, "worker-g2") == set()
    assert not may(s, worker, "queue")


def test_stations_in_scope(world):
    s, _ = world
    names = lambda ids: set() if not ids else {st.name for st in s.exec(select(Station))  # noqa: E731
                                               if st.id in ids}
    assert scope_of(s, staff(s, "street-1")).station_ids is None
    assert names(scope_of(s, staff(s, "station-x")).station_ids) == {"幸福驿站"}
    assert names(scope_of(s, staff(s, "admin-1")).station_ids) == {"幸福驿站"}
    assert names(scope_of(s, staff(s, "yg-admin")).station_ids) == {"阳光驿站"}
    assert scope_of(s, staff(s, "worker-g1")).station_ids == frozenset()


def test_communities_seen(world):
    s, _ = world
    home, sun = _community(s, "幸福新社区"), _community(s, "阳光社区")
    assert community_ids_seen(s, scope_of(s, staff(s, "street-1"))) is None
    assert community_ids_seen(s, scope_of(s, staff(s, "admin-1"))) == {home}
    assert community_ids_seen(s, scope_of(s, staff(s, "leader-g1"))) == {home}
    assert community_ids_seen(s, scope_of(s, staff(s, "yg-worker-g1"))) == {sun}


@pytest.mark.parametrize("role", Role.ALL)
def test_capabilities_of_every_role_in_and_out_of_their_community(world, role):
    s, _ = world
    worker = staff(s, OPENID[role])
    assert worker.role == role
    home, sun = _community(s, "幸福新社区"), _community(s, "阳光社区")
    for capability, expected in TABLE[role].items():
        assert may(s, worker, capability) is expected, (role, capability)
        assert may(s, worker, capability, home) is expected, (role, capability, "home")
        elsewhere = expected and role == Role.STREET_ADMIN
        assert may(s, worker, capability, sun) is elsewhere, (role, capability, "elsewhere")
        if not elsewhere:
            with pytest.raises(NotAllowed):
                require_may(s, worker, capability, sun)


def test_the_table_covers_every_role_and_capability():
    assert set(TABLE) == set(Role.ALL)
    assert all(set(row) == set(CAPABILITIES) for row in TABLE.values())


def test_unknown_capability_is_a_programming_error(world):
    s, _ = world
    with pytest.raises(ValueError):
        may(s, staff(s, "admin-1"), "launch_rockets")


def test_a_street_admin_may_act_on_any_ticket(world):
    from services.permissions import allowed

    s, t = world
    admin = staff(s, "street-1")
    assert all(allowed(s, admin, "resolve", s.get(Ticket, i)) for i in t.values())
    assert not allowed(s, staff(s, "yg-admin"), "resolve", s.get(Ticket, t["g1"]))


def test_a_department_of_another_community_sees_only_its_transfers(world):
    s, t = world
    dept = Department(name="阳光物业", community_id=_community(s, "阳光社区"))
    s.add(dept)
    s.flush()
    member = GridWorker(openid="yg-dept", name="物业", role=Role.DEPARTMENT)
    s.add(member)
    s.flush()
    s.add(DepartmentMember(department_id=dept.id, worker_id=member.id))
    s.flush()
    assert _seen(s, "yg-dept") == set()
    ticket = s.get(Ticket, t["yg"])
    ticket.department_id = dept.id
    s.add(ticket)
    s.flush()
    assert _seen(s, "yg-dept") == {t["yg"]}
