"""The ticket page and its actions over HTTP: what the page shows, a ticket from report to
办结 in the browser's requests, each action's push, audit entry and confirmation, and the
errors as pages."""

from __future__ import annotations

from sqlmodel import Session, select

from services import notify, tickets
from storage.accounts import AuditEntry
from storage.models import Department, Grid, Outbox, Resident, Ticket, TicketEvent, TicketStatus
from tests.chat import START
from tests.console.conftest import login, post
from tests.staff_support import building, report, staff, street_fixture  # noqa: F401

S = TicketStatus


def one(street, **kw) -> str:
    with Session(street) as s:
        number = report(s, 2, **kw).number
        s.commit()
    return number


def ticket(street, number: str) -> Ticket:
    with Session(street) as s:
        return s.exec(select(Ticket).where(Ticket.number == number)).one()


def audits(street, action: str) -> list[AuditEntry]:
    with Session(street) as s:
        return list(s.exec(select(AuditEntry).where(AuditEntry.action == action)))


def pushes(street, number: str, event: str | None = None) -> list[Outbox]:
    with Session(street) as s:
        query = select(Outbox).join(Ticket, Ticket.id == Outbox.ticket_id).where(
            Ticket.number == number)
        if event:
            query = query.where(Outbox.event == event)
        return list(s.exec(query.order_by(Outbox.id)))


def test_the_page_shows_the_ticket_its_timeline_photos_and_place(street, console):
    with Session(street) as s:
        home = building(s, 3)
        resident = Resident(openid="o-page", building_id=home.id, unit=2, room="501",
                            phone="13712345678")
        s.add(resident)
        s.flush()
        number = tickets.open_ticket(
            s, tickets.Reporter.of(resident),
            tickets.NewTicket(kind="repair", category="楼道灯", description="三号楼楼道灯不亮",
                              photos=("http://mmbiz.qpic.cn/light.jpg",)), START).number
        s.commit()
    login(console, "admin-1")
    page = console.get(f"/console/tickets/{number}")
    assert page.status_code == 200
    text = page.text
    assert "三号楼楼道灯不亮" in text and "3号楼2单元501" in text
    assert "137****5678" in text and "13712345678" not in text  # the phone, masked
    assert '<img src="http://mmbiz.qpic.cn/light.jpg"' in text
    assert '<li class="here" aria-current="location">3号楼</li>' in text  # on G01's list
    assert "提交工单" in text and "推送给王芳" in text and "待发送" in text  # step and push
    for action in ("assign", "resolve", "message", "note", "transfer", "call_in", "reject"):
        assert f"/console/tickets/{number}/{action}" in text, action
    assert f"/console/tickets/{number}/accept" not in text  # 王芳's to take
    login(console, "worker-g1")
    mine = console.get(f"/console/tickets/{number}").text
    assert f"/console/tickets/{number}/accept" in mine
    assert f"/console/tickets/{number}/assign" not in mine  # workers do not assign


def test_from_report_to_resolved_over_http(street, console):
    number = one(street)
    with Session(street) as s:
        g2 = staff(s, "worker-g2")
    login(console, "leader-g1")
    done = post(console, f"/console/tickets/{number}/assign", {"to": str(g2.id)})
    assert done.status_code == 200 and "已派单给李强" in done.text
    assert done.url.path == "/console/"  # now in G02: out of the leader's sight
    assert ticket(street, number).assignee_id == g2.id
    assert [p.openid for p in pushes(street, number, "task_assigned")][-1] == "worker-g2"
    login(console, "worker-g2")
    assert "已接单" in post(console, f"/console/tickets/{number}/accept").text
    assert ticket(street, number).status == S.ACCEPTED
    assert "已记入民情日记" in post(console, f"/console/tickets/{number}/note",
                                  {"text": "住户白天不在家"}).text
    page = post(console, f"/console/tickets/{number}/resolve", {"note": "已更换灯泡"})
    assert "已办结" in page.text and "已更换灯泡" in page.text
    assert ticket(street, number).status == S.RESOLVED
    assert pushes(street, number, "ticket_resolved")
    actions = [a.action for a in sorted(audits(street, "ticket.assign") + audits(street, "ticket.accept")
                                        + audits(street, "ticket.note")
                                        + audits(street, "ticket.resolve"), key=lambda a: a.id)]
    assert actions == ["ticket.assign", "ticket.accept", "ticket.note", "ticket.resolve"]
    resolve = audits(street, "ticket.resolve")[0]
    assert (resolve.worker_id, resolve.target_kind, resolve.target_id) == (g2.id, "ticket", number)
    assert resolve.detail == {"note": "已更换灯泡"}


