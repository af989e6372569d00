"""Departments scoped to their community (each community its own 物业公司) or to the street
(街道部门 such as 城管, serving every community): 转派 by name finds the ticket's
community's department first, then a street-level one; the 督办 ladder does the same."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.demo import MORE_COMMUNITY_FILES
from services import handover, tickets
from services.errors import NotFound
from storage import org
from storage.importer import import_file
from storage.models import (
    Building,
    Community,
    Department,
    DepartmentMember,
    GridWorker,
    Outbox,
    Role,
    Ticket,
)
from tests.chat import START


@pytest.fixture
def street(community) -> dict[str, int]:
    """The three demo communities; 阳光社区 gets its own 物业公司 (one member), the street a
    城管 (one member). {name: community id}."""
    with Session(community) as s:
        for path in MORE_COMMUNITY_FILES:
            import_file(s, path)
        ids = {c.name: c.id for c in s.exec(select(Community))}
        for name, community_id, openid in (("物业公司", ids["阳光社区"], "yg-dept-wy"),
                                           ("城管", None, "street-cg")):
            dept = Department(name=name, community_id=community_id, phone="024-55556666")
            worker = GridWorker(openid=openid, name=openid, role=Role.DEPARTMENT,
                                community_id=community_id)
            s.add_all([dept, worker])
            s.flush()
            s.add(DepartmentMember(department_id=dept.id, worker_id=worker.id))
        s.commit()
    return ids


def _ticket(s: Session, community_id: int) -> Ticket:
    building = s.exec(select(Building).where(Building.community_id == community_id,
                                             Building.number == 1)).one()
    report = tickets.NewTicket(kind="complaint", category="物业服务", description="垃圾没人清",
                               building_id=building.id)
    return tickets.open_ticket(s, tickets.Reporter(name="王女士", phone="13912345678",
                                                   source="test"), report, START)


def _worker(s: Session, ticket: Ticket) -> GridWorker:
    return s.get(GridWorker, ticket.assignee_id)


def test_transfer_to_物业公司_reaches_the_tickets_own_community(street, community):
    with Session(community) as s:
        for name, members in (("阳光社区", ["yg-dept-wy"]), ("幸福新社区", ["dept-wy"])):
            t = _ticket(s, street[name])
            target = handover.find_target(s, "物业公司", street[name])
            assert (target.name, target.community_id) == ("物业公司", street[name])
            handover.transfer(s, t, _worker(s, t), target, "物业的事", START)
            pushed = [o.openid for o in s.exec(select(Outbox).where(
                Outbox.ticket_id == t.id, Outbox.audience == "worker")) if o.openid in (
                "dept-wy", "yg-dept-wy")]
            assert pushed == members


def test_a_street_level_department_is_found_from_any_community(street, community):
    with Session(community) as s:
        for name in ("幸福新社区", "阳光社区", "和谐社区"):
            found = handover.find_target(s, "城管", street[name])
            assert (found.name, found.community_id) == ("城管", None)
        # 和谐社区 has no 物业公司 of its own and there is no street-level one
        with pytest.raises(NotFound):
            handover.find_target(s, "物业公司", street["和谐社区"])
        assert org.department_by_name(s, "城管") is not None  # no community: the street's
        assert org.department_by_name(s, "物业公司") is None  # two communities have one


def test_a_community_department_comes_before_a_street_level_one_of_the_same_name(street,
                                                                                  community):
    with Session(community) as s:
        s.add(Department(name="城管", community_id=street["和谐社区"]))
        s.flush()
        assert handover.find_target(s, "城管", street["和谐社区"]).community_id == street["和谐社区"]
        assert handover.find_target(s, "城管", street["阳光社区"]).community_id is None


def test_names_are_unique_within_a_community_and_among_street_level_ones(street, community):
    with Session(community) as s:
        s.add(Department(name="物业公司", community_id=street["阳光社区"]))
        with pytest.raises(IntegrityError):
            s.flush()
    with Session(community) as s:
        s.add(Department(name="城管", community_id=None))
        with pytest.raises(IntegrityError):
            s.flush()


def test_the_督办_ladder_reaches_the_category_department_of_the_tickets_community(street,
                                                                                 community):
    from services import escalation
    from storage import sla

    cfg = sla.load()
    with Session(community) as s:
        t = _ticket(s, street["阳光社区"])  # 物业服务: the policy's department, else 物业公司
        name = cfg.policy_named(t.sla_policy).department or "物业公司"
        people, label = escalation._ladder_people(s, t, "department", cfg)
        expected = {"物业公司": ["yg-dept-wy"], "城管": ["street-cg"]}[name]
        assert ([p.openid for p in people], label) == (expected, name)
        t.sla_policy, t.category = None, "物业服务"
        if not cfg.policy_named(None).department:  # the category's own department
            people, label = escalation._ladder_people(s, t, "department", cfg)
            assert ([p.openid for p in people], label) == (["yg-dept-wy"], "物业公司")
