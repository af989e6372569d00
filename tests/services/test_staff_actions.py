"""The staff console's own actions in the business layer: 派单 (services.tickets.assign) and
a message to the reporter (services.notify.message_resident)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from services import handover, notify, permissions, questions, tickets
from services.errors import Invalid, NotAllowed, WrongState
from services.messages import msg
from storage.models import GridWorker, Outbox, Resident, Role, TicketEvent, TicketStatus, TicketTimer
from storage.times import as_utc
from tests.chat import START
from tests.staff_support import building, report, staff, street_fixture  # noqa: F401

S = TicketStatus
LATER = START + timedelta(minutes=30)


def pushes(s: Session, ticket, openid: str | None = None) -> list[Outbox]:
    query = select(Outbox).where(Outbox.ticket_id == ticket.id)
    if openid:
        query = query.where(Outbox.openid == openid)
    return list(s.exec(query.order_by(Outbox.id)))


def events(s: Session, ticket, kind: str) -> list[TicketEvent]:
    return list(s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                 TicketEvent.kind == kind)
                       .order_by(TicketEvent.id)))


def test_a_grid_leader_assigns_to_a_worker_who_must_still_accept(street):
    with Session(street) as s:
        leader, g1 = staff(s, "leader-g1"), staff(s, "worker-g1")
        t = report(s, 2)
        tickets.accept(s, t, g1, START + timedelta(minutes=5))
        due = as_utc(t.resolve_due_at)
        tickets.assign(s, t, leader, leader, LATER)  # the leader takes it over
        assert (t.status, t.assignee_id, t.first_owner_id) == (S.ASSIGNED, leader.id, g1.id)
        assert as_utc(t.resolve_due_at) == due  # the resident's promise does not restart
        step = events(s, t, S.ASSIGNED)[-1]
        assert (step.actor, step.note) == (f"worker:{leader.id}",
                                           msg("assign.note", who=leader.name, to=leader.name))
        assert [p.event for p in pushes(s, t, "worker-g1")] == ["task_assigned",
                                                                  "task_reassigned"]
        told = pushes(s, t, "worker-g1")[-1]  # the previous assignee (and 首问) is told, once
        assert told.text == msg("push.task_reassigned", no=t.number, who=leader.name,
                                to=leader.name)
        assert [p.event for p in pushes(s, t, "leader-g1")] == ["task_assigned"]
        assert "周杰派给您" in pushes(s, t, "leader-g1")[0].text
        assert s.get(TicketTimer, t.id).step is not None  # the timers were replanned
        tickets.accept(s, t, leader, LATER)
        assert t.status == S.ACCEPTED


def test_assigning_to_another_grid_moves_the_ticket_there(street):
    with Session(street) as s:
        admin, g2 = staff(s, "admin-1"), staff(s, "worker-g2")
        t = report(s, 2)  # G01
        tickets.assign(s, t, admin, g2, LATER)
        assert (t.grid_id, t.assignee_id, t.first_owner_id) == (g2.grid_id, g2.id, g2.id)
        assert permissions.allowed(s, g2, "accept", t)
        assert not permissions.allowed(s, staff(s, "worker-g1"), "accept", t)


def test_a_department_ticket_comes_back_by_assignment(street):
    with Session(street) as s:
        admin, g1 = staff(s, "admin-1"), staff(s, "worker-g1")
        t = report(s, 2)
        handover.transfer(s, t, g1, handover.find_target(s, "物业公司"), "公共设施", START)
        tickets.assign(s, t, admin, g1, LATER)
        assert (t.department_id, t.assignee_id, t.status) == (None, g1.id, S.ASSIGNED)


def test_a_waiting_ticket_resumes_its_clock_when_assigned(street):
    with Session(street) as s:
        leader, g1 = staff(s, "leader-g1"), staff(s, "worker-g1")
        t = report(s, 2)
        questions.ask(s, t, g1, "几楼？", START + timedelta(minutes=5))
        before = as_utc(t.resolve_due_at)
        tickets.assign(s, t, leader, leader, START + timedelta(hours=2))
        assert t.paused_at is None and t.paused_s > 0
        assert as_utc(t.resolve_due_at) > before


def test_who_may_assign(street):
    with Session(street) as s:
        t = report(s, 2)  # 幸福新社区 G01, worker-g1
        g1 = staff(s, "worker-g1")
        for openid, may in (("leader-g1", True), ("admin-1", True), ("street-1", True),
                            ("worker-g1", False), ("worker-g2", False), ("yg-admin", False),
                            ("dept-wy", False)):
            assert permissions.allowed(s, staff(s, openid), "assign", t) is may, openid
        with pytest.raises(NotAllowed):
            tickets.assign(s, t, g1, staff(s, "worker-g2"), LATER)  # the assignee may not
        with pytest.raises(NotAllowed):
            tickets.assign(s, t, staff(s, "yg-admin"), staff(s, "yg-worker-g1"), LATER)
        assert t.assignee_id == g1.id and not pushes(s, t, "worker-g2")


def test_whom_a_ticket_may_go_to(street):
    with Session(street) as s:
        admin = staff(s, "admin-1")
        t = report(s, 2)
        for openid in ("yg-worker-g1", "dept-wy"):  # another community; a department member
            with pytest.raises(Invalid):
                tickets.assign(s, t, admin, staff(s, openid), LATER)
        gone = staff(s, "worker-g3")
        gone.active = False
        with pytest.raises(Invalid):
            tickets.assign(s, t, admin, gone, LATER)
        with pytest.raises(WrongState):
            tickets.assign(s, t, admin, staff(s, "worker-g1"), LATER)  # has it already
        about = report(s, 3, "网格员王芳态度很差，推诿不办", kind="complaint", category="服务态度")
        with pytest.raises(Invalid):  # 回避: never to the person complained about
            tickets.assign(s, about, admin, staff(s, "worker-g1"), LATER)
        tickets.resolve(s, t, staff(s, "worker-g1"), "换了灯泡", LATER)
        with pytest.raises(WrongState):
            tickets.assign(s, t, admin, staff(s, "worker-g2"), LATER)


def test_a_staff_message_reaches_the_reporter_through_the_outbox(street):
    with Session(street) as s:
        admin = staff(s, "admin-1")
        t = report(s, 2)
        row = notify.message_resident(s, t, admin, "  明天上午9点师傅上门，请家里留人。 ", LATER)
        s.flush()
        reporter = s.get(Resident, t.resident_id)
        assert (row.recipient_kind, row.recipient_id, row.event) == ("resident", reporter.id,
                                                                     notify.STAFF_MESSAGE)
        assert row.text == msg("push.staff_message", no=t.number, who=admin.name,
                               text="明天上午9点师傅上门，请家里留人。")
        assert row.data["remark"] == "明天上午9点师傅上门，请家里留人。"  # the template fallback
        step = events(s, t, notify.STAFF_MESSAGE)[0]
        assert (step.actor, step.note) == (f"worker:{admin.id}", "明天上午9点师傅上门，请家里留人。")


def test_a_staff_message_is_refused_when_it_cannot_be_sent(street):
    with Session(street) as s:
        admin = staff(s, "admin-1")
        t = report(s, 2)
        for text in ("  ", "字" * (notify.STAFF_MESSAGE_MAX_CHARS + 1)):
            with pytest.raises(Invalid):
                notify.message_resident(s, t, admin, text, LATER)
        with pytest.raises(NotAllowed):
            notify.message_resident(s, t, staff(s, "worker-g2"), "你好", LATER)
        other_door = tickets.open_ticket(
            s, tickets.Reporter(name="王女士", phone="13912345678", source="open311:12345"),
            tickets.NewTicket(kind="repair", category="楼道灯", description="灯坏了",
                              building_id=building(s, 3).id), START)
        with pytest.raises(Invalid):
            notify.message_resident(s, other_door, admin, "你好", LATER)
        assert not s.exec(select(Outbox).where(Outbox.event == notify.STAFF_MESSAGE)).all()


def test_street_admin_acts_everywhere(street):
    with Session(street) as s:
        boss = staff(s, "street-1")
        assert boss.role == Role.STREET_ADMIN
        t = report(s, 2, "阳光门禁坏了", community="阳光社区", category="门禁")
        tickets.assign(s, t, boss, staff(s, "yg-worker-g2"), LATER)
        assert t.assignee_id == staff(s, "yg-worker-g2").id
        assert s.exec(select(GridWorker).where(GridWorker.role == Role.STREET_ADMIN)).one() == boss


def test_the_choices_the_ticket_page_offers(street):
    with Session(street) as s:
        t = report(s, 2)
        names = [w.name for w in tickets.assignable_to(s, t)]
        assert set(names) == {"王芳", "周杰", "李强", "张敏", "赵主任"}  # 幸福新社区's staff only
        assert names[-1] == "赵主任"  # grid staff first, then community staff
        targets = handover.transfer_targets(s, t)
        grids = [x.code for x in targets if hasattr(x, "code")]
        assert grids == ["G02", "G03"]  # the other grids of its community
        assert {x.name for x in targets if not hasattr(x, "code")} >= {"物业公司", "住建"}
        about = report(s, 3, "网格员王芳态度很差，推诿不办", kind="complaint", category="服务态度")
        assert "王芳" not in [w.name for w in tickets.assignable_to(s, about)]


def test_a_rejection_needs_a_reason(street):
    with Session(street) as s:
        t = report(s, 2)
        with pytest.raises(Invalid):
            handover.reject(s, t, staff(s, "worker-g1"), "  ", LATER)
        assert t.status == S.ASSIGNED