def test_a_message_to_the_resident_goes_through_the_outbox(street, console):
    number = one(street)
    login(console, "worker-g1")
    page = post(console, f"/console/tickets/{number}/message", {"text": "明天上午来修"})
    assert "留言已发送给居民" in page.text and "明天上午来修" in page.text  # on the timeline
    sent = pushes(street, number, notify.STAFF_MESSAGE)
    assert len(sent) == 1 and sent[0].recipient_kind == "resident"
    empty = post(console, f"/console/tickets/{number}/message", {"text": " "})
    assert empty.status_code == 422 and "留言不能为空" in empty.text
    assert len(pushes(street, number, notify.STAFF_MESSAGE)) == 1


def test_a_reporter_from_another_door_cannot_be_messaged(street, console):
    with Session(street) as s:
        number = tickets.open_ticket(
            s, tickets.Reporter(name="王女士", phone="13912345678", source="open311:12345"),
            tickets.NewTicket(kind="repair", category="楼道灯", description="灯坏了",
                              building_id=building(s, 3).id), START).number
        s.commit()
    login(console, "admin-1")
    assert f"/console/tickets/{number}/message" not in console.get(f"/console/tickets/{number}").text
    refused = post(console, f"/console/tickets/{number}/message", {"text": "你好"})
    assert refused.status_code == 422


def test_transfer_call_in_and_reject(street, console):
    number = one(street)
    with Session(street) as s:
        wuye = s.exec(select(Department.id).where(Department.name == "物业公司")).one()
        g3 = s.exec(select(Grid.id).where(Grid.code == "G03")).first()
        other = report(s, 3, "小区门口有人摆摊").number
        s.commit()
    login(console, "worker-g1")
    page = post(console, f"/console/tickets/{number}/transfer",
                {"target": f"department:{wuye}", "reason": "公共照明归物业"})
    assert "已转派至物业公司" in page.text
    assert ticket(street, number).department_id == wuye
    login(console, "admin-1")
    page = post(console, f"/console/tickets/{number}/call_in", {"reason": "物业不接"})
    assert "已上报社区" in page.text and ticket(street, number).escalation_level >= 2
    page = post(console, f"/console/tickets/{number}/transfer",
                {"target": f"grid:{g3}", "reason": "属第三网格"})
    assert "已转派至第三网格" in page.text and ticket(street, number).grid_id == g3
    no_reason = post(console, f"/console/tickets/{other}/reject", {"reason": ""})
    assert no_reason.status_code == 422 and "请填写驳回原因" in no_reason.text
    page = post(console, f"/console/tickets/{other}/reject",
                {"reason": "占道经营请拨打12345由城管处理"})
    assert "已驳回" in page.text and ticket(street, other).status == S.REJECTED
    assert pushes(street, other, "ticket_rejected")


def test_errors_are_pages(street, console):
    number = one(street)
    login(console, "admin-1")
    assert console.get("/console/tickets/GD20990101-0001").status_code == 404
    forged = console.post(f"/console/tickets/{number}/accept", data={})  # no CSRF token
    assert forged.status_code == 403 and ticket(street, number).status == S.ASSIGNED
    page = post(console, f"/console/tickets/{number}/resolve", {"note": "好了"})
    assert page.status_code == 200
    again = post(console, f"/console/tickets/{number}/resolve", {"note": "好了"})
    assert again.status_code == 409 and "当前状态不允许此操作" in again.text
    login(console, "yg-admin")
    assert console.get(f"/console/tickets/{number}").status_code == 403
    denied = post(console, f"/console/tickets/{number}/note", {"text": "看看"})
    assert denied.status_code == 403
    with Session(street) as s:
        notes = s.exec(select(TicketEvent).where(TicketEvent.kind == "note")).all()
    assert notes == []
