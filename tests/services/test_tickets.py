"""The business layer called directly, as the console, Open311 and the CLI will call it:
plain arguments in, typed errors out, permissions decided in one place."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from services import duplicates, handover, permissions, tickets
from services.errors import Invalid, NotAllowed, NotFound, WrongState
from services.messages import msg
from storage import Conflict
from storage.models import (
    Building,
    Department,
    GridWorker,
    Outbox,
    Resident,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from tests.chat import START

S = TicketStatus


def staff(s: Session, openid: str) -> GridWorker:
    return s.exec(select(GridWorker).where(GridWorker.openid == openid)).one()


def building(s: Session, number: int) -> Building:
    return s.exec(select(Building).where(Building.number == number)).one()


def resident(s: Session, openid: str, number: int = 2) -> Resident:
    row = Resident(openid=openid, building_id=building(s, number).id, unit=1, room="301",
                   phone="13700000000")
    s.add(row)
    s.flush()
    return row


def repair(s: Session, reporter: tickets.Reporter, number: int = 2, text: str = "楼道灯坏了",
           kind: str = "repair") -> Ticket:
    report = tickets.NewTicket(kind=kind, category="楼道灯", description=text,
                               building_id=building(s, number).id)
    return tickets.open_ticket(s, reporter, report, START)


def pushes(s: Session, ticket: Ticket, openid: str | None = None) -> list[Outbox]:
    query = select(Outbox).where(Outbox.ticket_id == ticket.id)
    if openid is not None:
        query = query.where(Outbox.openid == openid)
    return list(s.exec(query.order_by(Outbox.id)))


def test_a_report_from_another_door_needs_no_wechat_resident(community):
    with Session(community) as s:
        reporter = tickets.Reporter(name="王女士", phone="13912345678", source="open311:12345")
        t = repair(s, reporter, number=3)
        assert (t.resident_id, t.status) == (None, S.ASSIGNED)
        assert t.assignee_id == staff(s, "worker-g1").id  # building 3 is in G01
        assert "13912345678" in pushes(s, t, "worker-g1")[0].text
        submitted = s.exec(select(TicketEvent).where(TicketEvent.ticket_id == t.id,
                                                     TicketEvent.kind == S.SUBMITTED)).one()
        assert submitted.actor == "open311:12345"
        assert msg("reporter.contact", name="王女士", phone="13912345678") in submitted.note
        tickets.resolve(s, t, staff(s, "worker-g1"), "换了灯泡", START + timedelta(hours=1))
        assert all(p.audience == "worker" for p in pushes(s, t))  # no resident to tell


def test_a_wechat_resident_reports_from_home(community):
    with Session(community) as s:
        r = resident(s, "oR1", number=6)
        t = tickets.open_ticket(s, tickets.Reporter.of(r),
                                tickets.NewTicket(kind="repair", category="水管",
                                                  description="厨房水管漏水"), START)
        assert (t.resident_id, t.building_id, t.room) == (r.id, building(s, 6).id, "301")
        assert t.assignee_id == staff(s, "worker-g2").id


def test_a_status_that_forbids_the_change_is_wrong_state(community):
    with Session(community) as s:
        worker = staff(s, "worker-g1")
        t = repair(s, tickets.Reporter.of(resident(s, "oR1")))
        tickets.resolve(s, t, worker, "修好了", START)
        with pytest.raises(WrongState) as caught:
            tickets.accept(s, t, worker, START)
        assert isinstance(caught.value, Conflict)  # doors catching storage's Conflict still do
        with pytest.raises(WrongState):
            handover.call_in(s, t, worker, "需要社区协调", START)


def test_bad_values_are_invalid(community):
    with Session(community) as s:
        r = resident(s, "oR1")
        worker = staff(s, "worker-g1")
        t = repair(s, tickets.Reporter.of(r))
        with pytest.raises(Invalid):
            tickets.resolve(s, t, worker, "  ", START)
        tickets.resolve(s, t, worker, "修好了", START)
        with pytest.raises(Invalid):
            tickets.rate(s, t, r, 7, START)
        with pytest.raises(Invalid):
            tickets.note(s, t, worker, "", START)


def test_staff_act_only_within_their_scope(community):
    with Session(community) as s:
        t = repair(s, tickets.Reporter.of(resident(s, "oR1")))  # G01, worker-g1
        for openid, may in (("worker-g1", True), ("leader-g1", True), ("admin-1", True),
                            ("worker-g2", False), ("dept-wy", False)):
            assert permissions.allowed(s, staff(s, openid), "accept", t) is may, openid
        with pytest.raises(NotAllowed) as caught:
            tickets.accept(s, t, staff(s, "worker-g2"), START)
        assert (caught.value.action, caught.value.number) == ("accept", t.number)
        assert t.status == S.ASSIGNED  # nothing changed
        wy = s.exec(select(Department).where(Department.name == "物业公司")).one()
        handover.transfer(s, t, staff(s, "worker-g1"), wy, "电路归物业", START)
        assert permissions.allowed(s, staff(s, "dept-wy"), "resolve", t)
        tickets.resolve(s, t, staff(s, "dept-wy"), "物业已修", START)
        assert t.status == S.RESOLVED


def test_staff_complained_about_are_recused_whatever_their_role(community):
    with Session(community) as s:
        t = repair(s, tickets.Reporter.of(resident(s, "oR1")), text="网格员王芳态度很差，推诿不办",
                   kind="complaint")
        assert t.assignee_id == staff(s, "leader-g1").id  # one level up
        assert not permissions.allowed(s, staff(s, "worker-g1"), "view", t)
        with pytest.raises(NotAllowed):
            tickets.note(s, t, staff(s, "worker-g1"), "我来解释一下", START)


def test_residents_act_only_on_their_own_tickets(community):
    with Session(community) as s:
        owner, other = resident(s, "oR1"), resident(s, "oR2")
        t = repair(s, tickets.Reporter.of(owner))
        assert not permissions.allowed(s, other, "accept", t)  # no staff action for residents
        assert not permissions.allowed(s, owner, "resolve", t)
        with pytest.raises(NotAllowed):
            tickets.cancel(s, t, other, START)
        with pytest.raises(NotAllowed):
            tickets.urge(s, t, other, "怎么还没修", START)
        assert tickets.urge(s, t, owner, "怎么还没修", START) is True
        assert tickets.urge(s, t, owner, "还没修", START + timedelta(minutes=5)) is False
        tickets.cancel(s, t, owner, START)
        assert t.status == S.CANCELLED
        with pytest.raises(WrongState):
            tickets.urge(s, t, owner, "？", START)


def test_the_system_may_act_and_unknown_actions_are_refused(community):
    with Session(community) as s:
        t = repair(s, tickets.Reporter.of(resident(s, "oR1")))
        assert permissions.allowed(s, None, "resolve", t)
        with pytest.raises(ValueError):
            permissions.allowed(s, staff(s, "worker-g1"), "delete", t)


def test_a_note_goes_on_the_timeline_without_pushes(community):
    with Session(community) as s:
        t = repair(s, tickets.Reporter.of(resident(s, "oR1")))
        before = len(pushes(s, t))
        tickets.note(s, t, staff(s, "leader-g1"), "居民家中有老人，上门前先电话", START)
        notes = s.exec(select(TicketEvent.note).where(TicketEvent.ticket_id == t.id,
                                                      TicketEvent.kind == tickets.NOTE)).all()
        assert notes == ["居民家中有老人，上门前先电话"]
        assert len(pushes(s, t)) == before


def test_transfer_targets_are_found_within_the_community(community):
    with Session(community) as s:
        g1 = staff(s, "worker-g1")
        community_id = g1.community_id or s.get(Building, building(s, 1).id).community_id
        assert handover.find_target(s, "g02", community_id).code == "G02"
        assert handover.find_target(s, "第二网格").code == "G02"
        with pytest.raises(NotFound):
            handover.find_target(s, "G02", community_id + 1000)


def test_a_neighbour_follows_an_open_ticket_once(community):
    with Session(community) as s:
        t = repair(s, tickets.Reporter.of(resident(s, "oR1")))
        neighbour = resident(s, "oR2")
        assert duplicates.follow(s, t, neighbour, "我家这层也不亮", START) is True
        assert duplicates.follow(s, t, neighbour, "再说一遍", START) is False
        joined = s.exec(select(TicketEvent).where(TicketEvent.ticket_id == t.id,
                                                  TicketEvent.kind == "joined")).all()
        assert [e.note for e in joined] == ["我家这层也不亮"]
        tickets.resolve(s, t, staff(s, "worker-g1"), "换了灯泡", START)
        assert [p.openid for p in pushes(s, t) if p.event == "ticket_resolved"] == ["oR1", "oR2"]
        with pytest.raises(WrongState):
            duplicates.follow(s, t, resident(s, "oR3"), None, START)


def test_photos_and_a_point_go_on_the_timeline_of_the_reporters_ticket(community):
    with Session(community) as s:
        owner = resident(s, "oR1")
        report = tickets.NewTicket(kind="repair", category="路面", description="路上有个大坑",
                                   photos=("https://img.example/1.jpg",))
        t = tickets.open_ticket(s, tickets.Reporter(source="open311:12345"), report, START)
        t.resident_id = owner.id
        before = len(pushes(s, t))
        tickets.attach(s, t, owner, START, text="坑在东门外", photos=["https://img.example/2.jpg"],
                       point=(41.801, 123.434, "东门"))
        kinds = s.exec(select(TicketEvent.kind, TicketEvent.note)
                       .where(TicketEvent.ticket_id == t.id,
                              TicketEvent.kind.in_(("photo", "supplement", "location")))
                       .order_by(TicketEvent.id)).all()
        assert [k for k, _ in kinds] == ["photo", "supplement", "photo", "location"]
        assert (t.latitude, t.longitude) == (41.801, 123.434)
        assert len(pushes(s, t)) == before  # telling nobody
        with pytest.raises(NotAllowed):
            tickets.attach(s, t, resident(s, "oR2"), START, text="不是我的")
